// predict/llm_fit.h — what fits of a decoder LLM under a memory budget, from the exact plan
// (models/decoder_plan.h): per precision, the memory at given contexts × batches, the largest context
// at batch 1 and the largest batch at each context. No GPU needed; `vramfit llm` fills the measured
// columns (tokens/s, confirmation by running) on top of these rows when a GPU is present.
//
// Searches: the plan's total is non-decreasing in the context and in the batch (KV, activations and
// scratch all grow), so the largest context is a binary search over [1, max_position_embeddings] and
// the largest batch an exponential then binary search over [1, ceiling]; each probe is a plan (cheap:
// no allocation of tensors). What does not fit says why, in the words of the issue: "weights alone
// need 12.6 GiB; budget 7.4 GiB", or the whole sum at the smallest size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/outcome.h"
#include "models/decoder_plan.h"

namespace vramfit {

struct LlmPoint {
  std::int64_t context = 0, batch = 1;
  std::uint64_t weights_bytes = 0, kv_bytes = 0, activation_bytes = 0, scratch_bytes = 0, total_bytes = 0;
  bool fits = true;  // under the budget (true when there is none)
};

struct LlmContextFit {
  std::int64_t context = 0;
  std::int64_t max_batch = 0;       // 0: not even batch 1
  std::uint64_t bytes_at_max = 0;   // plan total at max_batch (at batch 1 when 0)
  bool capped = false;              // max_batch is the ceiling (more might fit)
  std::string reason;               // when max_batch == 0
};

struct LlmQuantRow {
  std::string model;
  Precision precision = Precision::fp16;
  Outcome status = Outcome::ok;  // ok | unsupported | oom (printed "does not fit": fit_text)
  std::string reason;
  std::uint64_t weights_bytes = 0;
  std::uint64_t kv_bytes_per_token = 0;
  // At batch 1 and the largest listed context: the two passes' activation arenas and the scratch.
  std::uint64_t prefill_arena_bytes = 0, decode_arena_bytes = 0, activation_bytes = 0, scratch_bytes = 0;
  std::int64_t prefill_chunk = 0;
  std::vector<LlmPoint> points;  // every context × batch asked for
  // With a budget:
  std::optional<std::uint64_t> budget_bytes;
  std::int64_t max_context = 0;           // at batch 1; 0: not even one token
  bool max_context_is_model_limit = false;  // = max_position_embeddings (more memory would not help)
  std::vector<LlmContextFit> max_batch;   // one per context asked for
};

struct LlmFitOptions {
  LlmPlanOptions plan;
  std::vector<std::int64_t> contexts{512, 4096};
  std::vector<std::int64_t> batches{1};
  std::optional<std::uint64_t> budget_bytes;
  std::int64_t max_batch_ceiling = 4096;
};

// Largest context at `batch` with plan total ≤ budget, capped at max_position_embeddings; 0 if none.
std::int64_t max_context_under(const DecoderConfig& c, Precision p, std::uint64_t budget, std::int64_t batch,
                               const LlmPlanOptions& opt = {});
// Largest batch ≤ ceiling at `context` with plan total ≤ budget; reason filled when 0.
LlmContextFit max_batch_at_context(const DecoderConfig& c, Precision p, std::int64_t context, std::uint64_t budget,
                                   std::int64_t ceiling, const LlmPlanOptions& opt = {});
// Why batch 1 at `context` does not fit (weights alone, or the whole sum with its parts).
std::string llm_does_not_fit_reason(const LlmMemoryPlan& plan, std::uint64_t budget);

// One row per precision (unsupported ones say why).
LlmQuantRow fit_llm(const DecoderConfig& c, Precision p, const LlmFitOptions& o);

// vramfit's LLM attention kernels use tensor-core mma.sync m16n8k16 (the gate of
// backend/cuda/kernels/llm_prefill_attention.cu): no LLM precision runs below sm_80. Used where no GPU
// answers — cards not at hand (`vramfit report`'s predicted cells).
constexpr int kLlmMinComputeCapability = 80;

// The LLM precisions `vramfit profile` tries by default (and `vramfit report` lists): fp16, int8, int4
// and the GGUF types q8_0, q4_0, q4_k_m. Whether each runs is llm_unsupported_reason's answer, asked
// per model — never assumed here.
const std::vector<Precision>& default_llm_precisions();

}  // namespace vramfit
