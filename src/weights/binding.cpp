// Checkpoint binding by state-dict name. Every problem is collected before throwing, so one run tells
// the user everything that is wrong with a checkpoint (a checkpoint for another model typically has
// dozens of mismatches, and fixing them one error at a time is hopeless).
#include <fmt/format.h>

#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "weights/binding.h"

namespace vramfit {

namespace {

constexpr std::size_t kListedProblems = 10;

// torch's BatchNorm keeps a training counter (num_batches_tracked, I64) in its state dict; it plays
// no part in inference, so it is the one kind of extra key we accept silently.
bool ignorable(std::string_view name) {
  constexpr std::string_view kSuffix = "num_batches_tracked";
  return name.size() >= kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix;
}

}  // namespace

TensorMap bind_checkpoint(const Graph& g, const SafetensorsFile& file) {
  TensorMap weights;
  std::vector<std::string> problems;
  std::size_t missing = 0, misshapen = 0, unreadable = 0, unexpected = 0;
  std::set<std::string_view> wanted;

  for (ValueId id : g.params()) {
    const Value& v = g.value(id);
    wanted.insert(v.name);
    const SafetensorsEntry* e = file.find(v.name);
    if (!e) {
      ++missing;
      problems.push_back(fmt::format("missing {} (graph expects {})", v.name, v.shape.to_string()));
      continue;
    }
    if (e->shape != v.shape) {
      ++misshapen;
      problems.push_back(fmt::format("{}: checkpoint has {} ({} elements), graph expects {} ({} elements)", v.name,
                                     e->shape.to_string(), e->shape.numel(), v.shape.to_string(), v.shape.numel()));
      continue;
    }
    if (e->dtype != "F32" && e->dtype != "F16" && e->dtype != "BF16") {
      ++unreadable;
      problems.push_back(fmt::format("{}: dtype {} is not a float type (F32, F16 or BF16 expected)", v.name, e->dtype));
      continue;
    }
    weights.emplace(v.name, file.read_f32(v.name));
  }
  for (const auto& e : file.entries()) {
    if (wanted.count(e.name) || ignorable(e.name)) continue;
    ++unexpected;
    problems.push_back(fmt::format("unexpected {} {} (not a parameter of graph \"{}\")", e.name,
                                   e.shape.to_string(), g.name()));
  }
  if (problems.empty()) return weights;

  std::string msg = fmt::format("{}: checkpoint does not match graph \"{}\" ({} parameters): {} missing, {} "
                                "misshapen, {} of a non-float dtype, {} unexpected",
                                file.path(), g.name(), wanted.size(), missing, misshapen, unreadable, unexpected);
  for (std::size_t i = 0; i < problems.size() && i < kListedProblems; ++i) msg += "\n  " + problems[i];
  if (problems.size() > kListedProblems) msg += fmt::format("\n  … and {} more", problems.size() - kListedProblems);
  throw InvalidInput(msg);
}

}  // namespace vramfit
