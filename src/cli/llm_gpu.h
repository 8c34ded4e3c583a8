// cli/llm_gpu.h — the GPU half of `vramfit llm`: is there a GPU, what is the budget there, and the
// measurements of one quantization (runtime/llm_session.h): prefill and decode tokens/s, the max
// context and batch confirmed by running them and one step up (which must fail with out-of-memory).
// In a build without CUDA, probe_gpu says so and measure_llm is never called.
//
// Also the LLM side of `vramfit profile --worker` (llm_worker_measure): one configuration of
// profile/llm_matrix.h run in its own process, with the same timing code as `vramfit llm`
// (llm_gpu_cuda.inc: prefill timing, decode timing after a prompt that leaves room for the steps,
// the probe pass).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "models/decoder_weights.h"
#include "weights/gguf.h"
#include "predict/llm_fit.h"
#include "report/llm_report.h"

namespace vramfit::cli {

struct GpuContext {
  bool available = false;
  std::string why_not;      // when not available
  std::string device;       // summary line
  int index = 0;
  std::optional<std::uint64_t> vram_limit;
  std::uint64_t reserve = 0;
  std::uint64_t budget_bytes = 0;
  std::uint64_t overhead_bytes = 0;  // this process's CUDA context and library handles, measured at probe time
  std::string budget_note;
};

GpuContext probe_gpu(int device, std::optional<std::uint64_t> vram_limit, std::uint64_t reserve);

// Weights: the checkpoint, else the GGUF file's tensors, else seeded random ones.
LlmMeasured measure_llm(const GpuContext& gpu, const DecoderConfig& c, const LlmQuantRow& row, const LlmFitOptions& fo,
                        const DecoderCheckpoint* ckpt, std::uint64_t seed, const GgufLlamaModel* gguf = nullptr);

// `profile --worker` for {"kind": "llm", "measure": "speed" | "fit", "model", "precision", "context",
// "batch", "vram_limit", "reserve", "device", "seed", "prefill_chunk", "workspace", "decode_steps",
// "prefill_tokens" (speed)}: set up a session (random weights on the GPU), then
//   speed: time a prefill of prefill_tokens, then decode_steps decode steps after a prompt that leaves
//          room for them (one session, weights generated once);
//   fit:   decode_steps > 0: decode timed after a prompt that fills the cache to its end;
//          0: a probe — one prefill chunk and one decode step.
// Answers {"status": "ok", prefill_tokens[_per_s], prefill_ms, decode_tokens_per_s, decode_ms_per_step,
// decode_steps, decode_context, vram_bytes {weights, kv_cache, activations, scratch, arena,
// context_and_handles, process_total}, device_used_bytes, budget_bytes, process_vram_bytes,
// process_vram_source, setup_s {total}}. Typed errors propagate (profile/worker.h turns OutOfMemory
// into "oom"). Without CUDA: Unsupported.
nlohmann::json llm_worker_measure(const nlohmann::json& config);

}  // namespace vramfit::cli
