#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>
#include <map>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/error.h"

namespace vramfit::cli {

std::vector<std::string> split_list(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  for (const auto& r : raw) {
    std::string cur;
    for (char c : r) {
      if (c == ',' || c == ' ') {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) out.push_back(cur);
  }
  return out;
}

std::vector<long long> parse_int_list(const std::vector<std::string>& raw, const std::string& flag, long long max) {
  std::vector<long long> out;
  for (const auto& s : split_list(raw)) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (...) {
      used = 0;
    }
    if (used != s.size() || v < 1)
      throw InvalidInput(fmt::format("{}: '{}' is not a positive integer (expected e.g. {} 1,8,64)", flag, s, flag));
    if (v > max) throw InvalidInput(fmt::format("{}: {} is more than the {} vramfit accepts", flag, s, max));
    out.push_back(v);
  }
  if (!raw.empty() && out.empty()) throw InvalidInput(fmt::format("{}: the list is empty (expected e.g. {} 1,8,64)", flag, flag));
  return out;
}

int main(int argc, char** argv) {
  CLI::App app{"vramfit — which models run on this GPU (and on cards not at hand), at which precision,\n"
               "batch or context, in how much VRAM, and how fast."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("vramfit ") + VRAMFIT_VERSION);
  std::map<const CLI::App*, Runner> runners;
  auto add = [&](Runner (*reg)(CLI::App&)) {
    const std::size_t before = app.get_subcommands({}).size();
    Runner r = reg(app);
    CLI::App* sub = app.get_subcommands({}).at(before);
    reject_empty_values(*sub);
    runners[sub] = std::move(r);
  };
  add(&register_models);
  add(&register_plan);
  add(&register_run);
  add(&register_devices);
  add(&register_profile);
  add(&register_report);
  add(&register_llm);
  add(&register_fleet);
  add(&register_labels);
  try {
    app.parse(argc, argv);
    for (auto* sub : app.get_subcommands())
      if (auto it = runners.find(sub); it != runners.end()) return it->second();
    return 2;
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "vramfit: error: %s\n", e.what());
    // Exit 2 for every bad input: a wrong flag or file (InvalidInput) and a request this build
    // cannot serve (Unsupported: a model_type, a GGUF architecture or dtype it does not implement —
    // commands report an unsupported precision on a GPU as a result, so one that escapes to here
    // is about the input). 1 is left for faults of vramfit or the machine.
    return e.kind() == ErrorKind::InvalidInput || e.kind() == ErrorKind::Unsupported ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vramfit: internal error: %s\n", e.what());
    return 1;
  }
}

}  // namespace vramfit::cli
