// Engine limits decided from shapes (capability.h).
#include "graph/capability.h"

#include <algorithm>
#include <cstdint>

namespace vramfit {

bool conv_exceeds_int_indexing(const ConvGeometry& c) {
  const std::int64_t x_n = c.batch * c.in_channels * c.in_h * c.in_w;
  const std::int64_t y_n = c.batch * c.out_channels * std::max<std::int64_t>(c.out_h, 0) * std::max<std::int64_t>(c.out_w, 0);
  const std::int64_t w_n = c.out_channels * (c.in_channels / std::max<std::int64_t>(c.groups, 1)) * c.kernel_h * c.kernel_w;
  for (std::int64_t v : {c.batch, c.in_channels, c.in_h, c.in_w, c.out_channels, c.kernel_h, c.kernel_w, c.stride_h,
                         c.stride_w, c.pad_h, c.pad_w, c.dilation_h, c.dilation_w, c.groups, x_n, y_n, w_n})
    if (v < 0 || v > kConvIndexMax) return true;
  return false;
}

std::int64_t conv_batch_limit(const Graph& g, const Node& n) {
  std::int64_t limit = INT64_MAX;
  if (n.op != OpKind::Conv2d) return limit;
  for (ValueId v : {n.inputs[0], n.output}) {
    const std::int64_t per_sample = g.value(v).shape.numel_per_sample();
    if (per_sample > 0) limit = std::min(limit, kConvIndexMax / per_sample);
  }
  return limit;
}

}  // namespace vramfit
