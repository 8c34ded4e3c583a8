// Channel plumbing of YOLO's necks: nearest-neighbour upsampling, concatenation along channels
// (torch.cat(dim=1)) and channel slices (the chunk/split of C2f and C2PSA, and the per-head v of
// Ultralytics' Attention). Pure copies: the result is exact.
#include <cstring>
#include <fmt/format.h>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

namespace {

void copy_floats(const float* src, float* dst, std::int64_t n) {
  std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
}

}  // namespace

void upsample_nearest(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t h,
                      std::int64_t w, std::int64_t scale) {
  if (batch <= 0 || channels <= 0 || h <= 0 || w <= 0 || scale <= 0)
    throw InvalidInput(fmt::format("upsample: extents [{}, {}, {}, {}] and scale {} must be positive", batch, channels,
                                   h, w, scale));
  const std::int64_t oh = h * scale, ow = w * scale;
  parallel_for(batch * channels, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const float* src = x + p * h * w;
      float* dst = y + p * oh * ow;
      for (std::int64_t i = 0; i < oh; ++i)
        for (std::int64_t j = 0; j < ow; ++j) dst[i * ow + j] = src[(i / scale) * w + j / scale];
    }
  });
}

void concat_channels(std::span<const float* const> xs, std::span<const std::int64_t> channels, float* y,
                     std::int64_t batch, std::int64_t plane) {
  if (xs.empty() || xs.size() != channels.size())
    throw InvalidInput(fmt::format("concat: {} inputs with {} channel counts", xs.size(), channels.size()));
  if (batch <= 0 || plane <= 0) throw InvalidInput(fmt::format("concat: batch {} and plane {} must be positive", batch, plane));
  std::int64_t total = 0;
  for (std::int64_t c : channels) {
    if (c <= 0) throw InvalidInput(fmt::format("concat: channel count {} must be positive", c));
    total += c;
  }
  for (std::int64_t b = 0; b < batch; ++b) {
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      copy_floats(xs[i] + b * channels[i] * plane, y + (b * total + offset) * plane, channels[i] * plane);
      offset += channels[i];
    }
  }
}

void slice_channels(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t plane,
                    std::int64_t begin, std::int64_t end, std::int64_t groups) {
  if (batch <= 0 || channels <= 0 || plane <= 0 || groups <= 0 || channels % groups)
    throw InvalidInput(fmt::format("slice: batch {}, channels {}, plane {}, groups {}: extents must be positive and "
                                   "the groups divide the channels", batch, channels, plane, groups));
  const std::int64_t block = channels / groups;
  if (begin < 0 || end > block || begin >= end)
    throw InvalidInput(fmt::format("slice: channel range [{}, {}) is empty or outside a block of {}", begin, end, block));
  const std::int64_t len = end - begin, out_c = groups * len;
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t g = 0; g < groups; ++g)
      copy_floats(x + (b * channels + g * block + begin) * plane, y + (b * out_c + g * len) * plane, len * plane);
}

}  // namespace vramfit::cpu
