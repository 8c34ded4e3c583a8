// Pooling over NCHW planes, with torch's conventions: floor-mode output size, max pooling pads with
// −∞ (torch.nn.MaxPool2d), average pooling pads with zeros and divides by the full window
// (count_include_pad=True, torch.nn.AvgPool2d's default). Window sums are taken in double.
#include <algorithm>
#include <fmt/format.h>
#include <limits>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

std::int64_t Pool2dShape::out_h() const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
std::int64_t Pool2dShape::out_w() const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }

void Pool2dShape::validate() const {
  if (batch <= 0 || channels <= 0 || in_h <= 0 || in_w <= 0 || kernel_h <= 0 || kernel_w <= 0 ||
      stride_h <= 0 || stride_w <= 0 || pad_h < 0 || pad_w < 0)
    throw InvalidInput(fmt::format("pool2d: extents must be positive (padding ≥ 0): batch {} channels {} "
                                   "input {}×{} kernel {}×{} stride {}×{} pad {}×{}",
                                   batch, channels, in_h, in_w, kernel_h, kernel_w, stride_h, stride_w,
                                   pad_h, pad_w));
  if (out_h() <= 0 || out_w() <= 0)
    throw InvalidInput(fmt::format("pool2d: input {}×{} (pad {}×{}) is smaller than the window {}×{}", in_h,
                                   in_w, pad_h, pad_w, kernel_h, kernel_w));
}

namespace {

// Calls reduce(plane_in, plane_out, r, q, h0, h1, w0, w1) for every output pixel, with the window
// clipped to the image: rows [h0, h1), columns [w0, w1) (possibly empty).
template <class Reduce>
void for_each_window(const float* x, float* y, const Pool2dShape& s, Reduce&& reduce) {
  s.validate();
  const std::int64_t oh = s.out_h(), ow = s.out_w();
  parallel_for(s.batch * s.channels, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t plane = p0; plane < p1; ++plane) {
      const float* xp = x + plane * s.in_h * s.in_w;
      float* yp = y + plane * oh * ow;
      for (std::int64_t r = 0; r < oh; ++r) {
        const std::int64_t hs = r * s.stride_h - s.pad_h;
        const std::int64_t h0 = std::max<std::int64_t>(hs, 0), h1 = std::min(hs + s.kernel_h, s.in_h);
        for (std::int64_t q = 0; q < ow; ++q) {
          const std::int64_t ws = q * s.stride_w - s.pad_w;
          const std::int64_t w0 = std::max<std::int64_t>(ws, 0), w1 = std::min(ws + s.kernel_w, s.in_w);
          yp[r * ow + q] = reduce(xp, h0, h1, w0, w1);
        }
      }
    }
  });
}

}  // namespace

void max_pool2d(const float* x, float* y, const Pool2dShape& s) {
  for_each_window(x, y, s, [&](const float* xp, std::int64_t h0, std::int64_t h1, std::int64_t w0,
                               std::int64_t w1) {
    float m = -std::numeric_limits<float>::infinity();  // a window of padding alone stays −∞
    for (std::int64_t h = h0; h < h1; ++h)
      for (std::int64_t w = w0; w < w1; ++w) m = std::max(m, xp[h * s.in_w + w]);
    return m;
  });
}

void avg_pool2d(const float* x, float* y, const Pool2dShape& s) {
  const double window = static_cast<double>(s.kernel_h * s.kernel_w);
  for_each_window(x, y, s, [&](const float* xp, std::int64_t h0, std::int64_t h1, std::int64_t w0,
                               std::int64_t w1) {
    double sum = 0.0;
    for (std::int64_t h = h0; h < h1; ++h)
      for (std::int64_t w = w0; w < w1; ++w) sum += xp[h * s.in_w + w];
    return static_cast<float>(sum / window);
  });
}

void global_avg_pool(const float* x, float* y, std::int64_t batch, std::int64_t channels,
                     std::int64_t plane) {
  if (batch <= 0 || channels <= 0 || plane <= 0)
    throw InvalidInput(fmt::format("global_avg_pool: batch {}, channels {}, plane {} must be positive", batch,
                                   channels, plane));
  parallel_for(batch * channels, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* xp = x + p * plane;
      double sum = 0.0;
      for (std::int64_t i = 0; i < plane; ++i) sum += xp[i];
      y[p] = static_cast<float>(sum / static_cast<double>(plane));
    }
  });
}

}  // namespace vramfit::cpu
