// backend/cuda/kernels/llm_rope.cuh — rotary position embedding (Su et al. 2021, "RoFormer", eq. 34) in
// the HF "rotate_half" convention, applied in place to q and k.
//
// What it computes (CPU reference backend/cpu/llm_ops.h rope): for a token at position p, each head
// vector x[0 … d) and i < d/2, with θ_i = inv_freq[i] (default base^(−2i/d), base = rope_theta):
//   c = cos(p·θ_i)·scale, s = sin(p·θ_i)·scale
//   x'[i]       = x[i]·c − x[i + d/2]·s
//   x'[i + d/2] = x[i + d/2]·c + x[i]·s
// (HF modeling_llama apply_rotary_pos_emb: q·cos + rotate_half(q)·sin, cos = cat(cos θ, cos θ).)
// p·θ_i is one fp32 product as in HF (position as float times the fp32 inv_freq), cos and sin are
// fp32 (sincosf, full range reduction: positions up to 10⁶ stay accurate), the rotation is fp32 and
// rounded once (HF rounds cos/sin to the activation dtype first; ≤ 1 ulp apart).
// inv_freq: pass the table (device, d/2 floats) for rope scaling (llama3, linear, dynamic …) or to
// match a reference bit for bit — backend/cpu/llm_ops.h rope_inv_freq() computes HF's default; null
// computes base^(−2i/d) = exp2(−(2i/d)·log2 base) in the kernel. `scale` is HF's attention_scaling
// (1 for default / llama3 rope).
//
// Layout: q [tokens, q_heads, d] and k [tokens, kv_heads, d] with heads contiguous (d apart) and
// tokens `q_stride` / `k_stride` elements apart (so q, k can be column slices of a fused qkv
// projection output [tokens, (H + 2·H_kv)·d]); positions [tokens] int32 on the device (any order,
// e.g. the per-sequence positions of a decode batch). k may be null (q only).
// Dtypes: f32, f16, bf16. d even, ≤ 256.
//
// Tiling: one thread per rotated pair (i, i + d/2) of one head of one token — grid-stride over
// tokens·(q_heads + kv_heads)·d/2; consecutive threads take consecutive i, so the loads of x[i] and of
// x[i + d/2] are each coalesced. Memory-bound (reads and writes q and k once); a few µs at decode.
// With the fused append, v heads are further items (a pair copied per thread) and the rotated k pair
// is stored twice (in place and into the cache).
//
// Launch on `stream`; no scratch. InvalidInput on bad extents (d odd or > 256, strides too small).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

struct RopeArgs {
  std::int64_t tokens = 1;
  std::int64_t head_dim = 128;
  std::int64_t q_heads = 1, q_stride = 0;  // stride between tokens, elements (≥ q_heads·d)
  std::int64_t kv_heads = 0, k_stride = 0;  // k: may be absent (kv_heads 0 or k null)
  const std::int32_t* positions = nullptr;  // device [tokens]
  float theta = 10000.0f;                   // rope_theta (used when inv_freq is null)
  const float* inv_freq = nullptr;          // device [head_dim/2] or null
  float scale = 1.0f;                       // multiplies cos and sin (HF attention_scaling)
  // Optional, fused KV append (llm_kv_cache.cuh, same layout and skipping rules): with cache_k set,
  // the rotated k and the values v (tokens v_stride apart, kv_heads·head_dim each) of token t are
  // also written to cache_k / cache_v[seq[t], head, positions[t], :] — one kernel where the decode
  // step had two.
  void* cache_k = nullptr;
  void* cache_v = nullptr;
  const void* v = nullptr;
  std::int64_t v_stride = 0;
  const std::int32_t* seq = nullptr;
  std::int64_t cache_batch = 0, cache_max_ctx = 0;
};

void rope(DType dtype, void* q, void* k, const RopeArgs& args, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
