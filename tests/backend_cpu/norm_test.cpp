// BatchNorm (inference) and LayerNorm: hand cases and random odd sizes against direct formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::random_vector;

TEST(BatchNorm, HandComputed) {
  // 2 channels of 2 values; channel 0: mean 1, var 3 (eps 1 → √4 = 2), γ 2, β 0.5 → (x − 1)/2·2 + 0.5.
  // Channel 1: mean −1, var 0 (eps 1 → 1), γ −1, β 0 → −(x + 1).
  const std::vector<float> x{3, 5, 1, -2}, gamma{2, -1}, beta{0.5f, 0}, mean{1, -1}, var{3, 0};
  std::vector<float> y(4);
  batch_norm(x.data(), gamma.data(), beta.data(), mean.data(), var.data(), y.data(), 1, 2, 2, 1.0f);
  EXPECT_EQ(y, (std::vector<float>{2.5f, 4.5f, -2.0f, 1.0f}));
}

TEST(BatchNorm, RandomOddSizes) {
  const std::int64_t n = 3, c = 13, inner = 9 * 11;
  const auto x = random_vector(n * c * inner, 1, 2.0f, 0.3f);
  const auto gamma = random_vector(c, 2, 0.2f, 1.0f), beta = random_vector(c, 3), mean = random_vector(c, 4);
  auto var = random_vector(c, 5);
  for (auto& v : var) v = 0.5f + v * v;
  std::vector<float> y(x.size());
  batch_norm(x.data(), gamma.data(), beta.data(), mean.data(), var.data(), y.data(), n, c, inner, 1e-5f);
  std::vector<double> want;
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < inner; ++i) {
        const auto k = static_cast<std::size_t>(ch);
        const double v = x[static_cast<std::size_t>((b * c + ch) * inner + i)];
        want.push_back((v - mean[k]) / std::sqrt(static_cast<double>(var[k]) + 1e-5) * gamma[k] + beta[k]);
      }
  expect_close(y, want, 1e-6, "batch norm");
  // A 2-D input ([N, C], inner 1) is BatchNorm1d's case.
  std::vector<float> y2(static_cast<std::size_t>(3 * c));
  batch_norm(x.data(), gamma.data(), beta.data(), mean.data(), var.data(), y2.data(), 3, c, 1, 1e-5f);
  for (std::int64_t i = 0; i < 3 * c; ++i) {
    const auto k = static_cast<std::size_t>(i % c);
    const double want1 = (x[static_cast<std::size_t>(i)] - mean[k]) / std::sqrt(var[k] + 1e-5) * gamma[k] + beta[k];
    EXPECT_NEAR(y2[static_cast<std::size_t>(i)], want1, 1e-6 * (1 + std::abs(want1)));
  }
}

TEST(BatchNorm, NonPositiveVarianceIsInvalidInput) {
  const std::vector<float> x{1, 2}, one{1}, zero{0}, var{-1};
  std::vector<float> y(2);
  EXPECT_THROW(batch_norm(x.data(), one.data(), zero.data(), zero.data(), var.data(), y.data(), 1, 1, 2, 1e-5f),
               InvalidInput);
}

TEST(LayerNorm, HandComputed) {
  // Row [1 2 3 4]: μ 2.5, biased σ² 1.25; eps 0.75 → √2. γ = [1 1 2 2], β = [0 0 0 1].
  const std::vector<float> x{1, 2, 3, 4}, gamma{1, 1, 2, 2}, beta{0, 0, 0, 1};
  std::vector<float> y(4);
  layer_norm(x.data(), gamma.data(), beta.data(), y.data(), 1, 4, 0.75f);
  const double r = std::sqrt(2.0);
  EXPECT_NEAR(y[0], -1.5 / r, 1e-7);
  EXPECT_NEAR(y[1], -0.5 / r, 1e-7);
  EXPECT_NEAR(y[2], 2 * 0.5 / r, 1e-7);
  EXPECT_NEAR(y[3], 2 * 1.5 / r + 1, 1e-7);
}

TEST(LayerNorm, RandomOddSizesWithLargeMean) {
  // Rows of 197 tokens × 3 images, 61 features, centred at 100: E[x²] − E[x]² would lose ~4 digits.
  const std::int64_t rows = 3 * 197, e = 61;
  const auto x = random_vector(rows * e, 9, 1.0f, 100.0f);
  const auto gamma = random_vector(e, 10, 0.1f, 1.0f), beta = random_vector(e, 11, 0.1f);
  std::vector<float> y(x.size());
  layer_norm(x.data(), gamma.data(), beta.data(), y.data(), rows, e, 1e-6f);
  std::vector<double> want;
  for (std::int64_t r = 0; r < rows; ++r) {
    long double mean = 0, var = 0;
    for (std::int64_t i = 0; i < e; ++i) mean += x[static_cast<std::size_t>(r * e + i)];
    mean /= e;
    for (std::int64_t i = 0; i < e; ++i) {
      const long double d = x[static_cast<std::size_t>(r * e + i)] - mean;
      var += d * d;
    }
    var /= e;
    for (std::int64_t i = 0; i < e; ++i)
      want.push_back(static_cast<double>((x[static_cast<std::size_t>(r * e + i)] - mean) / std::sqrt(var + 1e-6L) *
                                             gamma[static_cast<std::size_t>(i)] +
                                         beta[static_cast<std::size_t>(i)]));
  }
  expect_close(y, want, 1e-6, "layer norm");
}

}  // namespace
}  // namespace vramfit::cpu
