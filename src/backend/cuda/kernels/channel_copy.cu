// backend/cuda/kernels/channel_copy.cu — see channel_copy.cuh.
#include "backend/cuda/kernels/channel_copy.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::global_thread;
using detail::grid_threads;

// Strides, offsets and run in units of U (an element or a 16-byte vector).
template <class U>
__global__ void strided_copy_kernel(const U* src, std::int64_t src_stride, std::int64_t src_off, U* dst,
                                    std::int64_t dst_stride, std::int64_t dst_off, std::int64_t rows, std::int64_t run) {
  const std::int64_t total = rows * run;
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const std::int64_t r = i / run, k = i - r * run;
    dst[r * dst_stride + dst_off + k] = src[r * src_stride + src_off + k];
  }
}

struct Copy {
  std::int64_t src_stride, src_off, dst_stride, dst_off, rows, run;  // in elements
};

void strided_copy(std::size_t es, const void* src, void* dst, const Copy& c, cudaStream_t stream) {
  const std::int64_t vec = static_cast<std::int64_t>(16 / es);
  const bool v16 = c.src_stride % vec == 0 && c.src_off % vec == 0 && c.dst_stride % vec == 0 && c.dst_off % vec == 0 &&
                   c.run % vec == 0 && detail::aligned16(src) && detail::aligned16(dst);
  const auto launch = [&](auto tag, std::int64_t per) {
    using U = decltype(tag);
    const std::int64_t run = c.run / per;
    strided_copy_kernel<U><<<detail::grid_for(c.rows * run), detail::kThreads, 0, stream>>>(
        static_cast<const U*>(src), c.src_stride / per, c.src_off / per, static_cast<U*>(dst), c.dst_stride / per,
        c.dst_off / per, c.rows, run);
  };
  if (v16) launch(uint4{}, vec);
  else if (es == 4) launch(std::uint32_t{}, 1);
  else launch(std::uint16_t{}, 1);
  CUDA_CHECK(cudaGetLastError());
}

std::size_t element_bytes(DType dtype, const char* op) {
  if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
    throw Unsupported(std::string(op) + ": dtype " + std::string(to_string(dtype)) + " is not supported (f32, f16, bf16)");
  return storage_bytes(dtype, 1);
}

void check_layout(Layout layout, const char* op) {
  if (layout != Layout::NCHW && layout != Layout::NHWC)
    throw Unsupported(std::string(op) + ": layout must be NCHW or NHWC");
}

}  // namespace

void concat_channels(DType dtype, Layout layout, std::span<const void* const> xs, std::span<const std::int64_t> channels,
                     void* y, std::int64_t batch, std::int64_t plane, cudaStream_t stream) {
  const std::size_t es = element_bytes(dtype, "concat");
  check_layout(layout, "concat");
  if (xs.empty() || xs.size() != channels.size() || batch <= 0 || plane <= 0)
    throw InvalidInput("concat: need ≥ 1 input with a channel count each, positive batch and plane");
  std::int64_t total = 0;
  for (std::int64_t c : channels) {
    if (c <= 0) throw InvalidInput("concat: channel counts must be positive");
    total += c;
  }
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const std::int64_t c = channels[i];
    const Copy copy = layout == Layout::NCHW
                          ? Copy{c * plane, 0, total * plane, offset * plane, batch, c * plane}
                          : Copy{c, 0, total, offset, batch * plane, c};
    strided_copy(es, xs[i], y, copy, stream);
    offset += c;
  }
}

void slice_channels(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                    std::int64_t plane, std::int64_t begin, std::int64_t end, std::int64_t groups, cudaStream_t stream) {
  const std::size_t es = element_bytes(dtype, "slice");
  check_layout(layout, "slice");
  if (batch <= 0 || channels <= 0 || plane <= 0 || groups <= 0 || channels % groups)
    throw InvalidInput("slice: extents must be positive and the groups divide the channels");
  const std::int64_t block = channels / groups;
  if (begin < 0 || end > block || begin >= end)
    throw InvalidInput("slice: channel range [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") is empty or outside a block of " + std::to_string(block));
  const std::int64_t len = end - begin, out_c = groups * len;
  for (std::int64_t g = 0; g < groups; ++g) {
    const Copy copy = layout == Layout::NCHW
                          ? Copy{channels * plane, (g * block + begin) * plane, out_c * plane, g * len * plane, batch, len * plane}
                          : Copy{channels, g * block + begin, out_c, g * len, batch * plane, len};
    strided_copy(es, x, y, copy, stream);
  }
}

}  // namespace vramfit::cuda::kernels
