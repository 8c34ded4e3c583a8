// Pooling: torch's padding conventions by hand, and random odd sizes against direct window loops.
#include <gtest/gtest.h>

#include <limits>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::expect_equal;
using test::random_vector;

std::vector<float> iota16(float sign) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[static_cast<std::size_t>(i)] = sign * static_cast<float>(i + 1);
  return v;
}

TEST(MaxPool, PaddingIsMinusInfinity) {
  // x = −(1…16) on 4×4, window 3×3 stride 2 padding 1: zero padding would win every window; −∞ must not.
  const Pool2dShape s{.in_h = 4, .in_w = 4, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                      .pad_h = 1, .pad_w = 1};
  std::vector<float> y(4);
  max_pool2d(iota16(-1.0f).data(), y.data(), s);
  expect_equal(y, {-1, -2, -5, -6}, "max pool");
}

TEST(AvgPool, CountIncludePad) {
  // x = 1…16 on 4×4, window 3×3 stride 2 padding 1: every window divides by 9, padding included.
  const Pool2dShape s{.in_h = 4, .in_w = 4, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                      .pad_h = 1, .pad_w = 1};
  std::vector<float> y(4);
  avg_pool2d(iota16(1.0f).data(), y.data(), s);
  expect_equal(y, {14.0f / 9, 30.0f / 9, 57.0f / 9, 11.0f}, "avg pool");
}

TEST(GlobalAvgPool, MeanOfEachPlane) {
  std::vector<float> x = iota16(1.0f);  // 2 channels of 2×4: means 4.5 and 12.5
  std::vector<float> y(2);
  global_avg_pool(x.data(), y.data(), 1, 2, 8);
  expect_equal(y, {4.5f, 12.5f}, "global avg pool");
}

TEST(Pool, RandomOddSizesMatchDirectLoops) {
  const Pool2dShape shapes[] = {
      {.batch = 3, .channels = 7, .in_h = 9, .in_w = 11, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
       .pad_h = 1, .pad_w = 1},
      {.batch = 1, .channels = 13, .in_h = 9, .in_w = 11, .kernel_h = 2, .kernel_w = 3, .stride_h = 1, .stride_w = 2,
       .pad_h = 1, .pad_w = 0},
      {.batch = 3, .channels = 5, .in_h = 19, .in_w = 7, .kernel_h = 5, .kernel_w = 5, .stride_h = 3, .stride_w = 1,
       .pad_h = 2, .pad_w = 2},
  };
  std::uint64_t seed = 20;
  for (const auto& s : shapes) {
    const auto x = random_vector(s.batch * s.channels * s.in_h * s.in_w, ++seed);
    const std::int64_t OH = s.out_h(), OW = s.out_w();
    std::vector<float> ymax(static_cast<std::size_t>(s.batch * s.channels * OH * OW));
    std::vector<float> yavg(ymax.size());
    max_pool2d(x.data(), ymax.data(), s);
    avg_pool2d(x.data(), yavg.data(), s);
    std::vector<float> want_max;
    std::vector<double> want_avg;
    for (std::int64_t p = 0; p < s.batch * s.channels; ++p)
      for (std::int64_t oh = 0; oh < OH; ++oh)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          float m = -std::numeric_limits<float>::infinity();
          double sum = 0.0;
          for (std::int64_t i = 0; i < s.kernel_h; ++i)
            for (std::int64_t j = 0; j < s.kernel_w; ++j) {
              const std::int64_t ih = oh * s.stride_h - s.pad_h + i, iw = ow * s.stride_w - s.pad_w + j;
              const bool inside = ih >= 0 && ih < s.in_h && iw >= 0 && iw < s.in_w;
              const float v = inside ? x[static_cast<std::size_t>((p * s.in_h + ih) * s.in_w + iw)] : 0.0f;
              if (inside) m = std::max(m, v);
              sum += v;
            }
          want_max.push_back(m);
          want_avg.push_back(sum / static_cast<double>(s.kernel_h * s.kernel_w));
        }
    expect_equal(ymax, want_max, "max pool");
    expect_close(yavg, want_avg, 1e-6, "avg pool");
  }
  // Global average over a 9×11 plane, 3×13 planes.
  const auto x = random_vector(3 * 13 * 99, 77);
  std::vector<float> y(3 * 13);
  global_avg_pool(x.data(), y.data(), 3, 13, 99);
  std::vector<double> want;
  for (int p = 0; p < 39; ++p) {
    double s = 0.0;
    for (int i = 0; i < 99; ++i) s += x[static_cast<std::size_t>(p * 99 + i)];
    want.push_back(s / 99.0);
  }
  expect_close(y, want, 1e-6, "global avg pool");
}

TEST(Pool, BadShapesAreInvalidInput) {
  std::vector<float> buf(16, 1.0f);
  EXPECT_THROW(max_pool2d(buf.data(), buf.data(), Pool2dShape{.in_h = 2, .in_w = 2, .kernel_h = 3, .kernel_w = 3}),
               InvalidInput);
  EXPECT_THROW(avg_pool2d(buf.data(), buf.data(), Pool2dShape{.stride_h = 0}), InvalidInput);
}

}  // namespace
}  // namespace vramfit::cpu
