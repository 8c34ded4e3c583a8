// profile/llm_matrix.h — the decoder-LLM rows of `vramfit profile`: one model × precision at batch 1.
//
// For each decoder model (ModelFamily::DecoderLLM) × precision — by default default_llm_precisions()
// (predict/llm_fit.h: fp16, int8, int4, q8_0, q4_0, q4_k_m), or what --precisions lists:
//   0. "Can it run?" — llm_unsupported_reason (models/decoder_plan.h). If not: an `unsupported` row
//      with that reason and no worker. The list is data: a precision the engine learns to run (the
//      GGUF types) starts running here without a change to this file.
//   1. The plan: weights, KV bytes per token and the total at the speed context (512, or the model's
//      maximum when smaller) at batch 1; the largest context at batch 1 under the budget (fit_llm,
//      predict/llm_fit.h: a binary search over the exact plan, step one token).
//   2. The max context at batch 1 confirmed on the GPU the way the vision max batch is
//      (confirm_max_batch over contexts, ceiling = max_position_embeddings): a worker at the predicted
//      maximum must fit — it also times decode there, the KV cache filled to the end — and one at
//      max + 1 (the fit's next step) must be out of memory; at the model's own limit the first is
//      enough. When they disagree, the exponential + binary search runs with probes that only set up
//      and run one chunk (no timing), the decode is then timed at the maximum found, and the row
//      says so ("prediction_confirmed": false, both numbers kept). When the planner says nothing fits
//      (fp16 llama-7b on an 8 GiB card) one probe at context 1 confirms it: its session fails
//      allocating the arena, before any weight is generated; the row is `oom` with the planner's
//      reason ("weights alone need 12.55 GiB; budget 7.47 GiB").
//   3. Speed at the speed context, batch 1, when it fits: prefill tokens/s of context − 1 tokens (511
//      of 512: a session must keep a position free to decode after its prompt), then decode tokens/s
//      over `decode_steps` steps after a prompt that leaves room for them — one session, weights
//      generated once (cli/llm_gpu.h llm_worker_measure) — with the process's VRAM as NVML counts it and
//      the set-up time.
// Each step is one worker configuration (llm_worker_config) run by the WorkerFn of matrix.h, so the
// journal, --resume, timeouts and VRAMFIT_FAULT apply as to the vision rows. Nothing here knows CUDA.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "profile/matrix.h"

namespace vramfit::profile {

struct LlmPrecisionResult {
  std::string model;
  Precision precision = Precision::fp16;
  Outcome outcome = Outcome::ok;  // ok (at least context 1 runs) | oom (nothing fits) | unsupported | error
  std::string reason;
  std::uint64_t budget_bytes = 0;
  std::int64_t context = 0;            // where speed is measured (batch 1)
  std::int64_t model_max_context = 0;  // max_position_embeddings
  // The plan (models/decoder_plan.h).
  std::uint64_t weights_bytes = 0;
  std::uint64_t kv_bytes_per_token = 0;
  std::uint64_t predicted_bytes = 0;         // total at (context, batch 1)
  std::uint64_t predicted_bytes_at_max = 0;  // total at the predicted max context (at context 1 when 0)
  // Max context at batch 1: a MaxSearch over contexts — `predicted`, `found` (the max context) and the
  // probes' `size` (their context); `capped`: the model's own limit (more memory would not help).
  MaxSearch max_context;
  std::optional<nlohmann::json> speed;   // the worker's answer at (context, 1)
  std::string speed_note;                // why speed was not measured
  std::optional<nlohmann::json> at_max;  // the worker's answer at the max context (decode timed there)
};

// A worker configuration for an LLM step: {"kind": "llm", "measure": "speed" | "fit", "model",
// "precision", "context", "batch": 1, "vram_limit", "reserve", "device", "seed", "prefill_chunk",
// "workspace", "decode_steps"} and, for "speed", "prefill_tokens". "fit" with decode_steps 0 only sets
// up and runs one prefill chunk and one decode step (a probe).
nlohmann::json llm_worker_config(const std::string& measure, const std::string& model, Precision p, std::int64_t context,
                                 std::int64_t decode_steps, const MatrixOptions& o);

LlmPrecisionResult profile_llm_precision(const ModelInfo& m, Precision p, const MatrixOptions& o, std::uint64_t budget,
                                         const WorkerFn& run, const ProgressFn& progress = {});

// The precisions each model of `models` gets: `requested` when given (every model, as for vision: what a
// model cannot run becomes an `unsupported` row with the reason), else per family — vision: fp32, fp16
// and bf16 where the GPU has sm_80 (`compute_capability` major·10 + minor); decoder LLMs:
// default_llm_precisions().
std::vector<Precision> precisions_for(const ModelInfo& m, const std::vector<Precision>& requested, int compute_capability);

}  // namespace vramfit::profile
