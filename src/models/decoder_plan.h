// models/decoder_plan.h — the memory of a decoder LLM session, exactly: what `vramfit llm` predicts
// and what the CUDA session (runtime/llm_session.h) allocates, from this one plan (DESIGN rule 4).
//
// In:  a DecoderConfig, a precision (fp16, bf16, int8 = W8A16, int4 = W4A16), the KV capacity per
//      sequence (`context`), the batch, and options (prefill chunk, cuBLASLt workspace budget).
// Out: an LlmMemoryPlan — five regions of one device arena, each 256-byte aligned, in this order:
//   weights     every tensor at its format, each 256-aligned, in `weights` order (offsets given);
//   kv          the fp16 (bf16 for bf16 models) KV cache: per layer K then V, each
//               [batch, kv_heads, context, head_dim] — kv_bytes_per_token = 2·layers·kv_heads·head_dim·2;
//   activations one arena shared by the prefill pass and the decode step (they never run at once),
//               laid out with liveness by graph/planner.h assign_offsets;
//   carry       the greedy tokens of the last step ([batch] int32, 256-aligned);
//   scratch     the largest of: the cuBLASLt workspace budget (16-bit GEMMs), the dequantising GEMM's
//               tile + workspace (int8/int4 prefill, and decode at batch > 8), the split-sequence decode
//               attention's partials.
// total = the sum: the session's one cudaMalloc. The CUDA context and library handles are not in it.
//
// GGUF precisions (q8_0, q4_0, q4_k_m; weights/gguf_quant.h): every tensor llama.cpp quantizes is kept
// in its GGUF block type — the seven projections, the token embedding (gathered by decoding the rows
// of the ids) and the lm_head — with the types of llama.cpp's recipe (gguf_recipe_type: Q4_K_M puts
// attn_v and ffn_down in Q6_K in half the layers and output.weight in Q6_K) or, for a file given with
// --gguf, the types the file has (LlmPlanOptions::source_types). So a stacked weight (q|k|v) may mix
// types: it is a list of segments, one per source, each a run of rows in one type starting at a
// 256-aligned offset inside the weight. Norms stay 16-bit (llama.cpp keeps them F32: 64 KiB for a 7B).
//
// Which tensors are quantized (int8/int4): the seven projection matrices of every block — q, k, v, o,
// gate, up, down — which hold 97% of a 7B model's parameters and are what decode streams per token.
// Kept 16-bit (fp16 with int8/int4): the token embedding (a gather, read one row per token), the
// lm_head (its logits feed greedy sampling; llama.cpp keeps it at ≥ 6 bits for the same reason), the
// RMSNorm weights and the q/k/v biases (vectors). Rows of q, k, v are stacked into one [Q+2KV, H]
// matrix and gate, up into one [2I, H], so a block runs 4 products, not 7 — per-row (int8) and
// per-row-group (int4) scales make stacking exact: the stacked format is the concatenation of the
// separately quantized matrices.
//
// Activation schedule (one pass; T tokens = batch · tokens per sequence: the prefill chunk, or 1 at
// decode). Buffers and the steps that write/read them, per layer (identical layers reuse the same
// offsets; x carries the residual stream across layers):
//   ids, pos, seq [T] int32, seq_lens [batch] int32 (inputs, whole pass)
//   x [T, H]             embedding → … → every layer reads and adds into it (whole pass)
//   h [T, H]             RMSNorm(x) → qkv product         (and again: RMSNorm(x) → gate_up product)
//   qkv [T, Q+2KV]       product → RoPE in place → KV append → attention (q read from here)
//   attn [T, Q]          attention → o product (adds into x: the GEMM's residual is x itself)
//   gate_up [T, 2I]      product → SiLU·mul
//   act [T, I]           SiLU·mul → down product (adds into x)
//   last [batch, H]      prefill only: the last token of each sequence, copied out of x, normed in place
//   logits [batch, V]    lm_head product → argmax (into the carry region)
// Sizes are planned per sequence (rounded to 256 bytes) and multiplied by the batch, as graph/planner.h
// does per sample, so the activation arena is exactly linear in the batch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/checked.h"
#include "core/dtype.h"
#include "graph/planner.h"
#include "models/decoder.h"

namespace vramfit {

constexpr std::uint64_t kLlmAlignment = 256;
constexpr std::uint64_t kDefaultLlmWorkspaceBytes = 32ull << 20;   // cuBLASLt budget per product
constexpr std::uint64_t kDequantTileBytes = 32ull << 20;           // int8/int4 prefill: dequantised tile
constexpr std::int64_t kDefaultPrefillChunk = 512;                  // tokens per sequence per prefill pass
constexpr std::int64_t kLlmGemvMaxBatch = 8;  // decode products at batch ≤ 8 are GEMVs (no scratch)

enum class LlmWeightRole : std::uint8_t { Embedding, AttnNorm, Qkv, QkvBias, O, OBias, MlpNorm, GateUp, Down, FinalNorm, LmHead, RopeTable };
std::string_view to_string(LlmWeightRole r);

// A run of rows of a GGUF-typed weight in one block type: rows [row0, row0 + rows) in `dtype`, at
// `offset` bytes from the weight's data_offset (256-aligned), `bytes` long (rows · the type's row
// bytes). Consecutive sources of the same type share a run (Q4_K_M's q|k, gate|up): one GEMV launch.
struct LlmSegment {
  DType dtype = DType::q8_0;
  std::int64_t row0 = 0, rows = 0;
  std::uint64_t offset = 0, bytes = 0;
};

struct LlmWeight {
  std::string name;                  // "layers.3.qkv"
  LlmWeightRole role = LlmWeightRole::Qkv;
  std::int32_t layer = -1;
  std::vector<std::string> sources;  // checkpoint tensors stacked by rows, in order (HF names)
  std::int64_t rows = 0, cols = 1;   // [n, k] (vectors: rows = length, cols = 1)
  DType dtype = DType::f16;          // f16 / bf16 / i8 / i4 (scales fp16), f32 for the RoPE table
  std::uint64_t data_bytes = 0;      // q / packed / the 16-bit values
  std::uint64_t scale_bytes = 0;     // int8: 2·n; int4: 2·n·k/128; else 0
  std::uint64_t data_offset = 0;     // from the start of the weights region (256-aligned)
  std::uint64_t scale_offset = 0;
  std::vector<std::int64_t> source_rows;  // rows of each source, in order (sum = rows)
  std::vector<LlmSegment> segments;  // GGUF block types only (dtype = the first segment's); else empty
  bool gguf() const { return !segments.empty(); }
  // Source i of a GGUF-typed weight: its type, first row, and byte offset from data_offset.
  struct Place {
    DType dtype;
    std::int64_t row0, rows;
    std::uint64_t offset, bytes;
  };
  Place place(std::size_t source) const;
};

struct LlmBuffer {
  std::string name;        // "x", "qkv", …
  LiveRange range;         // bytes at the plan's batch; steps of the pass
  std::uint64_t offset = 0;
};

// One pass over the schedule above.
struct LlmPassPlan {
  std::int64_t tokens_per_sequence = 1;
  std::vector<LlmBuffer> buffers;
  std::uint64_t arena_bytes = 0;
  std::uint64_t lower_bound_bytes = 0;
  const LlmBuffer& buffer(std::string_view name) const;  // InternalError if absent
};

struct LlmPlanOptions {
  std::int64_t prefill_chunk = kDefaultPrefillChunk;      // tokens per sequence per prefill pass
  std::uint64_t workspace_bytes = kDefaultLlmWorkspaceBytes;  // cuBLASLt budget
  // GGUF precisions: the block type of each checkpoint tensor (HF name) as a --gguf file has it;
  // empty: llama.cpp's recipe for the precision. Float types (f32/f16/bf16) run as fp16.
  std::map<std::string, DType> source_types;
};

struct LlmMemoryPlan {
  std::string model;
  Precision precision = Precision::fp16;
  DType act_dtype = DType::f16;     // activations and KV cache
  DType weight_dtype = DType::f16;  // of the quantized projections
  std::int64_t context = 0;         // KV capacity per sequence
  std::int64_t batch = 1;
  LlmPlanOptions options;

  std::vector<LlmWeight> weights;
  std::uint64_t weights_bytes = 0;
  std::uint64_t kv_bytes_per_token = 0;  // per token of one sequence
  std::uint64_t kv_bytes = 0;            // batch · context · per token
  LlmPassPlan prefill;                   // batch · min(chunk, context) tokens
  LlmPassPlan decode;                    // batch tokens
  std::uint64_t activation_bytes = 0;    // max of the two passes (one region)
  std::int64_t decode_attention_splits = 1;  // upper bound the scratch is sized for
  std::int64_t dequant_tile_rows_max = 0;    // largest tile (int8/int4), 0 for 16-bit
  std::uint64_t scratch_bytes = 0;
  // The greedy tokens of the last step, [batch] int32: written by either pass's argmax, read by the
  // next decode step's embedding (outside the activation region the two passes share).
  std::uint64_t carry_bytes = 0;
  std::uint64_t total_bytes() const {
    std::uint64_t t = weights_bytes;
    for (std::uint64_t part : {kv_bytes, activation_bytes, scratch_bytes, carry_bytes})
      t = checked_add(t, part, "LLM memory total (weights + KV cache + activations + scratch)");
    return t;
  }

  const LlmWeight& weight(std::string_view name) const;  // InternalError if absent
};

// "Can it run?": nullopt or why not (precision not an LLM precision, int4 with k % 128 ≠ 0).
std::optional<std::string> llm_unsupported_reason(const DecoderConfig& c, Precision p);
// q8_0, q4_0, q4_k_m: weights in GGUF block types (above).
bool is_gguf_precision(Precision p);
// The type a checkpoint tensor (HF name, PyTorch-order [rows, cols]; cols = 1 for vectors) is stored
// in under a precision: the activation dtype for 16-bit storage, i8/i4 for int8/int4 projections, a
// GGUF block type (or f16) for the GGUF precisions as described above. Unsupported per
// llm_unsupported_reason.
DType llm_source_dtype(const DecoderConfig& c, Precision p, const std::string& hf_name, std::int64_t rows,
                       std::int64_t cols, const LlmPlanOptions& opt = {});
// Activation / KV dtype and the quantized weight dtype of an LLM precision (Unsupported otherwise).
DType llm_activation_dtype(Precision p);
DType llm_weight_dtype(Precision p);

// Only the weights (no context or batch needed). Unsupported per llm_unsupported_reason.
std::vector<LlmWeight> plan_llm_weights(const DecoderConfig& c, Precision p, std::uint64_t* total_bytes = nullptr,
                                        const LlmPlanOptions& opt = {});
std::uint64_t llm_kv_bytes_per_token(const DecoderConfig& c);

// Tensor parallelism over `ranks` GPUs of one machine (Megatron-LM's split, Shoeybi et al. 2019, §3):
// each rank holds heads/ranks query heads and kv_heads/ranks KV heads (q|k|v and gate|up split by
// output rows, o_proj and down_proj by input columns, followed by an all-reduce of the [tokens, hidden]
// partial sums, in place), intermediate/ranks MLP rows, and vocab/ranks rows of the embedding and the
// LM head (vocabulary-parallel); norms are replicated. What one rank plans is the plan of the returned
// config: same hidden size and layers, the split extents divided. InvalidInput unless ranks ≥ 1 divides
// heads, KV heads, the intermediate size and the vocabulary.
DecoderConfig tensor_parallel_shard(const DecoderConfig& c, std::int64_t ranks);
// NCCL's own device memory per rank for one communicator, an allowance until measured: the ring and
// tree buffers of its channels (NCCL_BUFFSIZE 4 MiB by default, per channel and direction; up to 16
// channels between two NVLink GPUs) — 16 · 2 · 4 MiB = 128 MiB — plus 64 MiB for its other state.
constexpr std::uint64_t kNcclAllowanceBytes = 192ull << 20;

// The whole plan. InvalidInput for context or batch < 1; Unsupported per llm_unsupported_reason.
LlmMemoryPlan plan_llm_memory(const DecoderConfig& c, Precision p, std::int64_t context, std::int64_t batch,
                              const LlmPlanOptions& opt = {});

// Rows of W dequantised per tile for an [n, k] int8/int4 matrix: n when n·k·2 ≤ kDequantTileBytes,
// else the largest multiple of 128 that fits (≥ 128).
std::int64_t dequant_tile_rows(std::int64_t n, std::int64_t k);
// The scratch the dequantising GEMM (backend/cuda/kernels/llm_gemm_dequant.h DequantGemm) needs for
// x [m, k]·W[n, k]ᵀ with that tile and workspace limit: the tile, the [m, tile] staging buffer when
// tiled, the cuBLASLt workspace, each 256-aligned. The session checks the kernel's own count.
std::uint64_t dequant_gemm_scratch_bytes(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t tile_rows,
                                         std::uint64_t workspace_limit);
// Upper bound of the decode attention splits for a KV capacity (chunks of ≥ 64 keys: ⌈context/64⌉)
// and the scratch of its partials: batch·heads·splits·(head_dim + 2)·4 bytes (0 when 1 split).
std::int64_t decode_attention_splits_bound(std::int64_t context);
std::uint64_t decode_attention_scratch_bytes(const DecoderConfig& c, std::int64_t batch, std::int64_t splits);

}  // namespace vramfit
