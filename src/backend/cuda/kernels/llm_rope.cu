// backend/cuda/kernels/llm_rope.cu — see llm_rope.cuh.
#include "backend/cuda/kernels/llm_rope.cuh"

#include <cmath>

#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

// Work item = (token, head over q then k, pair i). Consecutive items are consecutive i of one head.
template <class T>
__global__ void rope_kernel(T* q, T* k, int q_heads, int kv_heads, std::int64_t q_stride, std::int64_t k_stride,
                            int half, std::int64_t items, const std::int32_t* __restrict__ positions,
                            const float* __restrict__ inv_freq, float neg_log2_theta_over_half, float scale) {
  const int heads = q_heads + kv_heads;
  for (std::int64_t it = detail::global_thread(); it < items; it += detail::grid_threads()) {
    const int i = static_cast<int>(it % half);
    const std::int64_t th = it / half;
    const int h = static_cast<int>(th % heads);
    const std::int64_t t = th / heads;
    T* v = h < q_heads ? q + t * q_stride + static_cast<std::int64_t>(h) * 2 * half
                       : k + t * k_stride + static_cast<std::int64_t>(h - q_heads) * 2 * half;
    const float f = inv_freq != nullptr ? inv_freq[i] : exp2f(static_cast<float>(i) * neg_log2_theta_over_half);
    const float a = static_cast<float>(positions[t]) * f;
    float s, c;
    sincosf(a, &s, &c);
    c *= scale;
    s *= scale;
    const float x0 = to_float(v[i]), x1 = to_float(v[i + half]);
    v[i] = detail::from_float<T>(x0 * c - x1 * s);
    v[i + half] = detail::from_float<T>(x1 * c + x0 * s);
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
  const std::int64_t items = a.tokens * (a.q_heads + kv_heads) * half;
  // base^(−2i/d) = 2^(i · (−log2(base) / (d/2)))
  const float neg = static_cast<float>(-std::log2(static_cast<double>(a.theta)) / static_cast<double>(half));
  detail::dispatch_float(dtype, "rope", [&](auto tag) {
    using T = typename decltype(tag)::type;
    rope_kernel<T><<<detail::grid_for(items), detail::kThreads, 0, stream>>>(
        static_cast<T*>(q), static_cast<T*>(k), static_cast<int>(a.q_heads), static_cast<int>(kv_heads), a.q_stride,
        a.k_stride, half, items, a.positions, a.inv_freq, neg, a.scale);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
