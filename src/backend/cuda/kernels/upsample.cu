// backend/cuda/kernels/upsample.cu — see upsample.cuh.
#include "backend/cuda/kernels/upsample.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::global_thread;
using detail::grid_threads;

// NCHW: planes = N·C; one thread per output element.
template <class U>
__global__ void upsample_nchw_kernel(const U* x, U* y, std::int64_t planes, int h, int w, int s) {
  const int oh = h * s, ow = w * s;
  const std::int64_t total = planes * oh * ow;
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const std::int64_t p = i / (static_cast<std::int64_t>(oh) * ow);
    const int rest = static_cast<int>(i - p * oh * ow);
    const int r = rest / ow, c = rest - r * ow;
    y[i] = x[(p * h + r / s) * w + c / s];
  }
}

// NHWC: units = channels per pixel in units of U; one thread per (output pixel, unit).
template <class U>
__global__ void upsample_nhwc_kernel(const U* x, U* y, std::int64_t batch, int h, int w, int s, int units) {
  const int oh = h * s, ow = w * s;
  const std::int64_t total = batch * oh * ow * units;
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int u = static_cast<int>(i % units);
    std::int64_t pix = i / units;
    const int c = static_cast<int>(pix % ow);
    pix /= ow;
    const int r = static_cast<int>(pix % oh);
    const std::int64_t n = pix / oh;
    y[i] = x[((n * h + r / s) * w + c / s) * units + u];
  }
}

}  // namespace

void upsample_nearest(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                      std::int64_t h, std::int64_t w, std::int64_t scale, cudaStream_t stream) {
  if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
    throw Unsupported("upsample: dtype " + std::string(to_string(dtype)) + " is not supported (f32, f16, bf16)");
  if (batch <= 0 || channels <= 0 || h <= 0 || w <= 0 || scale <= 0 || h * scale > INT32_MAX || w * scale > INT32_MAX)
    throw InvalidInput("upsample: extents and scale must be positive (and the output sides fit 32 bits)");
  const std::size_t es = storage_bytes(dtype, 1);
  const int hi = static_cast<int>(h), wi = static_cast<int>(w), s = static_cast<int>(scale);
  const std::int64_t out = batch * channels * h * w * scale * scale;
  if (layout == Layout::NCHW) {
    if (es == 4)
      upsample_nchw_kernel<std::uint32_t><<<detail::grid_for(out), detail::kThreads, 0, stream>>>(
          static_cast<const std::uint32_t*>(x), static_cast<std::uint32_t*>(y), batch * channels, hi, wi, s);
    else
      upsample_nchw_kernel<std::uint16_t><<<detail::grid_for(out), detail::kThreads, 0, stream>>>(
          static_cast<const std::uint16_t*>(x), static_cast<std::uint16_t*>(y), batch * channels, hi, wi, s);
  } else if (layout == Layout::NHWC) {
    const std::int64_t row_bytes = channels * static_cast<std::int64_t>(es);
    if (row_bytes % 16 == 0 && detail::aligned16(x) && detail::aligned16(y)) {
      const int units = static_cast<int>(row_bytes / 16);
      upsample_nhwc_kernel<uint4><<<detail::grid_for(out * static_cast<std::int64_t>(es) / 16), detail::kThreads, 0, stream>>>(
          static_cast<const uint4*>(x), static_cast<uint4*>(y), batch, hi, wi, s, units);
    } else if (es == 4) {
      upsample_nhwc_kernel<std::uint32_t><<<detail::grid_for(out), detail::kThreads, 0, stream>>>(
          static_cast<const std::uint32_t*>(x), static_cast<std::uint32_t*>(y), batch, hi, wi, s, static_cast<int>(channels));
    } else {
      upsample_nhwc_kernel<std::uint16_t><<<detail::grid_for(out), detail::kThreads, 0, stream>>>(
          static_cast<const std::uint16_t*>(x), static_cast<std::uint16_t*>(y), batch, hi, wi, s, static_cast<int>(channels));
    }
  } else {
    throw Unsupported("upsample: layout must be NCHW or NHWC");
  }
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace vramfit::cuda::kernels
