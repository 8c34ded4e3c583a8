#include "predict/calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/checked.h"
#include "core/error.h"
#include "core/input_file.h"
#include "predict/latency.h"

namespace vramfit {

std::string CrossCardCheck::text() const {
  std::vector<std::string> parts;
  auto pct = [](double x) { return fmt::format("{:.0f} %", 100 * x); };
  if (vision_median)
    parts.push_back(fmt::format("vision batch ≥ 8 median {}{}", pct(*vision_median), vision_worst ? " (worst " + pct(*vision_worst) + ")" : ""));
  if (vision_batch1_median) parts.push_back("batch 1 median " + pct(*vision_batch1_median));
  if (llm_median) parts.push_back("LLM tokens/s median " + pct(*llm_median));
  return fmt::format("predicting {}{}: {}", predicted_card, date.empty() ? "" : " (" + date + ")", parts.empty() ? "no rows" : fmt::format("{}", fmt::join(parts, ", ")));
}

std::string Calibration::provenance() const {
  std::vector<std::string> parts;
  if (!driver.empty()) parts.push_back("driver " + driver);
  if (!date.empty()) parts.push_back(date.substr(0, 10));
  if (!commit.empty()) parts.push_back("commit " + commit);
  return parts.empty() ? gpu.name : fmt::format("{} ({})", gpu.name, fmt::join(parts, ", "));
}

void fit_calibration(Calibration& c) {
  double log_sum = 0;
  std::vector<CalibrationPoint> kept;
  std::vector<VisionSample> vision;
  for (auto& pt : c.points) {
    try {
      pt.roofline_ms = roofline(find_model(pt.model), pt.precision, pt.batch, c.gpu).ms;
    } catch (const Unsupported& e) {
      c.skipped.push_back(fmt::format("{} {} b{}: {}", pt.model, to_string(pt.precision), pt.batch, e.what()));
      continue;
    }
    pt.efficiency = pt.roofline_ms / pt.measured_ms;
    log_sum += std::log(pt.efficiency);
    kept.push_back(pt);
    vision.push_back({pt.model, pt.precision, pt.batch, pt.measured_ms});
  }
  c.points = std::move(kept);
  if (c.points.empty() && c.llm.empty())
    throw InvalidInput(fmt::format("{}: no usable row (status ok, a zoo model, a precision {} can run)", c.profile_path, c.gpu.name));
  c.geomean_efficiency = c.points.empty() ? 0 : std::exp(log_sum / static_cast<double>(c.points.size()));
  c.model = std::make_shared<const TimeModel>(fit_time_model(c.gpu, vision, c.llm, c.gemv));
}

namespace {

nlohmann::json parse_json(const std::string& path, const std::string& what) {
  const std::string text = read_input_file(path, what);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(fmt::format("{}: not valid JSON (byte {}): {}", path, e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
}

const GpuSpec& match_device(const std::string& path, const std::string& device, const GpuDatabase& db) {
  const std::string name = device.substr(0, device.find(" ("));
  if (const GpuSpec* g = db.try_find(name)) return *g;
  std::string near;
  for (const auto& n : db.closest(name)) near += (near.empty() ? "" : ", ") + ("'" + n + "'");
  throw InvalidInput(fmt::format("{}: field 'device': GPU '{}' is not in {}; closest: {}", path, name, db.path, near));
}

// A fp32 row measured with --tf32 ran on tensor cores, not the fp32 this model describes. Run reports
// carry "tf32"; older ones only show it in the algorithm choices (cuBLASLt "32F_FAST_TF32").
bool ran_with_tf32(const nlohmann::json& row) {
  if (row.contains("tf32") && row["tf32"].is_boolean()) return row["tf32"].get<bool>();
  if (!row.contains("algorithms") || !row["algorithms"].is_array()) return false;
  for (const auto& a : row["algorithms"])
    if (a.is_string()) {
      const std::string s = a.get<std::string>();
      if (s.find("TF32") != std::string::npos || s.find("tensor-op") != std::string::npos) return true;
    }
  return false;
}

double positive(const nlohmann::json& o, const char* key, const std::string& at) {
  if (!o.contains(key) || !o[key].is_number() || !(o[key].get<double>() > 0) || !std::isfinite(o[key].get<double>()))
    throw InvalidInput(fmt::format("{}: '{}' must be a finite number > 0", at, key));
  return o[key].get<double>();
}

std::int64_t integer(const nlohmann::json& o, const char* key, const std::string& at, std::int64_t lo, std::int64_t hi) {
  if (!o.contains(key) || !o[key].is_number_integer()) throw InvalidInput(fmt::format("{}: '{}' must be an integer", at, key));
  return check_range(o[key].get<std::int64_t>(), lo, hi, at + "." + key);
}

std::string text(const nlohmann::json& o, const char* key, const std::string& at) {
  if (!o.contains(key) || !o[key].is_string()) throw InvalidInput(fmt::format("{}: '{}' must be a string", at, key));
  return o[key].get<std::string>();
}

// The model and precision of a row, or why the row is skipped.
std::optional<std::string> known(const std::string& model, const std::string& precision, Precision& p, std::string& id) {
  try {
    id = find_model(model).id;
    p = parse_precision(precision);
    return std::nullopt;
  } catch (const InvalidInput&) {
    return std::string("model or precision unknown to this build");
  }
}

void read_run_rows(Calibration& c, const nlohmann::json& j) {
  for (std::size_t i = 0; i < j["rows"].size(); ++i) {
    const auto& row = j["rows"][i];
    const std::string at = fmt::format("{}: rows[{}]", c.profile_path, i);
    if (!row.is_object()) throw InvalidInput(at + ": expected an object");
    const std::string model = text(row, "model", at), precision = text(row, "precision", at), status = text(row, "status", at);
    const std::int64_t batch = integer(row, "batch", at, 1, limits::kMaxBatch);
    const std::string label = fmt::format("{} {} b{}", model, precision, batch);
    if (parse_outcome(status) != Outcome::ok) {
      c.skipped.push_back(label + ": status " + status);
      continue;
    }
    if (!row.contains("latency_ms") || !row["latency_ms"].is_object())
      throw InvalidInput(fmt::format("{}: an ok row needs a finite latency_ms.median > 0", at));
    const double median = positive(row["latency_ms"], "median", at + ".latency_ms");
    if (row.contains("vram_bytes") && row["vram_bytes"].is_object() && row["vram_bytes"].contains("context_and_handles") &&
        row["vram_bytes"]["context_and_handles"].is_number_unsigned()) {
      const auto ctx = row["vram_bytes"]["context_and_handles"].get<std::uint64_t>();
      if (ctx > limits::kMaxBytes) throw InvalidInput(fmt::format("{}.vram_bytes.context_and_handles: {} is more than 1 EiB", at, ctx));
      if (ctx > 0) c.context_bytes = std::max(c.context_bytes.value_or(0), ctx);
    }
    CalibrationPoint pt;
    if (auto why = known(model, precision, pt.precision, pt.model)) {
      c.skipped.push_back(label + ": " + *why);
      continue;
    }
    if (pt.precision == Precision::fp32 && ran_with_tf32(row)) {
      c.skipped.push_back(label + ": measured with --tf32 (tensor cores), not the fp32 this estimate models");
      continue;
    }
    pt.batch = batch;
    pt.measured_ms = median;
    c.points.push_back(pt);
  }
}

void read_calibration_file(Calibration& c, const nlohmann::json& j) {
  const std::string& path = c.profile_path;
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
    throw InvalidInput(fmt::format("{}: field 'version': this vramfit reads calibration files of version 1", path));
  auto str = [&](const char* key, std::string& out) {
    if (j.contains(key) && j[key].is_string()) out = j[key].get<std::string>();
  };
  str("driver", c.driver);
  str("date", c.date);
  str("commit", c.commit);
  if (j.contains("context_bytes") && j["context_bytes"].is_number_unsigned())
    c.context_bytes = static_cast<std::uint64_t>(check_range(j["context_bytes"].get<std::int64_t>(), 1, std::int64_t{1} << 40, path + ".context_bytes"));
  auto array = [&](const char* key) {
    if (!j.contains(key)) return nlohmann::json::array();
    if (!j[key].is_array()) throw InvalidInput(fmt::format("{}: field '{}' must be an array", path, key));
    return j[key];
  };
  const auto vision = array("vision");
  for (std::size_t i = 0; i < vision.size(); ++i) {
    const std::string at = fmt::format("{}: vision[{}]", path, i);
    const auto& r = vision[i];
    if (!r.is_object()) throw InvalidInput(at + ": expected an object");
    CalibrationPoint pt;
    const std::string model = text(r, "model", at), precision = text(r, "precision", at);
    pt.batch = integer(r, "batch", at, 1, limits::kMaxBatch);
    pt.measured_ms = positive(r, "median_ms", at);
    if (auto why = known(model, precision, pt.precision, pt.model)) {
      c.skipped.push_back(fmt::format("{} {} b{}: {}", model, precision, pt.batch, *why));
      continue;
    }
    c.points.push_back(pt);
  }
  const auto llm = array("llm");
  for (std::size_t i = 0; i < llm.size(); ++i) {
    const std::string at = fmt::format("{}: llm[{}]", path, i);
    const auto& r = llm[i];
    if (!r.is_object()) throw InvalidInput(at + ": expected an object");
    LlmSample s;
    const std::string model = text(r, "model", at), precision = text(r, "precision", at);
    if (auto why = known(model, precision, s.precision, s.model)) {
      c.skipped.push_back(fmt::format("{} {}: {}", model, precision, *why));
      continue;
    }
    if (find_model(s.model).family != ModelFamily::DecoderLLM) throw InvalidInput(fmt::format("{}: {} is not a decoder LLM", at, model));
    s.context = integer(r, "context", at, 1, std::int64_t{1} << 24);
    s.decode_tokens_per_s = positive(r, "decode_tokens_per_s", at);
    if (r.contains("max_context") && !r["max_context"].is_null()) {
      s.max_context = integer(r, "max_context", at, 1, std::int64_t{1} << 24);
      s.decode_tokens_per_s_max_context = positive(r, "decode_tokens_per_s_max_context", at);
    }
    if (r.contains("prefill_tokens") && !r["prefill_tokens"].is_null()) {
      s.prefill_tokens = integer(r, "prefill_tokens", at, 1, std::int64_t{1} << 24);
      s.prefill_tokens_per_s = positive(r, "prefill_tokens_per_s", at);
    }
    c.llm.push_back(s);
  }
  const auto gemv = array("gemv");
  for (std::size_t i = 0; i < gemv.size(); ++i) {
    const std::string at = fmt::format("{}: gemv[{}]", path, i);
    if (!gemv[i].is_object()) throw InvalidInput(at + ": expected an object");
    c.gemv.push_back({text(gemv[i], "type", at), positive(gemv[i], "bytes", at), positive(gemv[i], "us", at)});
  }
  const auto checks = array("cross_card_check");
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const std::string at = fmt::format("{}: cross_card_check[{}]", path, i);
    const auto& r = checks[i];
    if (!r.is_object()) throw InvalidInput(at + ": expected an object");
    CrossCardCheck k;
    k.predicted_card = text(r, "predicted_card", at);
    if (r.contains("date") && r["date"].is_string()) k.date = r["date"].get<std::string>();
    if (r.contains("record") && r["record"].is_string()) k.record = r["record"].get<std::string>();
    auto opt = [&](const char* key, std::optional<double>& v) {
      if (r.contains(key) && r[key].is_number()) v = r[key].get<double>();
    };
    opt("vision_median", k.vision_median);
    opt("vision_worst", k.vision_worst);
    opt("vision_batch1_median", k.vision_batch1_median);
    opt("llm_median", k.llm_median);
    c.checks.push_back(k);
  }
}

}  // namespace

Calibration load_calibration(const std::filesystem::path& file, const GpuDatabase& db) {
  Calibration c;
  // Named as the user would type it: relative to the working directory when the file is under it (the
  // shipped file is found next to the binary, as an absolute path).
  std::error_code ec;
  const auto rel = std::filesystem::relative(file, std::filesystem::current_path(ec), ec);
  c.profile_path = !ec && !rel.empty() && *rel.begin() != ".." ? rel.string() : file.string();
  const nlohmann::json j = parse_json(c.profile_path, "calibration file (data/calibration/*.json or the JSON of `vramfit run -o json`)");
  if (!j.is_object() || !j.contains("device") || !j["device"].is_string())
    throw InvalidInput(fmt::format("{}: missing field 'device' (a string naming the GPU, as `vramfit run -o json` writes)", c.profile_path));
  c.device = j["device"].get<std::string>();
  c.gpu = match_device(c.profile_path, c.device, db);
  if (j.contains("schema") && j["schema"] == "vramfit-calibration") {
    read_calibration_file(c, j);
  } else {
    if (!j.contains("rows") || !j["rows"].is_array())
      throw InvalidInput(fmt::format("{}: missing field 'rows' (an array of measurements)", c.profile_path));
    read_run_rows(c, j);
  }
  fit_calibration(c);
  return c;
}

std::optional<std::filesystem::path> default_calibration_file(const std::filesystem::path& data_dir) {
  if (const char* env = std::getenv("VRAMFIT_CALIBRATION"); env && *env) {
    if (std::string(env) == "none") return std::nullopt;
    return std::filesystem::path(env);
  }
  std::error_code ec;
  const auto dir = data_dir / "calibration";
  if (!std::filesystem::is_directory(dir, ec)) return std::nullopt;
  std::optional<std::filesystem::path> best;
  std::string best_date;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    std::string date;
    try {
      const nlohmann::json j = parse_json(e.path().string(), "calibration file");
      if (j.contains("date") && j["date"].is_string()) date = j["date"].get<std::string>();
    } catch (const InvalidInput&) {
      continue;  // a broken file is reported when it is chosen explicitly, not when scanning
    }
    if (!best || date > best_date || (date == best_date && e.path() < *best)) best = e.path(), best_date = date;
  }
  return best;
}

Efficiency efficiency_for(const Calibration* c, const std::string& model, Precision p, std::int64_t batch) {
  if (!c || c->points.empty()) return {kDefaultEfficiency, fmt::format("default {} (no calibration)", kDefaultEfficiency)};
  const std::string on = fmt::format("on {} ({})", c->gpu.name, c->profile_path);
  const CalibrationPoint* best = nullptr;
  double best_d = 0;
  for (const auto& pt : c->points) {
    if (pt.model != model || pt.precision != p) continue;
    const double d = std::abs(std::log(static_cast<double>(pt.batch)) - std::log(static_cast<double>(batch)));
    if (!best || d < best_d) best = &pt, best_d = d;
  }
  if (best)
    return {best->efficiency, fmt::format("calibrated {:.3f}: {} {} b{} {}", best->efficiency, best->model, to_string(best->precision),
                                          best->batch, on)};
  double log_sum = 0;
  std::size_t n = 0;
  for (const auto& pt : c->points)
    if (pt.model == model) log_sum += std::log(pt.efficiency), ++n;
  if (n) {
    const double e = std::exp(log_sum / static_cast<double>(n));
    return {e, fmt::format("calibrated {:.3f}: geometric mean of {} rows of {} {}", e, n, model, on)};
  }
  return {c->geomean_efficiency, fmt::format("calibrated {:.3f}: geometric mean of all {} rows {}", c->geomean_efficiency,
                                             c->points.size(), on)};
}

}  // namespace vramfit
