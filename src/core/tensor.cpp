#include "core/tensor.h"

#include <cmath>

#include "core/error.h"

namespace vramfit {

double relative_l2(std::span<const float> a, std::span<const float> ref) {
  VRAMFIT_CHECK(a.size() == ref.size(), "relative_l2 size mismatch");
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(ref[i]);
    num += d * d;
    den += static_cast<double>(ref[i]) * static_cast<double>(ref[i]);
  }
  if (den == 0) return num == 0 ? 0.0 : INFINITY;
  return std::sqrt(num / den);
}

double cosine_similarity(std::span<const float> a, std::span<const float> b) {
  VRAMFIT_CHECK(a.size() == b.size(), "cosine size mismatch");
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa == 0 || bb == 0) return aa == bb ? 1.0 : 0.0;
  return ab / std::sqrt(aa * bb);
}

bool all_finite(std::span<const float> a) {
  for (float v : a)
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace vramfit
