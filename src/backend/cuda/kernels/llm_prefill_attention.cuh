// backend/cuda/kernels/llm_prefill_attention.cuh — causal attention of a prompt (prefill), with
// grouped-query attention, FlashAttention-2 style on tensor cores (the approach of attention.cuh,
// which does ViT's non-causal packed-qkv attention, with separate strided q/k/v, a causal mask,
// GQA and a query offset added).
//
// What it computes (CPU reference backend/cpu/llm_ops.h attention_gqa): for batch b, query i at
// absolute position p_i = q_offset + i (i < q_len) and query head h with kv head g = h / (H / H_kv):
//   o[b, i, h] = Σ_{j ≤ p_i, j < kv_len} softmax_j(scale · q[b, i, h]·k[b, j, g]) · v[b, j, g]
// (causal = false drops the j ≤ p_i condition). q_offset > 0 is a prompt continued after q_offset
// tokens already in the cache (chunked prefill); q_offset = 0 and kv_len = q_len is a plain prompt.
//
// Layout: every operand is [batch, tokens, heads, d] given by element strides (batch, token, head;
// the last dim contiguous): q and o with H heads, k and v with H_kv heads. So q/k/v can be slices of a
// fused qkv projection ([T, (H + 2H_kv)·d]: token stride (H + 2H_kv)·d, head stride d), and k/v can
// be read straight from the KV cache [batch, H_kv, max_ctx, d] (token stride d, head stride max_ctx·d).
// Strides must be multiples of 8 elements and pointers 16-byte aligned (16-byte cp.async rows).
// Dtypes: f16, bf16; fp32 scores, softmax statistics and accumulators; d ∈ {64, 128}; sm_80+.
//
// Algorithm: attention.cuh's 16-bit kernel — grid (⌈q_len/64⌉, batch·H), 128 threads (4 warps × 16
// query rows), q in registers as mma.sync m16n8k16 A-fragments, k/v tiles of 64 keys double-buffered
// in shared memory via cp.async, scores' C-fragments reused as p·v's A-fragments, v through
// ldmatrix.trans, online softmax in the log2 domain. Causality: a query tile stops at the key tile
// holding its last row's position; only the tiles that straddle the diagonal pay for the mask.
// Query tiles are issued longest-first (blockIdx.x reversed) so the triangle's long rows do not
// trail at the end. p is rounded to the storage dtype before p·v (as FlashAttention does).
// Shared memory: 4·64·(d + 8)·s bytes — 36 KiB at d = 64, 68 KiB at 128.
//
// Floor: 4·batch·H·d·(causal pairs) FLOPs ≈ 2·batch·H·d·q_len² causal at the tensor-core rate
// (H200 dense fp16 ≈ 990 TFLOP/s, this kernel reaches ~20–25% of it as attention.cuh measured);
// llama-7b at 512 tokens: 32 layers × 2·32·128·512² ≈ 69 GFLOP → ~0.07 ms at peak.
//
// Launch on `stream`; no scratch. InvalidInput on bad extents, strides or alignment; Unsupported per
// prefill_attention_unsupported (the gate).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

struct AttnStrides {
  std::int64_t batch = 0, token = 0, head = 0;  // elements
};

struct PrefillAttentionArgs {
  std::int64_t batch = 1, q_len = 1, kv_len = 1, heads = 1, kv_heads = 1, head_dim = 128;
  std::int64_t q_offset = 0;  // absolute position of query 0
  bool causal = true;
  float softmax_scale = 0.0f;  // 0: 1/√head_dim
  AttnStrides q, k, v, o;
};

std::optional<std::string> prefill_attention_unsupported(DType dtype, std::int64_t head_dim, int cc);

void prefill_attention(DType dtype, const void* q, const void* k, const void* v, void* o,
                       const PrefillAttentionArgs& a, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
