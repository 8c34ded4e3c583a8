#include "predict/memory.h"

#include <algorithm>
#include <cstdint>
#include <fmt/format.h>

#include "core/bytes.h"
#include "core/checked.h"
#include "core/error.h"
#include "graph/capability.h"
#include "graph/cost.h"
#include "graph/passes.h"
#include "graph/planner.h"
#include "models/decoder_plan.h"

namespace vramfit {

namespace {

// The deployable graph at batch 1: BN folded, fusions done, dtypes and layouts assigned — the same
// pipeline the CUDA session runs before it allocates.
Graph deployable(const ModelInfo& m, Precision p) {
  Graph g = m.build(1);
  optimize_for_inference(g, p, nullptr);
  return g;
}

}  // namespace

MemoryEstimate estimate_memory(const ModelInfo& m, Precision p, std::int64_t batch, std::uint64_t workspace) {
  check_range(batch, 1, limits::kMaxBatch, "batch");
  if (workspace > limits::kMaxBytes) throw InvalidInput(fmt::format("workspace of {} bytes is more than 1 EiB", workspace));
  MemoryEstimate e;
  e.model = m.id;
  e.precision = p;
  e.batch = batch;
  e.workspace_bytes = (workspace + 255) / 256 * 256;  // the arena aligns each region to 256 bytes
  if (m.family == ModelFamily::DecoderLLM) {
    e.status = Outcome::unsupported;
    e.reason = fmt::format("{} is a decoder LLM: its memory depends on the context; use `vramfit llm -m {}`", m.id, m.id);
    return e;
  }
  Graph g;
  try {
    g = deployable(m, p);
  } catch (const Unsupported& u) {
    e.status = Outcome::unsupported;
    e.reason = u.what();
    return e;
  }
  g.set_batch(batch);
  const Plan plan = plan_memory(g);
  e.weights_bytes = plan.weight_bytes;
  e.arena_bytes = plan.arena_bytes;
  e.arena_bytes_per_sample = plan.arena_bytes_per_sample;
  e.lower_bound_bytes = plan.lower_bound_bytes;
  return e;
}

std::int64_t engine_batch_limit(const Graph& g) {
  std::int64_t limit = INT64_MAX;
  for (const Node& n : g.nodes()) limit = std::min(limit, conv_batch_limit(g, n));  // graph/capability.h
  return limit;
}

BudgetFit max_batch_under(const ModelInfo& m, Precision p, std::uint64_t budget, std::int64_t ceiling,
                          std::uint64_t workspace) {
  check_range(ceiling, 1, limits::kMaxBatch, "ceiling of the max-batch search (--max-batch)");
  BudgetFit fit;
  fit.budget_bytes = budget;
  MemoryEstimate one = estimate_memory(m, p, 1, workspace);
  if (one.status != Outcome::ok) {
    fit.at_max = one;
    fit.reason = one.reason;
    return fit;
  }
  if (one.total_bytes() > budget) {
    fit.at_max = one;
    fit.reason = one.weights_bytes > budget
                     ? fmt::format("weights alone need {}; budget {}", format_bytes(one.weights_bytes), format_bytes(budget))
                     : fmt::format("batch 1 needs {} (weights {} + activations {} + workspace {}); budget {}",
                                   format_bytes(one.total_bytes()), format_bytes(one.weights_bytes),
                                   format_bytes(one.arena_bytes), format_bytes(one.workspace_bytes), format_bytes(budget));
    return fit;
  }
  // arena(b) = b · k exactly (planner.h), so the bound is arithmetic; confirm with a real plan.
  const std::uint64_t k = one.arena_bytes_per_sample;
  const std::uint64_t room = budget - one.weights_bytes - one.workspace_bytes;
  std::int64_t b = k ? static_cast<std::int64_t>(room / k) : ceiling;
  if (b > ceiling) {
    b = ceiling;
    fit.limited_by = "ceiling";
  }
  {
    Graph g = m.build(1);
    optimize_for_inference(g, p, nullptr);
    const std::int64_t engine = engine_batch_limit(g);
    if (engine < b) {
      b = engine;
      fit.limited_by = "engine";
      fit.limit_note = fmt::format(
          "batch {} would give a convolution tensor of 2^31 elements or more, which cuDNN's convolution API cannot index",
          engine + 1);
    }
  }
  fit.at_max = estimate_memory(m, p, b, workspace);
  VRAMFIT_CHECK(fit.at_max.total_bytes() <= budget, "planner is not batch-affine");
  if (b < ceiling && fit.limited_by == "memory") {
    const MemoryEstimate next = estimate_memory(m, p, b + 1, workspace);
    VRAMFIT_CHECK(next.total_bytes() > budget, "planner is not batch-affine");
  }
  fit.max_batch = b;
  return fit;
}

ModelSummary summarize(const ModelInfo& m) {
  ModelSummary s;
  s.id = m.id;
  s.aliases = m.aliases;
  s.description = m.description;
  s.input_per_sample = m.input_per_sample;
  if (m.family == ModelFamily::DecoderLLM) {
    // Per generated token: MACs of every weight matrix (attention scores depend on the context).
    const DecoderConfig c = m.decoder();
    s.parameters = decoder_parameter_count(c);
    s.macs = decoder_macs_per_token(c);
    s.flops = 2 * s.macs;
    s.weight_bytes.emplace_back(Precision::fp32, 4 * s.parameters);
    for (Precision p : {Precision::fp16, Precision::bf16, Precision::int8, Precision::int4, Precision::q8_0,
                         Precision::q4_0, Precision::q4_k_m}) {
      if (llm_unsupported_reason(c, p)) continue;
      std::uint64_t bytes = 0;
      plan_llm_weights(c, p, &bytes);
      s.weight_bytes.emplace_back(p, bytes);
    }
    return s;
  }
  const Graph g = m.build(1);
  s.parameters = parameter_count(g);
  const Cost c = graph_cost(g);
  s.macs = c.macs;
  s.flops = c.flops;
  for (Precision p : {Precision::fp32, Precision::fp16, Precision::bf16}) {
    Graph d = deployable(m, p);
    s.weight_bytes.emplace_back(p, weight_bytes(d));
  }
  return s;
}

}  // namespace vramfit

namespace vramfit {

StreamsFit max_streams_under(const ModelInfo& m, Precision p, std::int64_t batch, std::uint64_t budget, std::uint64_t handles_bytes,
                             std::int64_t ceiling, std::uint64_t workspace) {
  StreamsFit f;
  const MemoryEstimate e = estimate_memory(m, p, batch, workspace);
  if (e.status != Outcome::ok) {
    f.reason = e.reason;
    return f;
  }
  auto align = [](std::uint64_t b) { return (b + 255) / 256 * 256; };
  f.weights_bytes = e.weights_bytes;
  f.per_stream_bytes = align(e.arena_bytes) + align(workspace);
  f.handles_bytes = handles_bytes;
  if (budget < f.weights_bytes + f.per_stream_bytes) {
    f.reason = fmt::format("one stream at batch {} needs {} (weights {} + activations and workspace {}); budget {}", batch,
                           format_bytes(f.weights_bytes + f.per_stream_bytes), format_bytes(f.weights_bytes),
                           format_bytes(f.per_stream_bytes), format_bytes(budget));
    return f;
  }
  const std::uint64_t n = (budget - f.weights_bytes + handles_bytes) / (f.per_stream_bytes + handles_bytes);
  f.max_streams = static_cast<std::int64_t>(std::min<std::uint64_t>(n, static_cast<std::uint64_t>(std::max<std::int64_t>(ceiling, 1))));
  f.capped = static_cast<std::int64_t>(n) >= ceiling;
  return f;
}

}  // namespace vramfit
