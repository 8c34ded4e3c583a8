// Helpers shared by the graph tests: seeded random tensors and a plain-loop convolution used as the
// unfused reference for the pass tests.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "graph/graph.h"

namespace vramfit::test {

// Uniform in [lo, hi), never exactly zero-filled; seeded so a failure reproduces.
inline Tensor random_tensor(const Shape& s, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t(s);
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& v : t.data) v = d(rng);
  return t;
}

// y[n, o, oy, ox] = Σ x[n, g·Ig + i, oy·s − p + ky·d, ox·s − p + kx·d] · w[o, i, ky, kx] (+ b[o]),
// torch.nn.functional.conv2d's definition, zero padding.
inline Tensor conv2d_reference(const Tensor& x, const Tensor& w, const float* bias, const Conv2dAttrs& a) {
  const std::int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const std::int64_t o = a.out_channels, ig = c / a.groups, og = o / a.groups;
  const std::int64_t oh = (h + 2 * a.pad_h - a.dilation_h * (a.kernel_h - 1) - 1) / a.stride_h + 1;
  const std::int64_t ow = (wd + 2 * a.pad_w - a.dilation_w * (a.kernel_w - 1) - 1) / a.stride_w + 1;
  Tensor y(Shape{n, o, oh, ow});
  auto at = [](const Tensor& t, std::int64_t i0, std::int64_t i1, std::int64_t i2, std::int64_t i3) {
    return t.data[static_cast<std::size_t>(((i0 * t.shape[1] + i1) * t.shape[2] + i2) * t.shape[3] + i3)];
  };
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t oc = 0; oc < o; ++oc) {
      const std::int64_t grp = oc / og;
      for (std::int64_t oy = 0; oy < oh; ++oy)
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          double acc = bias ? static_cast<double>(bias[oc]) : 0.0;
          for (std::int64_t i = 0; i < ig; ++i)
            for (std::int64_t ky = 0; ky < a.kernel_h; ++ky)
              for (std::int64_t kx = 0; kx < a.kernel_w; ++kx) {
                const std::int64_t iy = oy * a.stride_h - a.pad_h + ky * a.dilation_h;
                const std::int64_t ix = ox * a.stride_w - a.pad_w + kx * a.dilation_w;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += static_cast<double>(at(x, b, grp * ig + i, iy, ix)) * static_cast<double>(at(w, oc, i, ky, kx));
              }
          y.data[static_cast<std::size_t>(((b * o + oc) * oh + oy) * ow + ox)] = static_cast<float>(acc);
        }
    }
  return y;
}

// Inference batch norm over channel dim 1: γ(x − μ)/√(σ² + ε) + β.
inline Tensor batchnorm_reference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& mean,
                                  const Tensor& var, float eps) {
  Tensor y(x.shape);
  const std::int64_t c = x.shape[1];
  const std::int64_t inner = x.shape.numel_per_sample() / c;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const auto ch = static_cast<std::size_t>((i / inner) % c);
    const auto k = static_cast<std::size_t>(i);
    y.data[k] = static_cast<float>(static_cast<double>(gamma.data[ch]) *
                                       (static_cast<double>(x.data[k]) - static_cast<double>(mean.data[ch])) /
                                       std::sqrt(static_cast<double>(var.data[ch]) + static_cast<double>(eps)) +
                                   static_cast<double>(beta.data[ch]));
  }
  return y;
}

inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.data.size(); ++i)
    m = std::max(m, std::abs(static_cast<double>(a.data[i]) - static_cast<double>(b.data[i])));
  return m;
}

}  // namespace vramfit::test
