// backend/cuda/kernels/llm_kv_cache.cu — see llm_kv_cache.cuh.
#include "backend/cuda/kernels/llm_kv_cache.cuh"

#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

// Item = (token, head, unit of V elements); the same item index moves both k and v.
template <class T, int V>
__global__ void kv_append_kernel(const T* __restrict__ k, std::int64_t k_stride, const T* __restrict__ v,
                                 std::int64_t v_stride, const std::int32_t* __restrict__ seq,
                                 const std::int32_t* __restrict__ pos, T* __restrict__ ck, T* __restrict__ cv,
                                 int batch, int kv_heads, std::int64_t max_ctx, int units_per_head, int head_dim,
                                 std::int64_t items) {
  for (std::int64_t it = detail::global_thread(); it < items; it += detail::grid_threads()) {
    const int u = static_cast<int>(it % units_per_head);
    const std::int64_t th = it / units_per_head;
    const int h = static_cast<int>(th % kv_heads);
    const std::int64_t t = th / kv_heads;
    const int b = seq[t];
    const std::int64_t p = pos[t];
    if (b < 0 || b >= batch || p < 0 || p >= max_ctx) continue;
    const std::int64_t e = static_cast<std::int64_t>(u) * V;
    const std::int64_t dst = ((static_cast<std::int64_t>(b) * kv_heads + h) * max_ctx + p) * head_dim + e;
    const std::int64_t src_h = static_cast<std::int64_t>(h) * head_dim + e;
    llm::store_unit<T, V>(ck + dst, llm::load_unit<T, V>(k + t * k_stride + src_h));
    llm::store_unit<T, V>(cv + dst, llm::load_unit<T, V>(v + t * v_stride + src_h));
  }
}

}  // namespace

void kv_cache_append(DType dtype, const void* k, std::int64_t k_stride, const void* v, std::int64_t v_stride,
                     std::int64_t tokens, const std::int32_t* seq, const std::int32_t* pos, void* cache_k,
                     void* cache_v, const KvCacheDims& d, cudaStream_t stream) {
  llm::require(tokens > 0 && d.batch > 0 && d.batch <= 0x7fffffff && d.kv_heads > 0 && d.kv_heads <= 0x7fffffff &&
                   d.max_ctx > 0 && d.head_dim > 0 && d.head_dim <= 0x7fffffff,
               "kv_cache_append: tokens and the cache extents must be positive");
  llm::require(k_stride >= d.kv_heads * d.head_dim && v_stride >= d.kv_heads * d.head_dim,
               "kv_cache_append: k_stride and v_stride must be ≥ kv_heads·head_dim");
  llm::require(k != nullptr && v != nullptr && seq != nullptr && pos != nullptr && cache_k != nullptr &&
                   cache_v != nullptr,
               "kv_cache_append: null pointer");
  detail::dispatch_float(dtype, "kv_cache_append", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int P = detail::kPack<T>;
    const bool vec = d.head_dim % P == 0 && k_stride % P == 0 && v_stride % P == 0 && detail::aligned16(k) &&
                     detail::aligned16(v) && detail::aligned16(cache_k) && detail::aligned16(cache_v);
    const int uph = static_cast<int>(vec ? d.head_dim / P : d.head_dim);
    const std::int64_t items = tokens * d.kv_heads * uph;
    auto go = [&](auto kernel) {
      kernel<<<detail::grid_for(items), detail::kThreads, 0, stream>>>(
          static_cast<const T*>(k), k_stride, static_cast<const T*>(v), v_stride, seq, pos, static_cast<T*>(cache_k),
          static_cast<T*>(cache_v), static_cast<int>(d.batch), static_cast<int>(d.kv_heads), d.max_ctx, uph,
          static_cast<int>(d.head_dim), items);
    };
    if (vec) go(kv_append_kernel<T, P>);
    else go(kv_append_kernel<T, 1>);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
