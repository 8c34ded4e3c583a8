// Normalisations in inference form. Statistics and the affine transform are computed in double and
// rounded once, so these are accurate to fp32's last bit whatever the row length.
#include <cmath>
#include <fmt/format.h>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

void batch_norm(const float* x, const float* gamma, const float* beta, const float* mean,
                const float* var, float* y, std::int64_t batch, std::int64_t channels,
                std::int64_t inner, float eps) {
  if (batch <= 0 || channels <= 0 || inner <= 0)
    throw InvalidInput(fmt::format("batch_norm: batch {}, channels {}, inner {} must be positive", batch,
                                   channels, inner));
  // Per channel: y = x·scale + shift with scale = γ/√(σ²+ε), shift = β − μ·scale (Ioffe & Szegedy
  // 2015, Alg. 2, inference step), both kept in double.
  std::vector<double> scale(static_cast<std::size_t>(channels)), shift(scale.size());
  for (std::int64_t c = 0; c < channels; ++c) {
    const double v = static_cast<double>(var[c]) + static_cast<double>(eps);
    if (!(v > 0.0))
      throw InvalidInput(fmt::format("batch_norm: running_var[{}] + eps = {} is not positive", c, v));
    const auto ci = static_cast<std::size_t>(c);
    scale[ci] = static_cast<double>(gamma[c]) / std::sqrt(v);
    shift[ci] = static_cast<double>(beta[c]) - static_cast<double>(mean[c]) * scale[ci];
  }
  parallel_for(batch * channels, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      const auto c = static_cast<std::size_t>(p % channels);
      const float* xp = x + p * inner;
      float* yp = y + p * inner;
      for (std::int64_t i = 0; i < inner; ++i)
        yp[i] = static_cast<float>(static_cast<double>(xp[i]) * scale[c] + shift[c]);
    }
  });
}

void layer_norm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
                std::int64_t features, float eps) {
  if (rows <= 0 || features <= 0)
    throw InvalidInput(fmt::format("layer_norm: rows {} and features {} must be positive", rows, features));
  parallel_for(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * features;
      float* yr = y + r * features;
      // Two passes (mean, then the biased variance about it) avoid the cancellation of E[x²] − E[x]².
      double sum = 0.0;
      for (std::int64_t i = 0; i < features; ++i) sum += xr[i];
      const double mu = sum / static_cast<double>(features);
      double sq = 0.0;
      for (std::int64_t i = 0; i < features; ++i) {
        const double d = xr[i] - mu;
        sq += d * d;
      }
      const double inv = 1.0 / std::sqrt(sq / static_cast<double>(features) + static_cast<double>(eps));
      for (std::int64_t i = 0; i < features; ++i)
        yr[i] = static_cast<float>((xr[i] - mu) * inv * gamma[i] + beta[i]);
    }
  });
}

}  // namespace vramfit::cpu
