// weights/quant_int.h: the documented byte layout on hand-built rows (exact scales, nibble order,
// ties to even, clamping, zero rows), the round-trip error bound on random rows, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/rng.h"
#include "weights/quant_int.h"

namespace vramfit {
namespace {

std::vector<float> random_matrix(std::int64_t n, std::int64_t k, std::uint64_t stream) {
  std::vector<float> w(static_cast<std::size_t>(n * k));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.05f * normal01(7, stream, i);
  return w;
}

TEST(QuantInt8, ExactRowRoundTripsAndLayout) {
  // Row 0: q·0.5 for q = −127 … 127 (max 63.5 → scale 63.5/127 = 0.5 exactly); row 1 zeros; row 2 ties.
  const std::int64_t k = 255;
  std::vector<float> w(3 * k, 0.0f);
  for (std::int64_t c = 0; c < k; ++c) w[c] = static_cast<float>(c - 127) * 0.5f;
  w[2 * k + 0] = 127.0f;  // scale 1
  w[2 * k + 1] = 2.5f;    // tie → 2 (even)
  w[2 * k + 2] = -3.5f;   // tie → −4 (even)
  const Int8Weights q = quantize_int8(w.data(), 3, k);
  ASSERT_EQ(q.q.size(), 3u * k);
  ASSERT_EQ(q.scale.size(), 3u);
  EXPECT_EQ(half_bits_to_float(q.scale[0]), 0.5f);
  EXPECT_EQ(half_bits_to_float(q.scale[1]), 1.0f);  // zero row
  EXPECT_EQ(half_bits_to_float(q.scale[2]), 1.0f);
  for (std::int64_t c = 0; c < k; ++c) EXPECT_EQ(q.q[c], c - 127) << c;
  for (std::int64_t c = 0; c < k; ++c) EXPECT_EQ(q.q[k + c], 0);
  EXPECT_EQ(q.q[2 * k + 1], 2);
  EXPECT_EQ(q.q[2 * k + 2], -4);
  const auto d = dequantize(q);
  for (std::int64_t c = 0; c < k; ++c) EXPECT_EQ(d[c], w[c]);
  EXPECT_EQ(q.bytes(), int8_weight_bytes(3, k));
  EXPECT_EQ(int8_weight_bytes(3, k), 3u * 255 + 6);
}

TEST(QuantInt4, NibbleOrderGroupsAndScales) {
  // Two rows of k = 256 (two groups each). Group (r, g) holds ((c % 15) − 7)·step with step 0.25·(1 + r + g):
  // max |w| = 7·step → scale = step exactly, q = (c % 15) − 7, nibble q + 8.
  const std::int64_t n = 2, k = 256;
  std::vector<float> w(n * k);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < k; ++c)
      w[r * k + c] = static_cast<float>(c % 15 - 7) * 0.25f * static_cast<float>(1 + r + c / 128);
  const Int4Weights q = quantize_int4(w.data(), n, k);
  ASSERT_EQ(q.packed.size(), static_cast<std::size_t>(n * k / 2));
  ASSERT_EQ(q.scale.size(), static_cast<std::size_t>(n * 2));
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t g = 0; g < 2; ++g) EXPECT_EQ(half_bits_to_float(q.scale[r * 2 + g]), 0.25f * static_cast<float>(1 + r + g));
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t j = 0; j < k / 2; ++j) {
      const int lo = static_cast<int>((2 * j) % 15) - 7 + 8, hi = static_cast<int>((2 * j + 1) % 15) - 7 + 8;
      EXPECT_EQ(q.packed[r * (k / 2) + j], lo | (hi << 4)) << "row " << r << " byte " << j;
    }
  EXPECT_EQ(dequantize(q), w);
  EXPECT_EQ(q.bytes(), int4_weight_bytes(n, k));
  EXPECT_EQ(int4_weight_bytes(n, k), static_cast<std::uint64_t>(n * k / 2 + 2 * n * 2));
}

TEST(QuantInt4, ZeroGroupsAndSymmetricRange) {
  std::vector<float> w(256, 0.0f);
  for (std::int64_t c = 128; c < 256; ++c) w[c] = c % 2 ? -3.5f : 3.5f;  // group 1: ±max → q = ±7
  const Int4Weights q = quantize_int4(w.data(), 1, 256);
  EXPECT_EQ(half_bits_to_float(q.scale[0]), 1.0f);  // all-zero group
  EXPECT_EQ(half_bits_to_float(q.scale[1]), 0.5f);
  for (std::int64_t j = 0; j < 64; ++j) EXPECT_EQ(q.packed[j], 0x88) << j;  // q = 0 → nibble 8
  for (std::int64_t j = 64; j < 128; ++j) EXPECT_EQ(q.packed[j], 15 | (1 << 4)) << j;  // +7 → 15, −7 → 1
}

TEST(QuantInt, RandomRoundTripWithinHalfAStep) {
  const std::int64_t n = 37, k = 384;
  const auto w = random_matrix(n, k, 1);
  const Int8Weights q8 = quantize_int8(w.data(), n, k);
  const Int4Weights q4 = quantize_int4(w.data(), n, k);
  const auto d8 = dequantize(q8), d4 = dequantize(q4);
  double worst8 = 0.0, worst4 = 0.0;
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t c = 0; c < k; ++c) {
      const std::size_t i = static_cast<std::size_t>(r * k + c);
      const double s8 = half_bits_to_float(q8.scale[r]);
      const double s4 = half_bits_to_float(q4.scale[r * (k / 128) + c / 128]);
      // Half a step, plus the fp16 rounding of the scale (max|w| may sit slightly past 127·s or 7·s).
      worst8 = std::max(worst8, std::fabs(d8[i] - w[i]) / (s8 * (0.5 + 127 * 1e-3)));
      worst4 = std::max(worst4, std::fabs(d4[i] - w[i]) / (s4 * (0.5 + 7 * 1e-3)));
    }
  std::printf("  int8 worst error %.3f of the bound, int4 %.3f\n", worst8, worst4);
  EXPECT_LE(worst8, 1.0);
  EXPECT_LE(worst4, 1.0);
  EXPECT_GT(worst8, 0.5);  // the bound is not vacuous
  EXPECT_GT(worst4, 0.5);
}

TEST(QuantInt, TinyRowsKeepANonzeroScale) {
  std::vector<float> w(128, 1e-9f);
  const Int8Weights q = quantize_int8(w.data(), 1, 128);
  EXPECT_GT(half_bits_to_float(q.scale[0]), 0.0f);
}

TEST(QuantInt, RejectsBadInput) {
  std::vector<float> w(256, 0.5f);
  EXPECT_THROW(quantize_int4(w.data(), 2, 100), InvalidInput);
  EXPECT_THROW(quantize_int8(w.data(), 0, 16), InvalidInput);
  EXPECT_THROW(int4_weight_bytes(1, 64), InvalidInput);
  w[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(quantize_int8(w.data(), 2, 128), InvalidInput);
  EXPECT_THROW(quantize_int4(w.data(), 1, 256), InvalidInput);
  w[5] = 1e9f;  // scale beyond fp16
  EXPECT_THROW(quantize_int8(w.data(), 2, 128), InvalidInput);
}

}  // namespace
}  // namespace vramfit
