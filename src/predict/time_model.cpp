#include "predict/time_model.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <numeric>
#include <set>

#include "core/error.h"
#include "graph/cost.h"
#include "graph/passes.h"
#include "models/decoder_plan.h"
#include "predict/latency.h"

namespace vramfit {

std::vector<double> nelder_mead(const std::function<double(const std::vector<double>&)>& f, std::vector<double> x, double step,
                                int iterations) {
  const std::size_t n = x.size();
  std::vector<std::vector<double>> pts(n + 1, x);
  for (std::size_t i = 0; i < n; ++i) pts[i + 1][i] += step;
  std::vector<double> vals(n + 1);
  for (std::size_t i = 0; i <= n; ++i) vals[i] = f(pts[i]);
  auto along = [&](const std::vector<double>& c, const std::vector<double>& p, double t) {
    std::vector<double> r(n);
    for (std::size_t i = 0; i < n; ++i) r[i] = c[i] + t * (p[i] - c[i]);
    return r;
  };
  for (int it = 0; it < iterations; ++it) {
    std::vector<std::size_t> order(n + 1);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return vals[a] < vals[b]; });
    std::vector<std::vector<double>> sp;
    std::vector<double> sv;
    for (std::size_t i : order) sp.push_back(pts[i]), sv.push_back(vals[i]);
    pts = std::move(sp);
    vals = std::move(sv);
    if (std::abs(vals[n] - vals[0]) < 1e-12 * (1 + std::abs(vals[0]))) break;
    std::vector<double> c(n, 0.0);  // centroid of all but the worst
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = 0; k < n; ++k) c[k] += pts[i][k] / static_cast<double>(n);
    const auto xr = along(c, pts[n], -1.0);  // reflection
    const double fr = f(xr);
    if (fr < vals[0]) {
      const auto xe = along(c, pts[n], -2.0);  // expansion
      const double fe = f(xe);
      if (fe < fr) pts[n] = xe, vals[n] = fe;
      else pts[n] = xr, vals[n] = fr;
    } else if (fr < vals[n - 1]) {
      pts[n] = xr, vals[n] = fr;
    } else {
      const auto xc = along(c, pts[n], 0.5);  // contraction
      const double fc = f(xc);
      if (fc < vals[n]) {
        pts[n] = xc, vals[n] = fc;
      } else {  // shrink towards the best
        for (std::size_t i = 1; i <= n; ++i) pts[i] = along(pts[0], pts[i], 0.5), vals[i] = f(pts[i]);
      }
    }
  }
  return pts[static_cast<std::size_t>(std::min_element(vals.begin(), vals.end()) - vals.begin())];
}

namespace {

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }
double logit(double p) { return std::log(p / (1.0 - p)); }

struct NodeWork {
  double flops = 0, bytes = 0;
};

// The kernels of the deployable graph (the same passes as the engine, predict/memory.cpp and the
// roofline): views move no bytes and are no kernel.
std::vector<NodeWork> node_work(const ModelInfo& m, Precision p, std::int64_t batch) {
  Graph g = m.build(1);
  optimize_for_inference(g, p, nullptr);
  g.set_batch(batch);
  std::vector<NodeWork> out;
  for (const Node& n : g.nodes()) {
    const Cost c = node_cost(g, n);
    if (c.flops == 0 && c.bytes_read + c.bytes_written == 0) continue;
    out.push_back({static_cast<double>(c.flops), static_cast<double>(c.bytes_read + c.bytes_written)});
  }
  return out;
}

// Σ max(F / (peak · c), B / (bandwidth · b)) in ms.
double kernel_ms(const std::vector<NodeWork>& w, double peak, double bandwidth, double c, double b) {
  double t = 0;
  for (const auto& n : w) t += std::max(n.flops / (peak * c), n.bytes / (bandwidth * b));
  return t * 1e3;
}

struct Point {
  std::vector<NodeWork> work;
  double peak = 0, measured_ms = 0;
  std::int64_t batch = 0;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// c, b, τ for points sharing one engine behaviour; τ per kernel when per_kernel.
VisionFit fit_points(const std::vector<Point>& pts, double bandwidth, bool per_kernel) {
  auto predict = [&](const std::vector<double>& x, const Point& p) {
    const double fixed = std::exp(x[2]) * (per_kernel ? static_cast<double>(p.work.size()) : 1.0);
    return fixed + kernel_ms(p.work, p.peak, bandwidth, sigmoid(x[0]), sigmoid(x[1]));
  };
  // Least absolute log-ratios: robust to the engine's odd points (a batch whose algorithm choice makes
  // it slower than a larger one, bench/results/2026-12-08-h100-profile resnet50 fp16 b32 vs b64), which
  // squares would let pull the whole curve.
  auto loss = [&](const std::vector<double>& x) {
    double s = 0;
    for (const auto& p : pts) s += std::abs(std::log(predict(x, p) / p.measured_ms));
    return s;
  };
  std::vector<double> x{logit(0.5), logit(0.5), std::log(per_kernel ? 0.005 : 0.1)};
  for (int round = 0; round < 3; ++round) x = nelder_mead(loss, x, 1.0, 400);
  VisionFit f;
  f.compute = sigmoid(x[0]);
  f.bandwidth = sigmoid(x[1]);
  f.fixed_ms = std::exp(x[2]);
  f.per_kernel = per_kernel;
  f.points = pts.size();
  std::vector<double> errs;
  for (const auto& p : pts) {
    errs.push_back(std::abs(predict(x, p) - p.measured_ms) / p.measured_ms);
    f.min_batch = f.min_batch ? std::min(f.min_batch, p.batch) : p.batch;
    f.max_batch = std::max(f.max_batch, p.batch);
  }
  f.median_error = median(errs);
  return f;
}

double bandwidth_bytes_per_s(const GpuSpec& g) { return g.memory_bandwidth_gbs * 1e9; }

// b_w: per GEMV type, a line us = f + bytes / (bandwidth · b) over its shapes; the median b.
double gemv_fraction(const std::vector<GemvSample>& gemv, const GpuSpec& card, std::string& source) {
  std::map<std::string, std::vector<const GemvSample*>> by_type;
  for (const auto& s : gemv)
    if (s.bytes > 0 && s.us > 0) by_type[s.type].push_back(&s);
  std::vector<double> fractions;
  for (const auto& [type, v] : by_type) {
    if (v.size() < 2) continue;
    double mx = 0, my = 0;
    for (auto* s : v) mx += s->bytes, my += s->us;
    mx /= static_cast<double>(v.size());
    my /= static_cast<double>(v.size());
    double sxx = 0, sxy = 0;
    for (auto* s : v) sxx += (s->bytes - mx) * (s->bytes - mx), sxy += (s->bytes - mx) * (s->us - my);
    if (sxx <= 0 || sxy <= 0) continue;
    const double us_per_byte = sxy / sxx;
    fractions.push_back(1.0 / (us_per_byte * 1e-6 * bandwidth_bytes_per_s(card)));
  }
  if (fractions.empty()) {
    source = "assumed 0.9 (no GEMV timings per shape in the calibration)";
    return 0.9;
  }
  const double b = std::clamp(median(fractions), 0.3, 1.0);
  source = fmt::format("{:.2f}, the median over {} GEMV types of time-vs-bytes lines on {}", b, fractions.size(), card.name);
  return b;
}

// The matrix products of every LLM precision run in the activation type (int8/int4 and the GGUF types
// are weight-only: dequantised to fp16 or multiplied with fp16 activations), so their peak is fp16's.
double llm_peak(const GpuSpec& g, Precision p) { return peak_rate(g, p == Precision::bf16 ? Precision::bf16 : Precision::fp16); }

DecoderConfig decoder_of(const std::string& model) {
  const ModelInfo& m = find_model(model);
  if (m.family != ModelFamily::DecoderLLM || !m.decoder) throw InvalidInput(fmt::format("{} is not a decoder LLM", model));
  return m.decoder();
}

void fit_llm(TimeModel& tm, const std::vector<LlmSample>& llm) {
  const double bw = bandwidth_bytes_per_s(tm.card);
  // b_kv: the extra time per extra token of KV between the two measured contexts, per precision.
  std::vector<double> kv_fractions;
  for (const auto& s : llm) {
    if (s.max_context <= s.context || !(s.decode_tokens_per_s > 0) || !(s.decode_tokens_per_s_max_context > 0)) continue;
    const double extra_s = 1.0 / s.decode_tokens_per_s_max_context - 1.0 / s.decode_tokens_per_s;
    if (extra_s <= 0) continue;
    const double kv = static_cast<double>(llm_kv_bytes_per_token(decoder_of(s.model))) * static_cast<double>(s.max_context - s.context);
    kv_fractions.push_back(kv / (bw * extra_s));
  }
  const double b_kv = kv_fractions.empty() ? 0.5 : std::clamp(median(kv_fractions), 0.05, 1.0);
  for (const auto& s : llm) {
    if (!(s.decode_tokens_per_s > 0)) continue;
    const DecoderConfig c = decoder_of(s.model);
    LlmFit f;
    f.kv_bandwidth = b_kv;
    f.gemv_bandwidth = tm.gemv_bandwidth;
    const double weights_s = static_cast<double>(llm_streamed_weight_bytes(c, s.precision)) / (bw * f.gemv_bandwidth);
    const double kv_s = static_cast<double>(llm_kv_bytes_per_token(c)) * static_cast<double>(s.context) / (bw * b_kv);
    const double step_s = 1.0 / s.decode_tokens_per_s;
    if (step_s > weights_s + kv_s) {
      f.fixed_ms = (step_s - weights_s - kv_s) * 1e3;
    } else {  // faster than b_w allows: this precision streams better; no fixed cost left
      f.fixed_ms = 0;
      f.gemv_bandwidth = std::min(1.0, static_cast<double>(llm_streamed_weight_bytes(c, s.precision)) / (bw * std::max(step_s - kv_s, 1e-9)));
    }
    if (s.prefill_tokens > 0 && s.prefill_tokens_per_s > 0)
      f.prefill_compute = llm_prefill_flops(c, s.prefill_tokens) / (llm_peak(tm.card, s.precision) *
                                                                      (static_cast<double>(s.prefill_tokens) / s.prefill_tokens_per_s));
    f.points = 1 + (s.max_context > s.context ? 1 : 0);
    tm.llm[s.precision] = f;
  }
}

}  // namespace

std::uint64_t llm_streamed_weight_bytes(const DecoderConfig& c, Precision p) {
  std::uint64_t total = 0;
  for (const auto& w : plan_llm_weights(c, p)) {
    const std::uint64_t bytes = w.data_bytes + w.scale_bytes;
    if (w.role == LlmWeightRole::Embedding) {
      // One row per token, unless the LM head reads the whole (tied) table.
      total += c.tie_word_embeddings ? bytes : bytes / static_cast<std::uint64_t>(std::max<std::int64_t>(1, w.rows));
    } else if (w.role != LlmWeightRole::RopeTable) {
      total += bytes;
    }
  }
  return total;
}

double llm_prefill_flops(const DecoderConfig& c, std::int64_t tokens) {
  const double t = static_cast<double>(tokens);
  const double weights = 2.0 * static_cast<double>(decoder_macs_per_token(c)) * t;
  // QKᵀ and PV: per layer and head, t²/2 scores of head_dim products each (causal), twice.
  const double attention = 2.0 * 2.0 * static_cast<double>(c.num_layers * c.num_heads * c.head_dim) * t * t / 2.0;
  return weights + attention;
}

TimeModel fit_time_model(const GpuSpec& card, const std::vector<VisionSample>& vision, const std::vector<LlmSample>& llm,
                         const std::vector<GemvSample>& gemv) {
  if (vision.empty() && llm.empty()) throw InvalidInput("time model: no measurement to fit");
  TimeModel tm;
  tm.card = card;
  const double bw = bandwidth_bytes_per_s(card);
  std::map<std::pair<std::string, Precision>, std::vector<Point>> groups;
  std::map<bool, std::vector<Point>> classes;
  for (const auto& s : vision) {
    const ModelInfo& m = find_model(s.model);
    Point p{node_work(m, s.precision, s.batch), peak_rate(card, s.precision), s.measured_ms, s.batch};
    classes[s.precision != Precision::fp32].push_back(p);
    groups[{m.id, s.precision}].push_back(std::move(p));
  }
  for (const auto& [tensor, pts] : classes) tm.per_class[tensor] = fit_points(pts, bw, /*per_kernel=*/true);
  for (const auto& [key, pts] : groups) {
    std::set<std::int64_t> batches;
    for (const auto& p : pts) batches.insert(p.batch);
    if (batches.size() >= 2) tm.per_model[key] = fit_points(pts, bw, /*per_kernel=*/false);
  }
  tm.gemv_bandwidth = gemv_fraction(gemv, card, tm.gemv_source);
  fit_llm(tm, llm);
  return tm;
}

std::optional<TimeEstimate> vision_time(const TimeModel& tm, const ModelInfo& m, Precision p, std::int64_t batch, const GpuSpec& target) {
  const double peak = peak_rate(target, p);  // Unsupported when the card cannot run p
  const auto own = tm.per_model.find({m.id, p});
  const VisionFit* f = own != tm.per_model.end() ? &own->second : nullptr;
  VisionFit borrowed;
  std::string how;
  if (!f) {
    const bool tensor = p != Precision::fp32;
    const auto cls = tm.per_class.find(tensor);
    if (cls != tm.per_class.end()) f = &cls->second;
    // The same model at another precision: its bandwidth fraction and fixed cost (the same layers, the
    // same memory traffic pattern and kernel count) with the compute fraction moved by the ratio of the
    // two precision classes' fits. Preferred: a precision of the same class.
    const VisionFit* sibling = nullptr;
    Precision sp = p;
    for (const auto& [key, fit] : tm.per_model)
      if (key.first == m.id && (!sibling || ((key.second != Precision::fp32) == tensor && (sp != Precision::fp32) != tensor)))
        sibling = &fit, sp = key.second;
    if (sibling) {
      const auto sib_cls = tm.per_class.find(sp != Precision::fp32);
      borrowed = *sibling;
      // Without a fit of p's class the sibling's fraction of the peak is kept (the peak itself moves).
      if (cls != tm.per_class.end() && sib_cls != tm.per_class.end() && (sp != Precision::fp32) != tensor)
        borrowed.compute = std::min(1.0, sibling->compute * cls->second.compute / sib_cls->second.compute);
      how = fmt::format(" (no {} {} measured there: borrowed from its {} fit)", m.id, to_string(p), to_string(sp));
      f = &borrowed;
    }
    if (!f) return std::nullopt;
  }
  const std::vector<NodeWork> work = node_work(m, p, batch);
  TimeEstimate e;
  const double fixed = f->fixed_ms * (f->per_kernel ? static_cast<double>(work.size()) : 1.0);
  e.ms = fixed + kernel_ms(work, peak, bandwidth_bytes_per_s(target), f->compute, f->bandwidth);
  if (f->per_kernel)
    e.source = fmt::format("{:.2f} of the {} peak, {:.2f} of the bandwidth, {:.3f} ms per kernel: fitted over {} {} rows on {} "
                           "(no {} {} measured there; in-sample median error {:.0f} %)",
                           f->compute, p == Precision::fp32 ? "fp32" : "tensor", f->bandwidth,
                           f->fixed_ms, f->points, p == Precision::fp32 ? "fp32" : "tensor-core", tm.card.name, m.id, to_string(p),
                           100 * f->median_error);
  else
    e.source = fmt::format("{} {}: {:.2f} of the peak, {:.2f} of the bandwidth, {:.3f} ms fixed; fitted over {} batches ({}–{}) on {} "
                           "(in-sample median error {:.0f} %){}",
                           m.id, to_string(p), f->compute, f->bandwidth, f->fixed_ms, f->points, f->min_batch, f->max_batch,
                           tm.card.name, 100 * f->median_error, how);
  return e;
}

std::optional<LlmSpeedEstimate> llm_speed(const TimeModel& tm, const DecoderConfig& c, Precision p, std::int64_t context,
                                          std::int64_t batch, const GpuSpec& target) {
  if (tm.llm.empty()) return std::nullopt;
  const auto it = tm.llm.find(p);
  LlmFit f;
  std::string how;
  if (it != tm.llm.end()) {
    f = it->second;
  } else {
    // Not measured on the calibration card (fp16 llama-7b does not fit an emulated 8 GiB card): the
    // fixed cost and prefill fraction are the medians of the measured precisions, the weights stream at
    // the GEMV fraction.
    std::vector<double> fixed, prefill, kv;
    for (const auto& [q, g] : tm.llm) {
      fixed.push_back(g.fixed_ms);
      kv.push_back(g.kv_bandwidth);
      if (g.prefill_compute > 0) prefill.push_back(g.prefill_compute);
    }
    f.fixed_ms = median(fixed);
    f.kv_bandwidth = median(kv);
    f.prefill_compute = median(prefill);
    f.gemv_bandwidth = tm.gemv_bandwidth;
    how = fmt::format(" (no {} measured there: the medians of the {} measured precisions)", to_string(p), tm.llm.size());
  }
  const double bw = bandwidth_bytes_per_s(target);
  const double peak = llm_peak(target, p);
  // One decode step: the weights stream once for the whole batch (or, at a large batch, the matrix
  // products' FLOPs at the prefill's fraction of the peak take longer), every sequence reads its KV.
  const double weights_s = static_cast<double>(llm_streamed_weight_bytes(c, p)) / (bw * f.gemv_bandwidth);
  const double compute_s = f.prefill_compute > 0
                               ? 2.0 * static_cast<double>(decoder_macs_per_token(c)) * static_cast<double>(batch) / (peak * f.prefill_compute)
                               : 0.0;
  const double kv_s = static_cast<double>(batch) * static_cast<double>(context) * static_cast<double>(llm_kv_bytes_per_token(c)) /
                      (bw * f.kv_bandwidth);
  const double step_s = f.fixed_ms * 1e-3 + std::max(weights_s, compute_s) + kv_s;
  LlmSpeedEstimate e;
  e.decode_tokens_per_s = static_cast<double>(batch) / step_s;
  if (f.prefill_compute > 0) {
    const std::int64_t tokens = std::max<std::int64_t>(1, std::min<std::int64_t>(context, 512));
    e.prefill_tokens_per_s = static_cast<double>(tokens) / (llm_prefill_flops(c, tokens) / (peak * f.prefill_compute));
  }
  e.source = fmt::format("{}: {:.3f} ms fixed per step, weights at {:.2f} and KV at {:.2f} of the bandwidth{}; measured on {}{}",
                         to_string(p), f.fixed_ms, f.gemv_bandwidth, f.kv_bandwidth,
                         f.prefill_compute > 0 ? fmt::format(", matrix products at {:.2f} of the peak", f.prefill_compute) : "",
                         tm.card.name, how);
  return e;
}

}  // namespace vramfit
