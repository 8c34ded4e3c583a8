// backend/cuda/kernels/llm_decode_attention.cuh — attention of one new query token per sequence over
// the KV cache, with grouped-query attention, split along the sequence (flash-decoding: Dao et al.
// 2023, "Flash-Decoding for long-context inference") and a second pass that merges the splits.
//
// What it computes (CPU reference backend/cpu/llm_ops.h attention_gqa with q_len 1): for sequence b
// of length L_b = seq_lens[b] (keys 0 … L_b − 1 of the cache, the new token's included) and query head
// h, using kv head g = h / (H / H_kv) (HF repeat_kv: consecutive q heads share a kv head):
//   o[b, h] = Σ_j softmax_j(scale · q[b, h]·K[b, g, j]) · V[b, g, j]        scale default 1/√d
//
// Layout: q [batch, H, d] and o [batch, H, d] with sequences q_stride / o_stride elements apart (≥ H·d;
// heads d apart); cache [batch, H_kv, max_ctx, d] (llm_kv_cache.cuh). seq_lens: device int32 [batch],
// each in [1, max_ctx] — device values, so a captured decode graph replays at the next length.
// Dtypes: f16, bf16 (q, cache, o alike); fp32 scores, softmax and accumulation; d ∈ {64, 128};
// G = H / H_kv ∈ {1 … 8}.
//
// Algorithm: kernel 1, grid (splits, batch·H_kv), 128 threads. Block (s, b, g) takes the keys of
// split s — L_b is cut into n_s = min(splits, ⌈L_b/64⌉) chunks of ⌈L_b/n_s⌉ keys (blocks past n_s
// exit), so short sequences use few blocks and the launch shape depends only on `splits` (graph-safe)
// — and serves all G query heads of kv head g, so K and V are read once per group:
//   scores: d/8 lanes share a key, each loading 16 bytes (8 values) of it, four keys in flight per
//     lane; a lane forms the G partial dot products of its 8 dims and a butterfly reduce-scatter over
//     the d/8 lanes (G − 1 + log2(d/8/G) shuffles, not G·log2(d/8)) leaves one head's score per lane,
//     written to shared memory (G × ≤ 512 fp32, log2 domain);
//   softmax: a warp per head: chunk max, p = 2^(s − m), sum;
//   p·V: the same lane/key mapping over V (the first step's V vectors were loaded together with its K
//     vectors: one memory round trip fewer per split), accumulators [G][8] per lane, reduced across the lanes
//     and warps that hold the same dims (shuffles, then shared memory).
// Output: normalised o directly when splits = 1, else (m, l, unnormalised o) per split to scratch and
// kernel 2 (grid batch·H, d threads) merges them: M = max m_s, o = Σ 2^(m_s − M)·o_s / Σ 2^(m_s − M)·l_s.
// On sm_90+ with ≤ 8 splits, the splits of one (sequence, kv head) are one thread-block cluster and the
// first block merges the others' partials from their shared memory (no scratch traffic, no kernel 2).
//
// Splits: decode_attention_splits() picks enough blocks to fill the GPU (~4 per SM) at max_ctx while
// keeping chunks ≤ 512 keys (the score buffer) and ≥ 64: splits ≥ ⌈max_ctx/512⌉.
// Scratch: decode_attention_scratch_bytes() = batch·H·splits·(d + 2)·4 bytes (0 when splits = 1).
//
// Floor: the cache bytes read, 2·batch·H_kv·L·d·s — llama-7b (32 layers × H_kv 32 × d 128, fp16) at
// context 4096: 64 MiB per layer → ~16 µs per layer at ~4.1 TB/s; at 512: ~2 µs (launch-bound).
//
// Launch on `stream`; device pointers the caller owns. InvalidInput on bad extents, Unsupported for
// head dims / group sizes / dtypes outside the lists above (decode_attention_unsupported is the gate).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

struct DecodeAttentionArgs {
  std::int64_t batch = 1, heads = 1, kv_heads = 1, head_dim = 128, max_ctx = 1;
  std::int64_t q_stride = 0, o_stride = 0;   // elements between sequences (0: heads·head_dim)
  const std::int32_t* seq_lens = nullptr;    // device [batch], each in [1, max_ctx]
  float softmax_scale = 0.0f;                // 0: 1/√head_dim
};

std::optional<std::string> decode_attention_unsupported(DType dtype, std::int64_t head_dim, std::int64_t group);

// Number of sequence splits for these extents on a GPU with `sm_count` SMs (≥ ⌈max_ctx/512⌉, ≥ 1).
int decode_attention_splits(const DecodeAttentionArgs& a, int sm_count);
std::uint64_t decode_attention_scratch_bytes(const DecodeAttentionArgs& a, int splits);

// scratch: decode_attention_scratch_bytes(a, splits) bytes, 16-byte aligned (null when 0).
void decode_attention(DType dtype, const void* q, const void* cache_k, const void* cache_v, void* o,
                      const DecodeAttentionArgs& a, int splits, void* scratch, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
