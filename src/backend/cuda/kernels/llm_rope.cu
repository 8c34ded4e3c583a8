// backend/cuda/kernels/llm_rope.cu — see llm_rope.cuh.
#include "backend/cuda/kernels/llm_rope.cuh"

#include <cmath>

#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

// Work item = (token, head over q then k, pair i). Consecutive items are consecutive i of one head.
template <class T> struct CacheOut {
  T* k = nullptr;  // null: no fused append
  T* v = nullptr;
  const T* src_v = nullptr;
  std::int64_t v_stride = 0;
  const std::int32_t* seq = nullptr;
  std::int64_t batch = 0, max_ctx = 0;
};

template <class T>
__global__ void rope_kernel(T* q, T* k, int q_heads, int kv_heads, std::int64_t q_stride, std::int64_t k_stride,
                            int half, std::int64_t items, const std::int32_t* __restrict__ positions,
                            const float* __restrict__ inv_freq, float neg_log2_theta_over_half, float scale,
                            CacheOut<T> co) {
  // Heads of a token: q heads, k heads, then (fused append only) v heads, which are copied.
  const int heads = q_heads + kv_heads + (co.k != nullptr ? kv_heads : 0);
  for (std::int64_t it = detail::global_thread(); it < items; it += detail::grid_threads()) {
    const int i = static_cast<int>(it % half);
    const std::int64_t th = it / half;
    const int h = static_cast<int>(th % heads);
    const std::int64_t t = th / heads;
    T* slot = nullptr;  // this head's cache row, fused append only
    if (co.k != nullptr && h >= q_heads) {
      const int hk = (h - q_heads) % kv_heads;
      const std::int32_t b = co.seq[t], p = positions[t];
      if (b >= 0 && b < co.batch && p >= 0 && p < co.max_ctx)
        slot = (h - q_heads < kv_heads ? co.k : co.v) + ((static_cast<std::int64_t>(b) * kv_heads + hk) * co.max_ctx + p) * 2 * half;
      if (h - q_heads >= kv_heads) {  // a v head: copy the pair
        if (slot != nullptr) {
          const T* vv = co.src_v + t * co.v_stride + static_cast<std::int64_t>(hk) * 2 * half;
          slot[i] = vv[i];
          slot[i + half] = vv[i + half];
        }
        continue;
      }
    }
    T* v = h < q_heads ? q + t * q_stride + static_cast<std::int64_t>(h) * 2 * half
                       : k + t * k_stride + static_cast<std::int64_t>(h - q_heads) * 2 * half;
    const float f = inv_freq != nullptr ? inv_freq[i] : exp2f(static_cast<float>(i) * neg_log2_theta_over_half);
    const float a = static_cast<float>(positions[t]) * f;
    float s, c;
    sincosf(a, &s, &c);
    c *= scale;
    s *= scale;
    const float x0 = to_float(v[i]), x1 = to_float(v[i + half]);
    const T r0 = detail::from_float<T>(x0 * c - x1 * s), r1 = detail::from_float<T>(x1 * c + x0 * s);
    v[i] = r0;
    v[i + half] = r1;
    if (slot != nullptr) {
      slot[i] = r0;
      slot[i + half] = r1;
    }
  }
}

}  // namespace

void rope(DType dtype, void* q, void* k, const RopeArgs& a, cudaStream_t stream) {
  const std::int64_t kv_heads = k != nullptr ? a.kv_heads : 0;
  llm::require(a.tokens > 0 && a.head_dim > 0 && a.head_dim % 2 == 0 && a.head_dim <= 256 && a.q_heads > 0 &&
                   kv_heads >= 0,
               "rope: need tokens > 0, q_heads > 0 and an even head_dim ≤ 256 (got tokens " + std::to_string(a.tokens) +
                   ", q_heads " + std::to_string(a.q_heads) + ", head_dim " + std::to_string(a.head_dim) + ")");
  llm::require(a.q_stride >= a.q_heads * a.head_dim && (kv_heads == 0 || a.k_stride >= kv_heads * a.head_dim),
               "rope: token strides must cover the heads (q_stride ≥ q_heads·head_dim, k_stride ≥ kv_heads·head_dim)");
  llm::require(q != nullptr && a.positions != nullptr, "rope: q and positions must be given");
  llm::require(a.inv_freq != nullptr || a.theta > 0.0f, "rope: theta must be positive");
  const int half = static_cast<int>(a.head_dim / 2);
  const bool fused = a.cache_k != nullptr;
  llm::require(!fused || (kv_heads > 0 && a.cache_v != nullptr && a.v != nullptr && a.seq != nullptr && a.cache_batch > 0 &&
                          a.cache_max_ctx > 0 && a.v_stride >= kv_heads * a.head_dim),
               "rope: the fused KV append needs k, v, seq, both caches, their batch and max_ctx, and v_stride ≥ kv_heads·head_dim");
  const std::int64_t items = a.tokens * (a.q_heads + kv_heads * (fused ? 2 : 1)) * half;
  // base^(−2i/d) = 2^(i · (−log2(base) / (d/2)))
  const float neg = static_cast<float>(-std::log2(static_cast<double>(a.theta)) / static_cast<double>(half));
  detail::dispatch_float(dtype, "rope", [&](auto tag) {
    using T = typename decltype(tag)::type;
    rope_kernel<T><<<detail::grid_for(items), detail::kThreads, 0, stream>>>(
        static_cast<T*>(q), static_cast<T*>(k), static_cast<int>(a.q_heads), static_cast<int>(kv_heads), a.q_stride,
        a.k_stride, half, items, a.positions, a.inv_freq, neg, a.scale,
        CacheOut<T>{static_cast<T*>(a.cache_k), static_cast<T*>(a.cache_v), static_cast<const T*>(a.v), a.v_stride, a.seq,
                    a.cache_batch, a.cache_max_ctx});
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
