#include "predict/latency.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/checked.h"
#include "core/error.h"
#include "core/input_file.h"
#include "graph/cost.h"
#include "graph/passes.h"

namespace vramfit {

double peak_rate(const GpuSpec& g, Precision p) {
  if (auto why = precision_unsupported_reason(g, p)) throw Unsupported(*why);
  switch (p) {
    case Precision::fp32: return g.fp32_tflops * 1e12;
    case Precision::bf16: return *g.bf16_tflops * 1e12;
    case Precision::fp8: return *g.fp8_tflops * 1e12;
    case Precision::int8: return g.int8_tops * 1e12;
    case Precision::fp16:
    case Precision::int4:
    case Precision::q8_0:
    case Precision::q4_0:
    case Precision::q4_k_m: return g.fp16_tflops * 1e12;
  }
  throw InternalError("peak_rate: unhandled precision");
}

Roofline roofline(const ModelInfo& m, Precision p, std::int64_t batch, const GpuSpec& g) {
  if (batch < 1) throw InvalidInput(fmt::format("batch must be ≥ 1, got {}", batch));
  const double rate = peak_rate(g, p);
  const double bandwidth = g.memory_bandwidth_gbs * 1e9;
  // The same deployable graph as predict/memory.cpp and the CUDA session: BN folded, fusions done,
  // dtypes assigned, so fused epilogues cost no extra pass over memory.
  if (m.family == ModelFamily::DecoderLLM)
    throw Unsupported(fmt::format("{} is a decoder LLM: use `vramfit llm -m {}`", m.id, m.id));
  Graph graph = m.build(1);
  optimize_for_inference(graph, p, nullptr);
  graph.set_batch(batch);
  Roofline r;
  for (const Node& n : graph.nodes()) {
    const Cost c = node_cost(graph, n);
    const double compute = static_cast<double>(c.flops) / rate * 1e3;
    const double memory = static_cast<double>(c.bytes_read + c.bytes_written) / bandwidth * 1e3;
    r.compute_ms += compute;
    r.memory_ms += memory;
    r.ms += std::max(compute, memory);
    r.flops += c.flops;
    r.bytes += c.bytes_read + c.bytes_written;
    ++r.nodes;
  }
  return r;
}

namespace {

// A fp32 row measured with --tf32 ran on tensor cores, not the fp32 this roofline models. Run reports
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

}  // namespace

Calibration load_calibration(const std::filesystem::path& profile, const GpuDatabase& db) {
  Calibration c;
  c.profile_path = profile.string();
  const std::string text = read_input_file(c.profile_path, "calibration file (the JSON of `vramfit run -o json`)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw InvalidInput(fmt::format("{}: not valid JSON (byte {}): {}", c.profile_path, e.byte, e.what()));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidInput(fmt::format("{}: not valid JSON: {}", c.profile_path, e.what()));
  }
  if (!j.is_object() || !j.contains("device") || !j["device"].is_string())
    throw InvalidInput(fmt::format("{}: missing field 'device' (a string naming the GPU, as `vramfit run -o json` writes)", c.profile_path));
  if (!j.contains("rows") || !j["rows"].is_array())
    throw InvalidInput(fmt::format("{}: missing field 'rows' (an array of measurements)", c.profile_path));
  c.device = j["device"].get<std::string>();
  const std::string name = c.device.substr(0, c.device.find(" ("));
  const GpuSpec* g = db.try_find(name);
  if (!g) {
    std::string near;
    for (const auto& n : db.closest(name)) near += (near.empty() ? "" : ", ") + ("'" + n + "'");
    throw InvalidInput(fmt::format("{}: field 'device': GPU '{}' is not in {}; closest: {}", c.profile_path, name, db.path, near));
  }
  c.gpu = *g;
  double log_sum = 0;
  for (std::size_t i = 0; i < j["rows"].size(); ++i) {
    const auto& row = j["rows"][i];
    const std::string at = fmt::format("{}: rows[{}]", c.profile_path, i);
    if (!row.is_object() || !row.contains("model") || !row.contains("precision") || !row.contains("batch") ||
        !row.contains("status") || !row["model"].is_string() || !row["precision"].is_string() ||
        !row["batch"].is_number_integer() || !row["status"].is_string())
      throw InvalidInput(fmt::format("{}: expected model, precision (strings), batch (integer), status", at));
    const std::string model = row["model"].get<std::string>();
    const std::string label = fmt::format("{} {} b{}", model, row["precision"].get<std::string>(), row["batch"].get<std::int64_t>());
    if (parse_outcome(row.value("status", "")) != Outcome::ok) {
      c.skipped.push_back(label + ": status " + row["status"].get<std::string>());
      continue;
    }
    if (!row.contains("latency_ms") || !row["latency_ms"].is_object() || !row["latency_ms"].contains("median") ||
        !row["latency_ms"]["median"].is_number() || !(row["latency_ms"]["median"].get<double>() > 0) ||
        !std::isfinite(row["latency_ms"]["median"].get<double>()))
      throw InvalidInput(fmt::format("{}: an ok row needs a finite latency_ms.median > 0", at));
    check_range(row["batch"].get<std::int64_t>(), 1, limits::kMaxBatch, at + ".batch");
    if (row.contains("vram_bytes") && row["vram_bytes"].is_object() && row["vram_bytes"].contains("context_and_handles") &&
        row["vram_bytes"]["context_and_handles"].is_number_unsigned()) {
      const auto ctx = row["vram_bytes"]["context_and_handles"].get<std::uint64_t>();
      if (ctx > limits::kMaxBytes) throw InvalidInput(fmt::format("{}.vram_bytes.context_and_handles: {} is more than 1 EiB", at, ctx));
      if (ctx > 0) c.context_bytes = std::max(c.context_bytes.value_or(0), ctx);
    }
    CalibrationPoint pt;
    pt.model = model;
    pt.batch = row["batch"].get<std::int64_t>();
    pt.measured_ms = row["latency_ms"]["median"].get<double>();
    const ModelInfo* m = nullptr;
    try {
      m = &find_model(model);
      pt.precision = parse_precision(row["precision"].get<std::string>());
    } catch (const InvalidInput&) {
      c.skipped.push_back(label + ": model or precision unknown to this build");
      continue;
    }
    if (pt.precision == Precision::fp32 && ran_with_tf32(row)) {
      c.skipped.push_back(label + ": measured with --tf32 (tensor cores), not the fp32 this estimate models");
      continue;
    }
    try {
      pt.roofline_ms = roofline(*m, pt.precision, pt.batch, c.gpu).ms;
    } catch (const Unsupported& e) {
      c.skipped.push_back(label + ": " + e.what());
      continue;
    }
    pt.model = m->id;
    pt.efficiency = pt.roofline_ms / pt.measured_ms;
    log_sum += std::log(pt.efficiency);
    c.points.push_back(pt);
  }
  if (c.points.empty())
    throw InvalidInput(fmt::format("{}: no usable row (status ok, a zoo model, a precision {} can run)", c.profile_path, c.gpu.name));
  c.geomean_efficiency = std::exp(log_sum / static_cast<double>(c.points.size()));
  return c;
}

Efficiency efficiency_for(const Calibration* c, const std::string& model, Precision p, std::int64_t batch) {
  if (!c) return {kDefaultEfficiency, fmt::format("default {} (no --calibrate profile)", kDefaultEfficiency)};
  const std::string on = fmt::format("on {} ({})", c->gpu.name, c->profile_path);
  // Same model and precision: the measured batch nearest on a log scale (exact when measured).
  const CalibrationPoint* best = nullptr;
  double best_d = 0;
  for (const auto& pt : c->points) {
    if (pt.model != model || pt.precision != p) continue;
    const double d = std::abs(std::log(static_cast<double>(pt.batch)) - std::log(static_cast<double>(batch)));
    if (!best || d < best_d) best = &pt, best_d = d;
  }
  if (best) {
    // Below ~0.1 the profiled run was bound by kernel launches and small-kernel latency, a fixed cost
    // that does not scale with another card's roofline: say so rather than hide it.
    const bool launch_bound = best->efficiency < kLaunchBoundEfficiency;
    return {best->efficiency, fmt::format("calibrated {:.3f}: {} {} b{} {}{}", best->efficiency, best->model,
                                          to_string(best->precision), best->batch, on,
                                          launch_bound ? "; launch-bound there, so likely pessimistic on another card" : "")};
  }
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

std::optional<AffineLatency> fit_affine(const Calibration* c, const std::string& model, Precision p) {
  if (!c) return std::nullopt;
  std::vector<const CalibrationPoint*> pts;
  for (const auto& pt : c->points)
    if (pt.model == model && pt.precision == p && pt.measured_ms > 0 && pt.roofline_ms > 0) pts.push_back(&pt);
  std::sort(pts.begin(), pts.end(), [](auto* a, auto* b) { return a->batch < b->batch; });
  pts.erase(std::unique(pts.begin(), pts.end(), [](auto* a, auto* b) { return a->batch == b->batch; }), pts.end());
  if (pts.size() < 2) return std::nullopt;
  // Least squares of measured = overhead + k · roofline (ordinary, unweighted).
  double mr = 0, mt = 0;
  for (auto* pt : pts) mr += pt->roofline_ms, mt += pt->measured_ms;
  const double n = static_cast<double>(pts.size());
  mr /= n;
  mt /= n;
  double srr = 0, srt = 0;
  for (auto* pt : pts) srr += (pt->roofline_ms - mr) * (pt->roofline_ms - mr), srt += (pt->roofline_ms - mr) * (pt->measured_ms - mt);
  if (srr <= 0) return std::nullopt;
  AffineLatency f;
  f.k = srt / srr;
  f.overhead_ms = mt - f.k * mr;
  if (f.overhead_ms < 0) {  // no negative fixed cost: a line through the origin
    double rr = 0, rt = 0;
    for (auto* pt : pts) rr += pt->roofline_ms * pt->roofline_ms, rt += pt->roofline_ms * pt->measured_ms;
    f.overhead_ms = 0;
    f.k = rt / rr;
  }
  if (f.k < 1) {  // no card beats its roofline: the slope is at least 1, the rest is overhead
    f.k = 1;
    double over = 0;
    for (auto* pt : pts) over += pt->measured_ms - pt->roofline_ms;
    f.overhead_ms = std::max(0.0, over / n);
  }
  f.points = pts.size();
  f.min_batch = pts.front()->batch;
  f.max_batch = pts.back()->batch;
  return f;
}

LatencyEstimate estimate_latency(const ModelInfo& m, Precision p, std::int64_t batch, const GpuSpec& g,
                                 const Calibration* calibration) {
  LatencyEstimate e;
  e.roofline = roofline(m, p, batch, g);
  // On the profiled card itself the measured point (or the nearest batch) is the better answer.
  const bool same_card = calibration && calibration->gpu.name == g.name;
  if (auto f = same_card ? std::nullopt : fit_affine(calibration, m.id, p)) {
    // Kernel launches and small-kernel latency cost about the same on any recent card, the work scales
    // with the roofline: overhead + k · roofline on this card.
    e.ms = f->overhead_ms + f->k * e.roofline.ms;
    e.efficiency.value = e.ms > 0 ? e.roofline.ms / e.ms : kDefaultEfficiency;
    e.efficiency.source = fmt::format("calibrated: {:.3f} ms fixed + {:.2f} × roofline, fitted over {} batches ({}–{}) of {} {} on {} ({})",
                                      f->overhead_ms, f->k, f->points, f->min_batch, f->max_batch, m.id, to_string(p),
                                      calibration->gpu.name, calibration->profile_path);
    return e;
  }
  e.efficiency = efficiency_for(calibration, m.id, p, batch);
  e.ms = e.roofline.ms / e.efficiency.value;
  return e;
}

GpuFit fit_on_gpu(const ModelInfo& m, Precision p, const GpuSpec& g, std::uint64_t budget, const Calibration* calibration,
                  std::int64_t ceiling, std::uint64_t workspace) {
  GpuFit f;
  f.model = m.id;
  f.precision = p;
  // "Can it run here?" before "how much": the card's gate first, then the engine's (memory.h).
  if (auto why = precision_unsupported_reason(g, p)) {
    f.status = Outcome::unsupported;
    f.reason = *why;
    return f;
  }
  f.fit = max_batch_under(m, p, budget, ceiling, workspace);
  if (f.fit.at_max.status != Outcome::ok) {
    f.status = Outcome::unsupported;
    f.reason = f.fit.at_max.reason;
    return f;
  }
  if (f.fit.max_batch == 0) {
    f.status = Outcome::oom;
    f.reason = f.fit.reason;
    return f;
  }
  f.latency_batch1 = estimate_latency(m, p, 1, g, calibration);
  f.latency_max_batch = estimate_latency(m, p, f.fit.max_batch, g, calibration);
  return f;
}

}  // namespace vramfit
