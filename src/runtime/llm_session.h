// runtime/llm_session.h — a decoder LLM on the GPU: (config, precision, context, batch, budget) → one
// arena laid out by models/decoder_plan.h, weights in it, a KV cache, prefill and CUDA-graph decode.
//
// In:  LlmSessionConfig — the decoder, the precision (fp16, bf16, int8 = W8A16, int4 = W4A16), the KV
//      capacity per sequence (`context`) and the batch, the budget (an emulated card's size less this
//      process's CUDA context and handles and --reserve, or the free memory), and the weights: seeded
//      random ones generated on the GPU (backend/cuda/kernels/llm_random.cuh; llama-7b in about a
//      second), a host TensorMap by HF name (tests), a checkpoint read tensor by tensor, or a GGUF
//      file's blocks as they are. GGUF precisions (q8_0, q4_0, q4_k_m) keep every matrix in its block
//      type: products by backend/cuda/kernels/gguf_gemv.cuh (decode) or dequantised tiles + cuBLASLt
//      (prefill), the embedding by gguf_embedding (rows decoded on the fly).
// Out: logits of the last token of each sequence, greedy next tokens, timings.
//
// Memory: exactly one DeviceArena of plan.total_bytes() — weights, KV, activations, scratch regions
// in the plan's order (VRAMFIT_CHECK that the arena fills to the byte). OutOfMemory from the arena is
// the "does not fit" result, thrown before any weight is generated.
//
// Execution, per pass over T = batch·n tokens (decoder_plan.h lists the buffers):
//   embedding → per layer: RMSNorm → qkv product (+bias) → RoPE in place on q, k → KV append →
//   attention (prefill: causal FlashAttention-2 style over the cache with the chunk's offset; decode:
//   split-sequence attention over the cache) → o product adding into x (+bias) → RMSNorm → gate_up
//   product → SiLU·up → down product adding into x → final RMSNorm of the last token → lm_head → argmax.
// Products: ≤ 8 rows (decode) a GEMV streaming the weights (llm_gemv.cuh: 16-bit, int8, int4);
// more rows cuBLASLt (16-bit) or the dequantising GEMM (int8/int4). Prefill runs in chunks of
// plan.options.prefill_chunk tokens per sequence. The decode step is captured once in a CUDA graph and
// replayed; between replays the host writes positions and lengths (pinned memory, async copies), and
// the graph's last node copies the greedy tokens into the next step's input ids.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "core/tensor_map.h"
#include "models/decoder_plan.h"
#include "models/decoder_weights.h"
#include "weights/gguf.h"

namespace vramfit {

struct LlmSessionConfig {
  DecoderConfig model;
  Precision precision = Precision::fp16;
  std::int64_t context = 512;  // KV capacity per sequence
  std::int64_t batch = 1;
  LlmPlanOptions plan;
  std::optional<std::uint64_t> vram_limit;  // emulated card (total bytes)
  // The budget as the caller already measured it (vramfit llm measures this process's CUDA context
  // once, fits against that budget and must probe against the same one); else made here as below.
  std::optional<std::uint64_t> budget;
  std::uint64_t reserve = 0;
  std::uint64_t seed = 1;
  int device = 0;
  const TensorMap* host_weights = nullptr;         // HF names, fp32 (quantized here as the precision says)
  const DecoderCheckpoint* checkpoint = nullptr;   // else; neither: random on the GPU
  // Else a GGUF file's tensors (weights/gguf.h; q/k rows are put back in HF order for our RoPE). Its
  // block types must be the plan's: set plan.source_types from the file (llm_gguf_source_types).
  const GgufLlamaModel* gguf = nullptr;
};

class LlmSession {
 public:
  explicit LlmSession(const LlmSessionConfig& cfg);
  ~LlmSession();
  LlmSession(const LlmSession&) = delete;
  LlmSession& operator=(const LlmSession&) = delete;

  const LlmMemoryPlan& plan() const;
  std::uint64_t budget() const;
  std::uint64_t arena_bytes() const;   // the one allocation (= plan().total_bytes())
  double setup_ms() const;             // weights generated or uploaded, first decode captured
  std::int64_t length() const;         // tokens in each sequence's cache
  cudaStream_t stream() const;

  void reset();  // empty caches (length 0); the weights stay
  // Feeds n tokens per sequence (tokens [batch, n] row-major) in prefill chunks. InvalidInput when
  // length() + n exceeds the context or an id is outside the vocabulary.
  void prefill(std::span<const std::int32_t> tokens, std::int64_t n);
  // One decode step per sequence (CUDA graph replay); `tokens` [batch], or empty to feed the greedy
  // tokens of the previous step (which stay on the device).
  void decode(std::span<const std::int32_t> tokens = {});
  std::vector<std::int32_t> next_tokens();  // argmax of the last logits, [batch]
  Tensor last_logits();                      // [batch, vocab] as fp32

  // Timings (CUDA events, synchronised): a prefill of n tokens per sequence from an empty cache, and
  // `steps` decode steps from the current length (ms per step). Both leave the cache as they found it
  // only in length (contents are overwritten).
  double time_prefill_ms(std::int64_t n);
  double time_decode_ms(std::int64_t steps);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vramfit
