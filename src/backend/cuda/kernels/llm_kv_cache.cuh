// backend/cuda/kernels/llm_kv_cache.cuh — append the keys and values of new tokens to the KV cache.
//
// What it computes: for each new token t (t < tokens) with batch slot b = seq[t] and position
// p = pos[t]:  cache_k[b, h, p, :] = k[t, h, :],  cache_v[b, h, p, :] = v[t, h, :]  for h < kv_heads.
// A prefill of one sequence passes seq = {b, b, …}, pos = {p0, p0+1, …}; a decode step of a batch
// passes seq = {0, 1, …, B−1}, pos = {len_0 − 1, …}. Entries with b ∉ [0, batch) or p ∉ [0, max_ctx)
// are skipped (a kernel cannot throw; validate on the host).
//
// Layout: cache [batch, kv_heads, max_ctx, head_dim] (KvCacheDims), row-major — each head's keys
// contiguous along the sequence, which is what the attention kernels stream. k, v: tokens `k_stride` /
// `v_stride` elements apart, heads head_dim apart within a token (so they can be slices of a fused qkv
// output). seq, pos: device int32 [tokens] — device values, so a captured CUDA graph replays with the
// positions of the step (the host updates them between replays).
// Dtypes: f32, f16, bf16 (k, v and the cache the same; vramfit's LLM cache is f16, bf16 for bf16 models).
//
// Tiling: grid-stride over 16-byte packs of (token, head, pack) — head_dim a multiple of 8 (16-bit)
// and 16-byte-aligned strides and pointers — else over elements. Bytes moved: 4·tokens·kv_heads·d·s.
//
// Launch on `stream`; no scratch. InvalidInput on bad extents.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

struct KvCacheDims {
  std::int64_t batch = 1, kv_heads = 1, max_ctx = 1, head_dim = 128;
  std::int64_t elements() const { return batch * kv_heads * max_ctx * head_dim; }  // of one of k, v
};

void kv_cache_append(DType dtype, const void* k, std::int64_t k_stride, const void* v, std::int64_t v_stride,
                     std::int64_t tokens, const std::int32_t* seq, const std::int32_t* pos, void* cache_k,
                     void* cache_v, const KvCacheDims& dims, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
