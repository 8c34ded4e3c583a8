#include "backend/cuda/kernels/patchify.cuh"

#include <string>

#include "backend/cuda/check.h"
#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

template <class T, bool NHWC>
__global__ void patchify_kernel(const T* __restrict__ x, T* __restrict__ y, std::int64_t batch, std::int64_t c,
                                std::int64_t h, std::int64_t w, std::int64_t p) {
  const std::int64_t gw = w / p, tokens = (h / p) * gw, k_len = c * p * p;
  const std::int64_t total = batch * tokens * k_len;
  for (std::int64_t o = detail::global_thread(); o < total; o += detail::grid_threads()) {
    const std::int64_t k = o % k_len;
    const std::int64_t t = (o / k_len) % tokens;
    const std::int64_t b = o / (k_len * tokens);
    const std::int64_t ch = k / (p * p), u = (k / p) % p, v = k % p;
    const std::int64_t row = (t / gw) * p + u, col = (t % gw) * p + v;
    const std::int64_t src = NHWC ? ((b * h + row) * w + col) * c + ch : ((b * c + ch) * h + row) * w + col;
    y[o] = x[src];
  }
}

}  // namespace

void patchify(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch, std::int64_t channels,
              std::int64_t h, std::int64_t w, std::int64_t patch, cudaStream_t stream) {
  if (batch <= 0 || channels <= 0 || patch <= 0 || h <= 0 || w <= 0 || h % patch || w % patch)
    throw InvalidInput("patchify: need positive extents with H and W divisible by the patch, got [" + std::to_string(batch) +
                       ", " + std::to_string(channels) + ", " + std::to_string(h) + ", " + std::to_string(w) + "] patch " +
                       std::to_string(patch));
  if (layout != Layout::NCHW && layout != Layout::NHWC) throw InvalidInput("patchify: layout must be NCHW or NHWC");
  const std::int64_t total = batch * channels * h * w;
  detail::dispatch_float(dtype, "patchify", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const unsigned grid = detail::grid_for(total);
    if (layout == Layout::NHWC)
      patchify_kernel<T, true><<<grid, detail::kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), batch,
                                                                      channels, h, w, patch);
    else
      patchify_kernel<T, false><<<grid, detail::kThreads, 0, stream>>>(static_cast<const T*>(x), static_cast<T*>(y), batch,
                                                                       channels, h, w, patch);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
