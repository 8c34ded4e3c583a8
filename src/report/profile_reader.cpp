// report/profile_reader.cpp — profile.json → ProfileFile, every field checked with its JSON path.
#include "report/profile_reader.h"

#include <algorithm>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/checked.h"
#include "core/error.h"
#include "core/input_file.h"
#include "models/registry.h"

namespace vramfit {

namespace {

using nlohmann::json;

// Field access that names the file and the JSON path of whatever is missing or mistyped.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& at, const std::string& what) const {
    throw InvalidInput(fmt::format("{}: {}{}{}", path_, at, at.empty() ? "" : ": ", what));
  }

  const json& field(const json& obj, const std::string& at, const char* key, const char* expected) const {
    if (!obj.is_object()) fail(at, fmt::format("expected an object, found {}", obj.type_name()));
    auto it = obj.find(key);
    if (it == obj.end()) fail(at, fmt::format("missing field '{}' (expected {})", key, expected));
    return *it;
  }
  std::string str(const json& obj, const std::string& at, const char* key) const {
    const json& v = field(obj, at, key, "a string");
    if (!v.is_string()) fail(join(at, key), fmt::format("expected a string, found {}", v.type_name()));
    return v.get<std::string>();
  }
  std::optional<double> opt_number(const json& obj, const std::string& at, const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_number()) fail(join(at, key), fmt::format("expected a number or null, found {}", it->dump()));
    return it->get<double>();
  }
  std::optional<std::string> opt_str(const json& obj, const std::string& at, const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) fail(join(at, key), fmt::format("expected a string or null, found {}", it->type_name()));
    return it->get<std::string>();
  }
  std::uint64_t bytes(const json& obj, const std::string& at, const char* key) const {
    const json& v = field(obj, at, key, "a whole number of bytes");
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
      fail(join(at, key), fmt::format("expected a whole number of bytes ≥ 0, found {}", v.dump()));
    return v.get<std::uint64_t>();
  }
  std::int64_t integer(const json& obj, const std::string& at, const char* key) const {
    const json& v = field(obj, at, key, "an integer");
    if (!v.is_number_integer()) fail(join(at, key), fmt::format("expected an integer, found {}", v.dump()));
    return v.get<std::int64_t>();
  }
  double number(const json& obj, const std::string& at, const char* key) const {
    const json& v = field(obj, at, key, "a number");
    if (!v.is_number()) fail(join(at, key), fmt::format("expected a number, found {}", v.dump()));
    return v.get<double>();
  }
  bool boolean(const json& obj, const std::string& at, const char* key) const {
    const json& v = field(obj, at, key, "true or false");
    if (!v.is_boolean()) fail(join(at, key), fmt::format("expected true or false, found {}", v.dump()));
    return v.get<bool>();
  }
  const json& array(const json& obj, const std::string& at, const char* key) const {
    const json& v = field(obj, at, key, "an array");
    if (!v.is_array()) fail(join(at, key), fmt::format("expected an array, found {}", v.type_name()));
    return v;
  }
  static std::string join(const std::string& at, const std::string& key) { return at.empty() ? key : at + "." + key; }

 private:
  std::string path_;
};

// A row's or measurement's status: the JSON spelling read once into an Outcome. A profile writes ok,
// oom, unsupported or error (limit is the engine's, never a profile's).
Outcome read_status(const Reader& rd, const json& j, const std::string& at) {
  const std::string s = rd.str(j, at, "status");
  const std::optional<Outcome> o = parse_outcome(s);
  if (!o || *o == Outcome::limit) rd.fail(at + ".status", fmt::format("unknown status '{}' (expected ok, oom, unsupported or error)", s));
  return *o;
}

MeasuredPoint read_point(const Reader& rd, const json& m, const std::string& at) {
  MeasuredPoint p;
  p.batch = rd.integer(m, at, "batch");
  if (p.batch < 1 || p.batch > limits::kMaxBatch)
    rd.fail(at + ".batch", fmt::format("must be between 1 and {}, found {}", limits::kMaxBatch, p.batch));
  p.status = read_status(rd, m, at);
  if (auto r = rd.opt_str(m, at, "reason")) p.reason = *r;
  if (p.status != Outcome::ok) return p;
  const json& lat = rd.field(m, at, "latency_ms", "an object with the median");
  p.median_ms = rd.number(lat, at + ".latency_ms", "median");
  if (lat.contains("trusted") && lat["trusted"].is_boolean()) p.timing_trusted = lat["trusted"].get<bool>();
  p.items_per_s = rd.number(m, at, "items_per_s");
  p.process_total_bytes = rd.bytes(rd.field(m, at, "vram_bytes", "an object with process_total"), at + ".vram_bytes", "process_total");
  return p;
}

// What every row, vision or LLM, says of itself: model, precision, status and its reason, the budget;
// and at the end its mark. A model or precision this build does not know is an error naming the row:
// kept as recorded, a typo ("fp99") would show up in the summary as a measured ✅ cell. (A newer
// build's profile with new ids has a newer schema_version, refused above.)
template <class Cell> void read_cell_identity(const Reader& rd, const json& r, const std::string& at, Cell& c) {
  c.model = rd.str(r, at, "model");
  try {
    find_model(c.model);
  } catch (const InvalidInput& e) {
    rd.fail(Reader::join(at, "model"), e.what());
  }
  c.precision_id = rd.str(r, at, "precision");
  try {
    c.precision = parse_precision(c.precision_id);
  } catch (const InvalidInput&) {
    rd.fail(Reader::join(at, "precision"), fmt::format("unknown precision '{}' (expected {})", c.precision_id, precision_ids_joined()));
  }
  c.status = read_status(rd, r, at);
  if (auto s = rd.opt_str(r, at, "reason")) c.reason = *s;
  c.budget_bytes = rd.bytes(r, at, "budget_bytes");
}

template <class Cell> void read_cell_mark(const Reader& rd, const json& r, const std::string& at, Cell& c) {
  c.mark = parse_mark(rd.str(r, at, "mark"));
  if (auto n = rd.opt_str(r, at, "mark_note")) c.mark_note = *n;
}

ProfiledCell read_cell(const Reader& rd, const json& r, const std::string& at) {
  ProfiledCell c;
  read_cell_identity(rd, r, at, c);
  const std::string mat = at + ".max_batch";
  const json& mb = rd.field(r, at, "max_batch", "an object");
  c.predicted = rd.integer(mb, mat, "predicted");
  c.predicted_bytes_at_max = rd.bytes(mb, mat, "predicted_bytes_at_max");
  c.max_batch = rd.integer(mb, mat, "max_batch");
  c.ceiling = rd.integer(mb, mat, "ceiling");
  c.capped = rd.boolean(mb, mat, "capped");
  c.prediction_confirmed = rd.boolean(mb, mat, "prediction_confirmed");
  if (c.max_batch < 0 || c.predicted < 0) rd.fail(mat, "max_batch and predicted must be ≥ 0");
  const json& ms = rd.array(r, at, "measurements");
  for (std::size_t i = 0; i < ms.size(); ++i) c.points.push_back(read_point(rd, ms[i], fmt::format("{}.measurements[{}]", at, i)));
  std::stable_sort(c.points.begin(), c.points.end(), [](const MeasuredPoint& a, const MeasuredPoint& b) { return a.batch < b.batch; });
  const json& fid = rd.field(r, at, "fidelity", "an object or null");
  if (!fid.is_null()) {
    const std::string fat = at + ".fidelity";
    // Any spelling is kept as an error: a fidelity that did not run is reported, never fatal.
    c.fidelity_status = parse_outcome(rd.str(fid, fat, "status")).value_or(Outcome::error);
    if (c.fidelity_status == Outcome::ok) {
      c.relative_l2 = rd.number(fid, fat, "relative_l2");
      if (fid.contains("top1_agreement")) c.top1_agreement = rd.number(fid, fat, "top1_agreement");  // classifiers only
    }
  }
  read_cell_mark(rd, r, at, c);
  return c;
}

ProfiledLlmCell read_llm_cell(const Reader& rd, const json& r, const std::string& at) {
  ProfiledLlmCell c;
  read_cell_identity(rd, r, at, c);
  c.context = rd.integer(r, at, "context");
  c.model_max_context = rd.integer(r, at, "model_max_context");
  c.weights_bytes = rd.bytes(r, at, "weights_bytes");
  c.kv_bytes_per_token = rd.bytes(r, at, "kv_bytes_per_token");
  c.predicted_bytes = rd.bytes(r, at, "predicted_bytes");
  c.max_context = rd.integer(r, at, "max_context_batch1");
  const std::string mat = at + ".max_context";
  const json& mc = rd.field(r, at, "max_context", "an object");
  c.predicted_max_context = rd.integer(mc, mat, "predicted");
  c.capped = rd.boolean(mc, mat, "capped");
  c.prediction_confirmed = rd.boolean(mc, mat, "prediction_confirmed");
  if (c.max_context < 0 || c.predicted_max_context < 0 || c.context < 1) rd.fail(at, "contexts must be ≥ 0 (the speed context ≥ 1)");
  if (auto t = rd.opt_number(r, at, "prefill_tokens")) c.prefill_tokens = static_cast<std::int64_t>(*t);
  c.prefill_tokens_per_s = rd.opt_number(r, at, "prefill_tokens_per_s");
  c.decode_tokens_per_s = rd.opt_number(r, at, "decode_tokens_per_s");
  c.decode_tokens_per_s_max_context = rd.opt_number(r, at, "decode_tokens_per_s_max_context");
  if (auto it = r.find("vram_at_context_bytes"); it != r.end() && !it->is_null()) c.vram_at_context_bytes = rd.bytes(r, at, "vram_at_context_bytes");
  read_cell_mark(rd, r, at, c);
  return c;
}

}  // namespace

const MeasuredPoint* ProfiledCell::at(std::int64_t batch) const {
  for (const auto& p : points)
    if (p.batch == batch) return &p;
  return nullptr;
}

ProfileFile parse_profile(const std::string& text, const std::string& path) {
  const Reader rd(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    const bool truncated = e.byte >= text.size();
    throw InvalidInput(fmt::format("{}: not valid JSON{} at byte {} of {}: {}", path, truncated ? " (truncated: the file ends early)" : "",
                                   e.byte, text.size(), e.what()));
  } catch (const json::exception& e) {  // not syntax: e.g. a number too large for any JSON number type
    throw InvalidInput(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  if (!j.is_object()) rd.fail("", fmt::format("expected a JSON object (a `vramfit profile` result), found {}", j.type_name()));
  ProfileFile f;
  f.path = path;
  // What kind of file is it? A `vramfit run -o json` or `plan --json` is a different schema.
  if (auto it = j.find("command"); it != j.end() && it->is_string() && *it != "profile")
    rd.fail("command", fmt::format("this is a `vramfit {}` result, not a profile; `vramfit report` reads DIR/profile.json written by "
                                   "`vramfit profile`",
                                   it->get<std::string>()));
  const json& sv = rd.field(j, "", "schema_version", "an integer");
  if (!sv.is_number_integer()) rd.fail("schema_version", fmt::format("expected an integer, found {}", sv.dump()));
  f.schema_version = sv.get<int>();
  if (f.schema_version < kOldestReadableProfileSchemaVersion || f.schema_version > kReadableProfileSchemaVersion)
    rd.fail("schema_version", fmt::format("the profile has schema_version {}, this vramfit reads schema_version {} to {} "
                                          "(schema/profile.schema.json); re-run `vramfit profile` with this version or use the "
                                          "vramfit that wrote it",
                                          f.schema_version, kOldestReadableProfileSchemaVersion, kReadableProfileSchemaVersion));
  if (rd.str(j, "", "command") != "profile") rd.fail("command", "expected \"profile\"");
  f.vramfit_version = rd.str(j, "", "vramfit_version");
  f.system_id = rd.str(j, "", "system_id");
  if (f.system_id.empty()) rd.fail("system_id", "must not be empty");
  f.date = rd.str(j, "", "date");
  const json& dev = rd.field(j, "", "device", "an object");
  f.device_name = rd.str(dev, "device", "name");
  f.device_summary = rd.opt_str(dev, "device", "summary").value_or(f.device_name);
  f.compute_capability = rd.opt_str(dev, "device", "compute_capability").value_or("");
  if (dev.contains("total_bytes")) f.device_total_bytes = rd.bytes(dev, "device", "total_bytes");
  f.vram_limit = rd.opt_str(j, "", "vram_limit");
  const json& vlb = rd.field(j, "", "vram_limit_bytes", "bytes or null");
  if (!vlb.is_null()) f.vram_limit_bytes = rd.bytes(j, "", "vram_limit_bytes");
  f.reserve_bytes = rd.bytes(j, "", "reserve_bytes");
  f.budget_bytes = rd.bytes(j, "", "budget_bytes");
  f.context_bytes = rd.bytes(j, "", "context_bytes");
  f.max_batch_ceiling = rd.integer(j, "", "max_batch_ceiling");
  f.quick = rd.boolean(j, "", "quick");
  for (const auto& w : rd.array(j, "", "warnings"))
    if (w.is_string()) f.warnings.push_back(w.get<std::string>());
  const json& results = rd.array(j, "", "results");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const std::string at = fmt::format("results[{}]", i);
    // Version 1 rows have no kind (all vision); version 2 rows name theirs.
    const std::string kind = f.schema_version >= 2 ? rd.str(results[i], at, "kind") : rd.opt_str(results[i], at, "kind").value_or("vision");
    if (kind == "vision") f.cells.push_back(read_cell(rd, results[i], at));
    else if (kind == "llm") f.llm_cells.push_back(read_llm_cell(rd, results[i], at));
    else rd.fail(at + ".kind", fmt::format("unknown kind '{}' (expected vision or llm)", kind));
  }
  return f;
}

ProfileFile read_profile(const std::filesystem::path& file) {
  return parse_profile(read_input_file(file.string(), "profile.json written by `vramfit profile`"), file.string());
}

}  // namespace vramfit
