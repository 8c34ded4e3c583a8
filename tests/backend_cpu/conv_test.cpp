// Conv2d: hand-computed cases (one per attribute: kernel, padding, stride, dilation, groups, the
// bias/residual/activation order) and random odd-size cases against a direct 7-loop convolution.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::expect_equal;
using test::random_vector;

std::vector<float> iota(std::int64_t n, float start = 1.0f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return v;
}

std::vector<float> run_conv(const std::vector<float>& x, const std::vector<float>& w, const Conv2dShape& s,
                            const float* bias = nullptr, const float* residual = nullptr,
                            Activation act = Activation::None) {
  std::vector<float> y(static_cast<std::size_t>(s.batch * s.out_channels * s.out_h() * s.out_w()), -7.0f);
  conv2d(x.data(), w.data(), bias, residual, y.data(), s, act);
  return y;
}

// The definition of torch.nn.Conv2d, summed in double: for every output element, the 7 loops over
// (n, o, oh, ow) × (c in group, kh, kw), zero outside the image. Then + bias + residual, then act.
std::vector<double> naive_conv(const std::vector<float>& x, const std::vector<float>& w, const float* bias,
                               const float* residual, const Conv2dShape& s, Activation act) {
  const std::int64_t OH = s.out_h(), OW = s.out_w(), cg = s.in_channels / s.groups,
                     og = s.out_channels / s.groups;
  std::vector<double> y(static_cast<std::size_t>(s.batch * s.out_channels * OH * OW));
  for (std::int64_t n = 0; n < s.batch; ++n)
    for (std::int64_t o = 0; o < s.out_channels; ++o)
      for (std::int64_t oh = 0; oh < OH; ++oh)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          double sum = 0.0;
          const std::int64_t g = o / og;
          for (std::int64_t c = 0; c < cg; ++c)
            for (std::int64_t i = 0; i < s.kernel_h; ++i)
              for (std::int64_t j = 0; j < s.kernel_w; ++j) {
                const std::int64_t ih = oh * s.stride_h - s.pad_h + i * s.dilation_h;
                const std::int64_t iw = ow * s.stride_w - s.pad_w + j * s.dilation_w;
                if (ih < 0 || ih >= s.in_h || iw < 0 || iw >= s.in_w) continue;
                const double xv = x[static_cast<std::size_t>(((n * s.in_channels + g * cg + c) * s.in_h + ih) * s.in_w + iw)];
                const double wv = w[static_cast<std::size_t>(((o * cg + c) * s.kernel_h + i) * s.kernel_w + j)];
                sum += xv * wv;
              }
          const std::size_t at = static_cast<std::size_t>(((n * s.out_channels + o) * OH + oh) * OW + ow);
          if (bias) sum += bias[o];
          if (residual) sum += residual[at];
          // Activations evaluated independently of the library (erfc form of GELU, logistic SiLU).
          switch (act) {
            case Activation::None: break;
            case Activation::Relu: sum = sum > 0 ? sum : 0; break;
            case Activation::Gelu: sum = 0.5 * sum * std::erfc(-sum / std::sqrt(2.0)); break;
            case Activation::Silu: sum = sum / (1.0 + std::exp(-sum)); break;
          }
          y[at] = sum;
        }
  return y;
}

TEST(Conv2d, HandComputed3x3) {
  // x[r][c] = 4r + c + 1 on a 4×4 image; kernel taps (0,0)=1, (0,1)=2, (1,1)=1, (2,2)=3, so
  // y[r][c] = x[r][c] + 2x[r][c+1] + x[r+1][c+1] + 3x[r+2][c+2] = 28r + 7c + 44.
  const Conv2dShape s{.in_h = 4, .in_w = 4, .kernel_h = 3, .kernel_w = 3};
  const std::vector<float> w{1, 2, 0, 0, 1, 0, 0, 0, 3};
  expect_equal(run_conv(iota(16), w, s), {44, 51, 72, 79}, "3x3 valid");
}

TEST(Conv2d, IdentityKernelsReproduceTheInput) {
  const auto x = random_vector(3 * 5 * 9 * 11, 1);
  // 1×1 with the identity matrix: a direct (no im2col) convolution.
  const Conv2dShape s1{.batch = 3, .in_channels = 5, .in_h = 9, .in_w = 11, .out_channels = 5};
  std::vector<float> eye(25, 0.0f);
  for (int i = 0; i < 5; ++i) eye[static_cast<std::size_t>(i * 6)] = 1.0f;
  expect_equal(run_conv(x, eye, s1), x, "1x1 identity");
  // 3×3 delta (centre tap) with padding 1: output = input, borders included.
  Conv2dShape s3 = s1;
  s3.kernel_h = s3.kernel_w = 3;
  s3.pad_h = s3.pad_w = 1;
  std::vector<float> delta(5 * 5 * 9, 0.0f);
  for (int o = 0; o < 5; ++o) delta[static_cast<std::size_t>((o * 5 + o) * 9 + 4)] = 1.0f;
  expect_equal(run_conv(x, delta, s3), x, "3x3 delta, pad 1");
}

TEST(Conv2d, ZeroPaddingCountsNothing) {
  // All-ones 4×5 image and 3×3 kernel with padding 1: each output counts its in-image taps.
  const Conv2dShape s{.in_h = 4, .in_w = 5, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1};
  expect_equal(run_conv(std::vector<float>(20, 1.0f), std::vector<float>(9, 1.0f), s),
               {4, 6, 6, 6, 4,  //
                6, 9, 9, 9, 6,  //
                6, 9, 9, 9, 6,  //
                4, 6, 6, 6, 4},
               "padding");
}

TEST(Conv2d, StrideSamplesEveryOtherPixel) {
  const Conv2dShape s{.in_h = 4, .in_w = 4, .stride_h = 2, .stride_w = 2};
  expect_equal(run_conv(iota(16), {1.0f}, s), {1, 3, 9, 11}, "1x1 stride 2");
}

TEST(Conv2d, DilationSpreadsTheTaps) {
  // x[r][c] = 5r + c on 5×5; 2×2 kernel [[1, 10], [100, 1000]] at dilation 2 reads x[r][c], x[r][c+2],
  // x[r+2][c], x[r+2][c+2]: y = 1111·(5r + c) + 10·2 + 100·10 + 1000·12.
  const Conv2dShape s{.in_h = 5, .in_w = 5, .kernel_h = 2, .kernel_w = 2, .dilation_h = 2, .dilation_w = 2};
  std::vector<float> expected;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) expected.push_back(static_cast<float>(1111 * (5 * r + c) + 13020));
  expect_equal(run_conv(iota(25, 0.0f), {1, 10, 100, 1000}, s), expected, "dilation 2");
}

TEST(Conv2d, GroupsSeeOnlyTheirChannels) {
  // 4 channels in 2 groups, 1×1: out0 = 2·x0 + 3·x1, out1 = 5·x2 + 7·x3 (x_c constant = c + 1).
  const Conv2dShape s{.in_channels = 4, .in_h = 2, .in_w = 3, .out_channels = 2, .groups = 2};
  std::vector<float> x;
  for (int c = 0; c < 4; ++c) x.insert(x.end(), 6, static_cast<float>(c + 1));
  std::vector<float> expected(6, 2 * 1 + 3 * 2);
  expected.insert(expected.end(), 6, 5 * 3 + 7 * 4);
  expect_equal(run_conv(x, {2, 3, 5, 7}, s), expected, "2 groups");
  // Depthwise 3×3 over ones: channel c's kernel is all (c + 1), so every output is 9·(c + 1).
  const Conv2dShape d{.in_channels = 3, .in_h = 4, .in_w = 5, .out_channels = 3, .kernel_h = 3, .kernel_w = 3,
                      .groups = 3};
  std::vector<float> wd;
  for (int c = 0; c < 3; ++c) wd.insert(wd.end(), 9, static_cast<float>(c + 1));
  std::vector<float> ed;
  for (int c = 0; c < 3; ++c) ed.insert(ed.end(), 6, static_cast<float>(9 * (c + 1)));
  expect_equal(run_conv(std::vector<float>(60, 1.0f), wd, d), ed, "depthwise");
}

TEST(Conv2d, BiasThenResidualThenActivation) {
  // conv = 2·x; bias 1; residual −6: relu(2·2 + 1 − 6) = 0 but relu(2·4 + 1 − 6) = 3. Applying the
  // activation before the residual would give 5 − 6 = −1 and 9 − 6 = 3.
  const Conv2dShape s{.in_w = 2};
  const float bias = 1.0f;
  const std::vector<float> residual{-6.0f, -6.0f};
  expect_equal(run_conv({2.0f, 4.0f}, {2.0f}, s, &bias, residual.data(), Activation::Relu), {0.0f, 3.0f},
               "relu(conv + b + res)");
  // GELU(1) = Φ(1) = 0.841344746…
  const std::vector<float> y = run_conv({0.25f}, {2.0f}, Conv2dShape{}, &bias, std::vector<float>{-0.5f}.data(),
                                        Activation::Gelu);
  EXPECT_NEAR(y[0], 0.8413447460685429, 1e-7);
}

struct ConvCase {
  const char* name;
  Conv2dShape s;
  bool bias, residual;
  Activation act;
};

TEST(Conv2d, RandomOddSizesMatchDirectLoops) {
  const ConvCase cases[] = {
      {"3x3 pad 1, 7→13, batch 1", {.batch = 1, .in_channels = 7, .in_h = 9, .in_w = 11, .out_channels = 13,
        .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1}, true, false, Activation::None},
      {"3x3 pad 1, 13→7, batch 3, bias+res+relu", {.batch = 3, .in_channels = 13, .in_h = 9, .in_w = 11,
        .out_channels = 7, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1}, true, true, Activation::Relu},
      {"5x3 stride 2 pad (2,1) dilation (1,2), gelu", {.batch = 3, .in_channels = 7, .in_h = 9, .in_w = 11,
        .out_channels = 13, .kernel_h = 5, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 1,
        .dilation_h = 1, .dilation_w = 2}, true, false, Activation::Gelu},
      {"depthwise 13, 3x3 stride 2 pad 1, silu", {.batch = 3, .in_channels = 13, .in_h = 9, .in_w = 11,
        .out_channels = 13, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
        .groups = 13}, true, true, Activation::Silu},
      {"groups 3, 21→12, 3x3 dilation 2 pad 2", {.batch = 1, .in_channels = 21, .in_h = 9, .in_w = 11,
        .out_channels = 12, .kernel_h = 3, .kernel_w = 3, .pad_h = 2, .pad_w = 2, .dilation_h = 2,
        .dilation_w = 2, .groups = 3}, false, true, Activation::None},
      {"1x1 direct 19→7", {.batch = 3, .in_channels = 19, .in_h = 9, .in_w = 11, .out_channels = 7}, true, true,
       Activation::Relu},
      {"1x1 stride 2 (downsample)", {.batch = 3, .in_channels = 13, .in_h = 9, .in_w = 11, .out_channels = 7,
        .stride_h = 2, .stride_w = 2}, false, false, Activation::None},
      // K = 37·9 = 333 > one k-block, 70 output channels > one row tile, 19·17 = 323 pixels > one column
      // tile: every blocking edge of the GEMM.
      {"blocking edges 37→70 3x3 on 19x17", {.batch = 1, .in_channels = 37, .in_h = 19, .in_w = 17,
        .out_channels = 70, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1}, true, true, Activation::Relu},
      {"7x7 stride 2 pad 3 (stem) 3→13", {.batch = 1, .in_channels = 3, .in_h = 19, .in_w = 23,
        .out_channels = 13, .kernel_h = 7, .kernel_w = 7, .stride_h = 2, .stride_w = 2, .pad_h = 3,
        .pad_w = 3}, false, false, Activation::None},
  };
  std::uint64_t seed = 100;
  for (const auto& c : cases) {
    const auto& s = c.s;
    const auto x = random_vector(s.batch * s.in_channels * s.in_h * s.in_w, ++seed);
    const auto w = random_vector(s.out_channels * (s.in_channels / s.groups) * s.kernel_h * s.kernel_w, ++seed, 0.3f);
    const auto b = random_vector(s.out_channels, ++seed);
    const auto r = random_vector(s.batch * s.out_channels * s.out_h() * s.out_w(), ++seed);
    const float* bp = c.bias ? b.data() : nullptr;
    const float* rp = c.residual ? r.data() : nullptr;
    const auto y = run_conv(x, w, s, bp, rp, c.act);
    const double used = expect_close(y, naive_conv(x, w, bp, rp, s, c.act), 1e-5, c.name);
    std::cout << "  " << c.name << ": " << used * 100 << "% of the 1e-5 tolerance used\n";
  }
}

TEST(Conv2d, BadShapesAreInvalidInput) {
  std::vector<float> buf(64, 1.0f);
  EXPECT_THROW(conv2d(buf.data(), buf.data(), nullptr, nullptr, buf.data(),
                      Conv2dShape{.in_channels = 3, .out_channels = 2, .groups = 2}, Activation::None),
               InvalidInput);
  EXPECT_THROW(conv2d(buf.data(), buf.data(), nullptr, nullptr, buf.data(),
                      Conv2dShape{.in_h = 2, .in_w = 2, .kernel_h = 3, .kernel_w = 3}, Activation::None),
               InvalidInput);
  EXPECT_THROW(conv2d(buf.data(), buf.data(), nullptr, nullptr, buf.data(), Conv2dShape{.stride_h = 0},
                      Activation::None),
               InvalidInput);
}

// The reference speed on a full-size layer (resnet50's layer1 width × 4: 256→256 3×3 at 56×56),
// checked at a spread of output points against the direct loops so the timing cannot hide a wrong
// result.
TEST(Conv2d, FullSizeLayerTimingAndSpotCheck) {
  const Conv2dShape s{.batch = 1, .in_channels = 256, .in_h = 56, .in_w = 56, .out_channels = 256,
                      .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1};
  const auto x = random_vector(s.in_channels * 56 * 56, 7);
  const auto w = random_vector(s.out_channels * s.in_channels * 9, 8, 0.03f);
  const auto b = random_vector(s.out_channels, 9);
  std::vector<float> y(static_cast<std::size_t>(s.out_channels * 56 * 56));
  const auto t0 = std::chrono::steady_clock::now();
  conv2d(x.data(), w.data(), b.data(), nullptr, y.data(), s, Activation::Relu);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double gflop = 2.0 * 256 * 256 * 9 * 56 * 56 / 1e9;
  std::cout << "  256→256 3×3 at 56×56, batch 1: " << sec * 1e3 << " ms (" << gflop / sec << " GFLOP/s)\n";
  RecordProperty("conv_256x256_3x3_56_ms", static_cast<int>(sec * 1e3));
  for (std::int64_t o : {0, 101, 255})
    for (std::int64_t p : {0, 55, 57, 1500, 3135}) {
      const std::int64_t oh = p / 56, ow = p % 56;
      double sum = b[static_cast<std::size_t>(o)];
      for (std::int64_t c = 0; c < 256; ++c)
        for (std::int64_t i = 0; i < 3; ++i)
          for (std::int64_t j = 0; j < 3; ++j) {
            const std::int64_t ih = oh - 1 + i, iw = ow - 1 + j;
            if (ih < 0 || ih >= 56 || iw < 0 || iw >= 56) continue;
            sum += static_cast<double>(x[static_cast<std::size_t>((c * 56 + ih) * 56 + iw)]) *
                   w[static_cast<std::size_t>(((o * 256 + c) * 3 + i) * 3 + j)];
          }
      sum = std::max(sum, 0.0);
      EXPECT_NEAR(y[static_cast<std::size_t>(o * 3136 + p)], sum, 1e-5 * (std::abs(sum) + 1.0)) << o << "," << p;
    }
}

}  // namespace
}  // namespace vramfit::cpu
