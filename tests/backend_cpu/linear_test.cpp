// GEMM and Linear: hand cases, strided views, every blocking edge, and random odd sizes against a
// direct matrix product in double.
#include <gtest/gtest.h>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::expect_equal;
using test::random_vector;

TEST(Gemm, HandComputed) {
  // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
  const std::vector<float> a{1, 2, 3, 4, 5, 6}, b{7, 8, 9, 10, 11, 12};
  std::vector<float> c(4, -1.0f);
  gemm(2, 2, 3, MatrixView{a.data(), 3, 1}, MatrixView{b.data(), 2, 1}, c.data(), 2);
  expect_equal(c, {58, 64, 139, 154}, "2x3 · 3x2");
  // The same product with both operands read transposed from column-major storage.
  const std::vector<float> at{1, 4, 2, 5, 3, 6}, bt{7, 9, 11, 8, 10, 12};
  std::fill(c.begin(), c.end(), -1.0f);
  gemm_serial(2, 2, 3, MatrixView{at.data(), 1, 2}, MatrixView{bt.data(), 1, 3}, c.data(), 2);
  expect_equal(c, {58, 64, 139, 154}, "transposed views");
}

TEST(Gemm, RandomSizesAndStridesMatchDirectProduct) {
  struct Case { std::int64_t M, N, K; bool a_t, b_t; std::int64_t pad; };
  // Sizes around the register tile (4×8), the k-block (256), the row tile (64) and column tile (256).
  const Case cases[] = {{1, 1, 1, false, false, 0},   {7, 13, 19, false, false, 3}, {19, 7, 300, true, false, 0},
                        {65, 257, 513, false, true, 5}, {3, 1000, 37, true, true, 0}, {197, 9, 2, false, false, 1},
                        {64, 256, 256, false, false, 0}};
  std::uint64_t seed = 1;
  for (const auto& c : cases) {
    const auto a = random_vector(c.M * c.K, ++seed);
    const auto b = random_vector(c.K * c.N, ++seed);
    // Stored row-major, or transposed (the view then walks the transpose).
    const MatrixView av = c.a_t ? MatrixView{a.data(), 1, c.M} : MatrixView{a.data(), c.K, 1};
    const MatrixView bv = c.b_t ? MatrixView{b.data(), 1, c.K} : MatrixView{b.data(), c.N, 1};
    const std::int64_t ldc = c.N + c.pad;
    std::vector<float> out(static_cast<std::size_t>(c.M * ldc), 12345.0f);
    gemm(c.M, c.N, c.K, av, bv, out.data(), ldc);
    std::vector<float> got;
    std::vector<double> want;
    for (std::int64_t i = 0; i < c.M; ++i) {
      for (std::int64_t j = 0; j < c.N; ++j) {
        double s = 0.0;
        for (std::int64_t k = 0; k < c.K; ++k) {
          const double x = a[static_cast<std::size_t>(c.a_t ? k * c.M + i : i * c.K + k)];
          const double y = b[static_cast<std::size_t>(c.b_t ? j * c.K + k : k * c.N + j)];
          s += x * y;
        }
        want.push_back(s);
        got.push_back(out[static_cast<std::size_t>(i * ldc + j)]);
      }
      for (std::int64_t j = c.N; j < ldc; ++j)  // the gap past N is never written
        EXPECT_EQ(out[static_cast<std::size_t>(i * ldc + j)], 12345.0f);
    }
    expect_close(got, want, 1e-5, "gemm " + std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K));
    // The single-threaded path gives the same bits.
    std::vector<float> serial(out.size(), 12345.0f);
    gemm_serial(c.M, c.N, c.K, av, bv, serial.data(), ldc);
    expect_equal(serial, out, "gemm_serial");
  }
}

TEST(Linear, HandComputedWithBiasResidualAndActivation) {
  // x = [1 2 3], W = [[1 0 −1], [2 1 0]]: xWᵀ = [−2, 4]; + b [0.5, −1] = [−1.5, 3]; + res [3, −5] = [1.5, −2].
  const std::vector<float> x{1, 2, 3}, w{1, 0, -1, 2, 1, 0}, b{0.5f, -1.0f}, r{3.0f, -5.0f};
  std::vector<float> y(2);
  linear(x.data(), w.data(), b.data(), r.data(), y.data(), LinearShape{1, 3, 2}, Activation::Relu);
  expect_equal(y, {1.5f, 0.0f}, "relu(xWᵀ + b + r)");
  linear(x.data(), w.data(), nullptr, nullptr, y.data(), LinearShape{1, 3, 2}, Activation::None);
  expect_equal(y, {-2.0f, 4.0f}, "xWᵀ");
}

TEST(Linear, RandomOddSizesMatchDirectProduct) {
  struct Case { std::int64_t rows, K, N; bool bias, res; Activation act; };
  const Case cases[] = {{19, 37, 13, true, false, Activation::None}, {1, 300, 7, true, true, Activation::Gelu},
                        {197, 20, 60, false, true, Activation::Silu}, {3, 7, 1000, true, false, Activation::Relu},
                        {70, 513, 257, true, true, Activation::Gelu}};
  std::uint64_t seed = 50;
  for (const auto& c : cases) {
    const auto x = random_vector(c.rows * c.K, ++seed);
    const auto w = random_vector(c.N * c.K, ++seed, 0.2f);
    const auto b = random_vector(c.N, ++seed);
    const auto r = random_vector(c.rows * c.N, ++seed);
    std::vector<float> y(static_cast<std::size_t>(c.rows * c.N));
    linear(x.data(), w.data(), c.bias ? b.data() : nullptr, c.res ? r.data() : nullptr, y.data(),
           LinearShape{c.rows, c.K, c.N}, c.act);
    std::vector<double> want;
    for (std::int64_t i = 0; i < c.rows; ++i)
      for (std::int64_t n = 0; n < c.N; ++n) {
        double s = 0.0;
        for (std::int64_t k = 0; k < c.K; ++k)
          s += static_cast<double>(x[static_cast<std::size_t>(i * c.K + k)]) * w[static_cast<std::size_t>(n * c.K + k)];
        if (c.bias) s += b[static_cast<std::size_t>(n)];
        if (c.res) s += r[static_cast<std::size_t>(i * c.N + n)];
        if (c.act == Activation::Relu) s = std::max(s, 0.0);
        if (c.act == Activation::Gelu) s = 0.5 * s * std::erfc(-s / std::sqrt(2.0));
        if (c.act == Activation::Silu) s = s / (1.0 + std::exp(-s));
        want.push_back(s);
      }
    expect_close(y, want, 1e-5, "linear rows " + std::to_string(c.rows) + " K " + std::to_string(c.K));
  }
}

TEST(Linear, BadShapesAreInvalidInput) {
  std::vector<float> buf(8, 1.0f);
  EXPECT_THROW(linear(buf.data(), buf.data(), nullptr, nullptr, buf.data(), LinearShape{0, 2, 2}, Activation::None),
               InvalidInput);
  EXPECT_THROW(gemm(2, 2, 2, MatrixView{buf.data(), 2, 1}, MatrixView{buf.data(), 2, 1}, buf.data(), 1),
               InvalidInput);
}

}  // namespace
}  // namespace vramfit::cpu
