// backend/cuda/kernels/llm_embedding.cu — see llm_embedding.cuh.
#include "backend/cuda/kernels/llm_embedding.cuh"

#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

template <class T, int V>
__global__ void embedding_kernel(const std::int32_t* __restrict__ tokens, const T* __restrict__ table,
                                 std::int64_t vocab, int units, T* __restrict__ y) {
  const std::int64_t t = blockIdx.x;
  const std::int64_t id = tokens[t];
  const bool valid = id >= 0 && id < vocab;
  T* dst = y + t * units * V;
  const T* src = table + (valid ? id : 0) * units * V;
  for (int u = static_cast<int>(threadIdx.x); u < units; u += static_cast<int>(blockDim.x)) {
    llm::Unit<T, V> v;
    if (valid) {
      v = llm::load_unit<T, V>(src + static_cast<std::int64_t>(u) * V);
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) v.v[j] = detail::from_float<T>(0.0f);
    }
    llm::store_unit<T, V>(dst + static_cast<std::int64_t>(u) * V, v);
  }
}

}  // namespace

void embedding(DType dtype, const std::int32_t* tokens, std::int64_t count, const void* table, std::int64_t vocab,
               std::int64_t dim, void* y, cudaStream_t stream) {
  llm::require(count > 0 && count <= 0x7fffffff && vocab > 0 && dim > 0 && dim <= 0x7fffffff,
               "embedding: count, vocab and dim must be positive (got " + std::to_string(count) + ", " +
                   std::to_string(vocab) + ", " + std::to_string(dim) + ")");
  detail::dispatch_float(dtype, "embedding", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int P = detail::kPack<T>;
    const bool vec = dim % P == 0 && detail::aligned16(table) && detail::aligned16(y);
    const int units = static_cast<int>(vec ? dim / P : dim);
    const int threads = units >= 256 ? 256 : (units + 31) / 32 * 32;
    const auto grid = static_cast<unsigned>(count);
    if (vec)
      embedding_kernel<T, P><<<grid, threads, 0, stream>>>(tokens, static_cast<const T*>(table), vocab, units,
                                                          static_cast<T*>(y));
    else
      embedding_kernel<T, 1><<<grid, threads, 0, stream>>>(tokens, static_cast<const T*>(table), vocab, units,
                                                          static_cast<T*>(y));
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
