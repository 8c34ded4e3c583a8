// backend/cuda/kernels/llm_rms_norm.cu — see llm_rms_norm.cuh.
#include "backend/cuda/kernels/llm_rms_norm.cuh"

#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

template <class T, int V>
__global__ void rms_norm_kernel(const T* x, const T* __restrict__ w, T* y, int units, int features,
                                float eps) {
  detail::pdl_trigger();  // the next kernel (a GEMV) may start streaming its weights now
  __shared__ float scratch[32];
  const std::int64_t off = static_cast<std::int64_t>(blockIdx.x) * features;
  const T* xr = x + off;
  float ss = 0.0f;
  for (int u = static_cast<int>(threadIdx.x); u < units; u += static_cast<int>(blockDim.x)) {
    const auto in = llm::load_unit<T, V>(xr + static_cast<std::int64_t>(u) * V);
#pragma unroll
    for (int j = 0; j < V; ++j) {
      const float f = to_float(in.v[j]);
      ss = fmaf(f, f, ss);
    }
  }
  const float total = detail::block_sum(ss, scratch);
  const float inv = rsqrtf(total / static_cast<float>(features) + eps);
  T* yr = y + off;
  for (int u = static_cast<int>(threadIdx.x); u < units; u += static_cast<int>(blockDim.x)) {
    const std::int64_t e = static_cast<std::int64_t>(u) * V;
    const auto in = llm::load_unit<T, V>(xr + e);
    const auto g = llm::load_unit<T, V>(w + e);
    llm::Unit<T, V> out;
#pragma unroll
    for (int j = 0; j < V; ++j) out.v[j] = detail::from_float<T>(to_float(in.v[j]) * inv * to_float(g.v[j]));
    llm::store_unit<T, V>(yr + e, out);
  }
}

}  // namespace

void rms_norm(DType dtype, const void* x, const void* weight, void* y, std::int64_t rows, std::int64_t features,
              float eps, cudaStream_t stream) {
  llm::require(rows > 0 && features > 0 && features <= 0x7fffffff && rows <= 0x7fffffff,
               "rms_norm: rows and features must be positive (got " + std::to_string(rows) + ", " +
                   std::to_string(features) + ")");
  llm::require(eps >= 0.0f, "rms_norm: eps must be ≥ 0");
  detail::dispatch_float(dtype, "rms_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int P = detail::kPack<T>;
    const bool vec = features % P == 0 && detail::aligned16(x) && detail::aligned16(y) && detail::aligned16(weight);
    const int units = static_cast<int>(vec ? features / P : features);
    const int threads = units >= 256 ? 256 : (units + 31) / 32 * 32;
    const auto grid = static_cast<unsigned>(rows);
    if (vec)
      rms_norm_kernel<T, P><<<grid, threads, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(weight),
                                                         static_cast<T*>(y), units, static_cast<int>(features), eps);
    else
      rms_norm_kernel<T, 1><<<grid, threads, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(weight),
                                                         static_cast<T*>(y), units, static_cast<int>(features), eps);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
