// Activations and Add: published values of GELU/SiLU, in-place use, and random inputs against
// independent formulas (GELU through erfc, SiLU through tanh).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "backend/cpu/ops.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::expect_equal;
using test::random_vector;

TEST(Activation, KnownValues) {
  const std::vector<float> x{-2.0f, -1.0f, 0.0f, 1.0f, 2.0f};
  std::vector<float> y(x.size());
  relu(x.data(), y.data(), 5);
  expect_equal(y, {0, 0, 0, 1, 2}, "relu");
  // GELU(x) = x·Φ(x); Φ(±1), Φ(±2) from the normal table.
  gelu(x.data(), y.data(), 5);
  const double gelu_ref[] = {-0.04550026389635842, -0.15865525393145707, 0.0, 0.8413447460685429,
                             1.9544997361036416};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(y[static_cast<std::size_t>(i)], gelu_ref[i], 1e-7) << "gelu " << x[static_cast<std::size_t>(i)];
  // SiLU(x) = x/(1 + e^(−x)).
  silu(x.data(), y.data(), 5);
  const double silu_ref[] = {-0.23840584404423515, -0.2689414213699951, 0.0, 0.7310585786300049,
                             1.7615941559557649};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(y[static_cast<std::size_t>(i)], silu_ref[i], 1e-7) << "silu " << x[static_cast<std::size_t>(i)];
}

TEST(Activation, ExtremesStayFinite) {
  const float big = 1e30f;
  EXPECT_EQ(apply_activation(-big, Activation::Silu), 0.0f);
  EXPECT_EQ(apply_activation(big, Activation::Silu), big);
  EXPECT_EQ(apply_activation(-big, Activation::Gelu), 0.0f);
  EXPECT_EQ(apply_activation(big, Activation::Gelu), big);
  EXPECT_EQ(apply_activation(-std::numeric_limits<float>::infinity(), Activation::Relu), 0.0f);
}

TEST(Activation, RandomMatchesIndependentFormulas) {
  // 70001 values: above the parallel threshold, and odd.
  const std::int64_t n = 70001;
  const auto x = random_vector(n, 3, 3.0f);
  std::vector<float> y(x.size());
  std::vector<double> want(x.size());
  gelu(x.data(), y.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = 0.5 * x[i] * std::erfc(-x[i] / std::sqrt(2.0));
  expect_close(y, want, 1e-6, "gelu");
  silu(x.data(), y.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i) want[i] = 0.5 * x[i] * (1.0 + std::tanh(0.5 * x[i]));
  expect_close(y, want, 1e-6, "silu");
  // In place.
  std::vector<float> z = x;
  relu(z.data(), z.data(), n);
  for (std::size_t i = 0; i < x.size(); ++i) ASSERT_EQ(z[i], x[i] > 0 ? x[i] : 0.0f);
}

TEST(Add, SumThenActivation) {
  const std::vector<float> a{1.0f, -3.0f, 0.5f}, b{2.0f, 1.0f, -2.0f};
  std::vector<float> y(3);
  add(a.data(), b.data(), y.data(), 3, Activation::None);
  expect_equal(y, {3.0f, -2.0f, -1.5f}, "add");
  add(a.data(), b.data(), y.data(), 3, Activation::Relu);
  expect_equal(y, {3.0f, 0.0f, 0.0f}, "add + relu");
  const std::int64_t n = 3 * 13 * 9 * 11;
  const auto p = random_vector(n, 5), q = random_vector(n, 6);
  std::vector<float> r = p;
  add(r.data(), q.data(), r.data(), n, Activation::Silu);  // in place on a
  std::vector<double> want;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double s = static_cast<double>(p[i] + q[i]);  // fp32 sum, as the op defines
    want.push_back(s / (1.0 + std::exp(-s)));
  }
  expect_close(r, want, 1e-6, "add + silu in place");
}

}  // namespace
}  // namespace vramfit::cpu
