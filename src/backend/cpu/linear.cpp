// Linear (torch.nn.Linear): y = act(x·wᵀ + b + res) over rows of x, with the weight in torch's
// [out_features, in_features] layout read as a transposed view by the GEMM (no copy).
#include <fmt/format.h>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

void LinearShape::validate() const {
  if (rows <= 0 || in_features <= 0 || out_features <= 0)
    throw InvalidInput(fmt::format("linear: rows {}, in_features {}, out_features {} must be positive", rows,
                                   in_features, out_features));
}

void linear(const float* x, const float* w, const float* bias, const float* residual, float* y,
            const LinearShape& s, Activation act) {
  s.validate();
  const std::int64_t K = s.in_features, N = s.out_features;
  // B[k, n] = w[n, k]: row stride 1, column stride K.
  gemm(s.rows, N, K, MatrixView{x, K, 1}, MatrixView{w, 1, K}, y, N);
  if (!bias && !residual && act == Activation::None) return;
  parallel_for(s.rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      float* yr = y + r * N;
      const float* rr = residual ? residual + r * N : nullptr;
      for (std::int64_t n = 0; n < N; ++n) {
        float v = yr[n];
        if (bias) v += bias[n];
        if (rr) v += rr[n];
        yr[n] = apply_activation(v, act);
      }
    }
  });
}

}  // namespace vramfit::cpu
