#include "predict/latency.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "core/checked.h"
#include "core/error.h"
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

LatencyEstimate estimate_latency(const ModelInfo& m, Precision p, std::int64_t batch, const GpuSpec& g,
                                 const Calibration* calibration) {
  LatencyEstimate e;
  e.roofline = roofline(m, p, batch, g);
  if (calibration) {
    // On the profiled card itself a measured batch is the answer.
    if (calibration->gpu.name == g.name)
      for (const auto& pt : calibration->points)
        if (pt.model == m.id && pt.precision == p && pt.batch == batch) {
          e.ms = pt.measured_ms;
          e.efficiency = {pt.efficiency, fmt::format("measured on {} ({})", calibration->provenance(), calibration->profile_path)};
          return e;
        }
    if (calibration->model)
      if (auto t = vision_time(*calibration->model, m, p, batch, g)) {
        e.ms = t->ms;
        e.efficiency = {e.ms > 0 ? e.roofline.ms / e.ms : kDefaultEfficiency,
                        fmt::format("from {}: {}", calibration->provenance(), t->source)};
        return e;
      }
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
