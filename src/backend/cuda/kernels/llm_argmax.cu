// backend/cuda/kernels/llm_argmax.cu — see llm_argmax.cuh.
#include "backend/cuda/kernels/llm_argmax.cuh"

#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

constexpr int kArgmaxThreads = 1024;

// (value, index) with "better" = larger value, then smaller index; NaN is worse than anything (a
// thread that saw only NaNs keeps index INT_MAX, which loses every comparison but one with itself).
struct Best {
  float v;
  int i;
};
__device__ __forceinline__ bool better(float v, int i, const Best& b) {
  return v > b.v || (v == b.v && i < b.i);
}

template <class T>
__global__ void argmax_kernel(const T* __restrict__ x, int cols, std::int64_t row_stride, std::int32_t* out) {
  __shared__ Best part[32];
  const T* xr = x + static_cast<std::int64_t>(blockIdx.x) * row_stride;
  Best b{-INFINITY, 0x7fffffff};
  for (int c = static_cast<int>(threadIdx.x); c < cols; c += static_cast<int>(blockDim.x)) {
    const float v = detail::to_float(xr[c]);
    if (better(v, c, b)) b = Best{v, c};  // −∞ wins against the initial (−∞, INT_MAX); NaN never does
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, b.v, o);
    const int i = __shfl_xor_sync(0xffffffffu, b.i, o);
    if (better(v, i, b)) b = Best{v, i};
  }
  const int lane = static_cast<int>(threadIdx.x) & 31, warp = static_cast<int>(threadIdx.x) >> 5;
  if (lane == 0) part[warp] = b;
  __syncthreads();
  if (warp == 0) {
    const int warps = static_cast<int>(blockDim.x) >> 5;
    b = lane < warps ? part[lane] : Best{-INFINITY, 0x7fffffff};
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float v = __shfl_xor_sync(0xffffffffu, b.v, o);
      const int i = __shfl_xor_sync(0xffffffffu, b.i, o);
      if (better(v, i, b)) b = Best{v, i};
    }
    if (lane == 0) out[blockIdx.x] = b.i == 0x7fffffff ? 0 : b.i;
  }
}

}  // namespace

void argmax_rows(DType dtype, const void* x, std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                 std::int32_t* out, cudaStream_t stream) {
  llm::require(rows > 0 && rows <= 0x7fffffff && cols > 0 && cols < 0x7fffffff && row_stride >= cols,
               "argmax_rows: rows, cols must be positive and row_stride ≥ cols (got " + std::to_string(rows) + ", " +
                   std::to_string(cols) + ", " + std::to_string(row_stride) + ")");
  detail::dispatch_float(dtype, "argmax_rows", [&](auto tag) {
    using T = typename decltype(tag)::type;
    argmax_kernel<T><<<static_cast<unsigned>(rows), kArgmaxThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<int>(cols), row_stride, out);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
