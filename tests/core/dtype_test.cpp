#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"
#include "core/rng.h"
#include "core/shape.h"
#include "core/tensor.h"

namespace vramfit {
namespace {

TEST(DType, StorageBytesByBlock) {
  EXPECT_EQ(storage_bytes(DType::f32, 7), 28u);
  EXPECT_EQ(storage_bytes(DType::f16, 7), 14u);
  EXPECT_EQ(storage_bytes(DType::i4, 7), 4u);  // packed two per byte, rounded up
  EXPECT_EQ(storage_bytes(DType::q8_0, 64), 68u);
  EXPECT_EQ(storage_bytes(DType::q4_0, 33), 36u);  // two blocks
  EXPECT_EQ(storage_bytes(DType::q4_k, 256), 144u);
  EXPECT_DOUBLE_EQ(bits_per_element(DType::q4_0), 4.5);
  EXPECT_DOUBLE_EQ(bits_per_element(DType::q6_k), 6.5625);
  for (DType t : all_dtypes()) EXPECT_EQ(parse_dtype(to_string(t)), t);
}

TEST(Precision, ParseListsValidIds) {
  EXPECT_EQ(parse_precision("fp16"), Precision::fp16);
  EXPECT_EQ(parse_precision("q4_k_m"), Precision::q4_k_m);
  try {
    parse_precision("fp12");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("fp12"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("bf16"), std::string::npos);
  }
  for (Precision p : all_precisions()) EXPECT_EQ(parse_precision(to_string(p)), p);
  EXPECT_EQ(min_compute_capability(Precision::bf16), 80);
  EXPECT_EQ(min_compute_capability(Precision::fp8), 89);
}

TEST(Half, RoundTripAndRounding) {
  EXPECT_EQ(round_to_half(1.0f), 1.0f);
  EXPECT_EQ(round_to_half(65504.0f), 65504.0f);
  EXPECT_TRUE(std::isinf(round_to_half(65520.0f)));  // rounds up past max → inf
  EXPECT_EQ(round_to_half(65519.0f), 65504.0f);
  EXPECT_EQ(round_to_half(1.0f + 1.0f / 4096.0f), 1.0f);  // half-way ties to even
  EXPECT_EQ(round_to_half(1.0f + 3.0f / 2048.0f), 1.0f + 2.0f / 1024.0f);  // 1.5 ulp ties to even
  EXPECT_EQ(round_to_half(1.0f + 3.0f / 4096.0f), 1.0f + 1.0f / 1024.0f);  // 0.75 ulp rounds up
  EXPECT_EQ(round_to_half(5.960464477539063e-08f), 5.960464477539063e-08f);  // smallest subnormal
  EXPECT_EQ(round_to_half(-2.5f), -2.5f);
  EXPECT_TRUE(std::isnan(round_to_half(NAN)));
  // every half bit pattern (not nan) converts back to itself
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) continue;
    const float f = half_bits_to_float(static_cast<std::uint16_t>(h));
    ASSERT_EQ(float_to_half_bits(f), h) << h;
  }
  EXPECT_EQ(round_to_bf16(1.0f + 1.0f / 256.0f), 1.0f);  // tie to even
  EXPECT_EQ(round_to_bf16(1.0f + 3.0f / 256.0f), 1.0f + 2.0f / 128.0f);
}

TEST(Rng, CounterBasedAndNormal) {
  EXPECT_EQ(normal01(1, stream_id("a"), 5), normal01(1, stream_id("a"), 5));
  EXPECT_NE(normal01(1, stream_id("a"), 5), normal01(2, stream_id("a"), 5));
  EXPECT_NE(normal01(1, stream_id("a"), 5), normal01(1, stream_id("b"), 5));
  double sum = 0, sq = 0;
  const int n = 200001;
  for (int i = 0; i < n; ++i) {
    const double v = normal01(7, 3, static_cast<std::uint64_t>(i));
    sum += v;
    sq += v * v;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.02);
}

TEST(Tensor, ErrorsAndShapes) {
  Shape s{19, 3, 7, 9};
  EXPECT_EQ(s.numel(), 19 * 3 * 7 * 9);
  EXPECT_EQ(s.numel_per_sample(), 3 * 7 * 9);
  EXPECT_EQ(s.to_string(), "[19, 3, 7, 9]");
  std::vector<float> a{1, 2, 3}, b{1, 2, 3.5f};
  EXPECT_NEAR(relative_l2(a, b), 0.5 / std::sqrt(1 + 4 + 12.25), 1e-9);
  EXPECT_EQ(relative_l2(a, a), 0.0);
  EXPECT_NEAR(cosine_similarity(a, a), 1.0, 1e-12);
}

}  // namespace
}  // namespace vramfit
