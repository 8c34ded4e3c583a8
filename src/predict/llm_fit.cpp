// LLM fit searches over the exact plan (llm_fit.h).
#include "predict/llm_fit.h"

#include <algorithm>
#include <fmt/format.h>

#include "core/bytes.h"
#include "core/checked.h"
#include "core/search.h"
#include "core/error.h"

namespace vramfit {

namespace {

// A search probes sizes the user never asked for: one whose bytes do not fit in 64 bits fits no budget.
std::uint64_t total(const DecoderConfig& c, Precision p, std::int64_t context, std::int64_t batch, const LlmPlanOptions& o) {
  try {
    return plan_llm_memory(c, p, context, batch, o).total_bytes();
  } catch (const SizeOverflow&) {
    return UINT64_MAX;
  }
}

}  // namespace

std::string llm_does_not_fit_reason(const LlmMemoryPlan& plan, std::uint64_t budget) {
  if (plan.weights_bytes > budget)
    return fmt::format("weights alone need {}; budget {}", format_bytes(plan.weights_bytes), format_bytes(budget));
  return fmt::format("context {} at batch {} needs {} (weights {} + KV cache {} + activations {} + scratch {}); budget {}",
                     plan.context, plan.batch, format_bytes(plan.total_bytes()), format_bytes(plan.weights_bytes),
                     format_bytes(plan.kv_bytes), format_bytes(plan.activation_bytes), format_bytes(plan.scratch_bytes),
                     format_bytes(budget));
}

std::int64_t max_context_under(const DecoderConfig& c, Precision p, std::uint64_t budget, std::int64_t batch,
                               const LlmPlanOptions& opt) {
  if (total(c, p, 1, batch, opt) > budget) return 0;
  std::int64_t lo = 1, hi = c.max_position_embeddings;  // lo fits; find the largest that fits ≤ hi
  if (total(c, p, hi, batch, opt) <= budget) return hi;
  while (hi - lo > 1) {  // invariant: lo fits, hi does not
    const std::int64_t mid = lo + (hi - lo) / 2;
    (total(c, p, mid, batch, opt) <= budget ? lo : hi) = mid;
  }
  return lo;
}

LlmContextFit max_batch_at_context(const DecoderConfig& c, Precision p, std::int64_t context, std::uint64_t budget,
                                   std::int64_t ceiling, const LlmPlanOptions& opt) {
  LlmContextFit f;
  f.context = context;
  const LlmMemoryPlan one = plan_llm_memory(c, p, context, 1, opt);
  if (one.total_bytes() > budget) {
    f.bytes_at_max = one.total_bytes();
    f.reason = llm_does_not_fit_reason(one, budget);
    return f;
  }
  check_range(ceiling, 1, limits::kMaxBatch, "ceiling of the max-batch search (--max-batch)");
  const LargestFit l = largest_fit(ceiling, [&](std::int64_t b) { return total(c, p, context, b, opt) <= budget; });
  f.max_batch = l.n;
  f.capped = l.capped;
  f.bytes_at_max = total(c, p, context, l.n, opt);
  return f;
}

LlmQuantRow fit_llm(const DecoderConfig& c, Precision p, const LlmFitOptions& o) {
  LlmQuantRow r;
  r.model = c.name;
  r.precision = p;
  r.budget_bytes = o.budget_bytes;
  if (const auto why = llm_unsupported_reason(c, p)) {
    r.status = Outcome::unsupported;
    r.reason = *why;
    return r;
  }
  if (o.contexts.empty() || o.batches.empty()) throw InvalidInput("fit_llm: at least one context and one batch");
  for (std::int64_t ctx : o.contexts)
    if (ctx > c.max_position_embeddings)
      throw InvalidInput(fmt::format("--context {}: {} handles at most {} positions (max_position_embeddings)", ctx,
                                     c.name, c.max_position_embeddings));
  const std::int64_t ctx_max = *std::max_element(o.contexts.begin(), o.contexts.end());
  const LlmMemoryPlan base = plan_llm_memory(c, p, ctx_max, 1, o.plan);
  r.weights_bytes = base.weights_bytes;
  r.kv_bytes_per_token = base.kv_bytes_per_token;
  r.prefill_arena_bytes = base.prefill.arena_bytes;
  r.decode_arena_bytes = base.decode.arena_bytes;
  r.activation_bytes = base.activation_bytes;
  r.scratch_bytes = base.scratch_bytes;
  r.prefill_chunk = base.prefill.tokens_per_sequence;
  for (std::int64_t ctx : o.contexts)
    for (std::int64_t b : o.batches) {
      const LlmMemoryPlan pl = plan_llm_memory(c, p, ctx, b, o.plan);
      LlmPoint pt{ctx, b, pl.weights_bytes, pl.kv_bytes, pl.activation_bytes, pl.scratch_bytes, pl.total_bytes(), true};
      if (o.budget_bytes) pt.fits = pt.total_bytes <= *o.budget_bytes;
      r.points.push_back(pt);
    }
  if (!o.budget_bytes) return r;
  const std::uint64_t budget = *o.budget_bytes;
  r.max_context = max_context_under(c, p, budget, 1, o.plan);
  r.max_context_is_model_limit = r.max_context == c.max_position_embeddings;
  for (std::int64_t ctx : o.contexts) r.max_batch.push_back(max_batch_at_context(c, p, ctx, budget, o.max_batch_ceiling, o.plan));
  if (r.max_context == 0) {
    r.status = Outcome::oom;
    const std::int64_t ctx_min = *std::min_element(o.contexts.begin(), o.contexts.end());
    const LlmMemoryPlan need = plan_llm_memory(c, p, ctx_min, 1, o.plan);
    r.reason = llm_does_not_fit_reason(plan_llm_memory(c, p, 1, 1, o.plan), budget);
    r.reason += fmt::format("; context {} at batch 1 needs {}", ctx_min, format_bytes(need.total_bytes()));
  }
  return r;
}

const std::vector<Precision>& default_llm_precisions() {
  static const std::vector<Precision> p{Precision::fp16, Precision::int8, Precision::int4,
                                        Precision::q8_0, Precision::q4_0, Precision::q4_k_m};
  return p;
}

}  // namespace vramfit
