// Attention: hand cases (a softmax with known weights, head slicing, huge scores) and random odd sizes
// against a naive implementation that materialises Q, K, V per head and the full score matrix.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::random_vector;

TEST(Attention, HandComputedSoftmaxWeights) {
  // One head, d = 1 (scale 1), two tokens. k = [0, ln 3]; query 0 has q = 1 → weights 1/4, 3/4 over
  // v = [4, 8] → 7; query 1 has q = 0 → uniform → 6.
  const float ln3 = static_cast<float>(std::log(3.0));
  // qkv per token: [q, k, v]
  const std::vector<float> qkv{1.0f, 0.0f, 4.0f, 0.0f, ln3, 8.0f};
  std::vector<float> y(2);
  attention(qkv.data(), y.data(), AttentionShape{.batch = 1, .seq = 2, .embed = 1, .heads = 1});
  EXPECT_NEAR(y[0], 7.0, 1e-6);
  EXPECT_NEAR(y[1], 6.0, 1e-6);
}

TEST(Attention, HeadsAreContiguousSlices) {
  // E = 2, two heads of d = 1. Head 0 is the case above; head 1 has k = [ln 3, 0], q = [1, 1],
  // v = [10, 2] → weights 3/4, 1/4 → 8 for both queries. Output per token: [head 0, head 1].
  const float ln3 = static_cast<float>(std::log(3.0));
  // token layout: [q0 q1 | k0 k1 | v0 v1]
  const std::vector<float> qkv{1.0f, 1.0f, 0.0f, ln3, 4.0f, 10.0f,  //
                               0.0f, 1.0f, ln3, 0.0f, 8.0f, 2.0f};
  std::vector<float> y(4);
  attention(qkv.data(), y.data(), AttentionShape{.batch = 1, .seq = 2, .embed = 2, .heads = 2});
  EXPECT_NEAR(y[0], 7.0, 1e-6);
  EXPECT_NEAR(y[1], 8.0, 1e-6);
  EXPECT_NEAR(y[2], 6.0, 1e-6);
  EXPECT_NEAR(y[3], 8.0, 1e-6);
}

TEST(Attention, HugeScoresDoNotOverflow) {
  // Scores of ±4000 (e^4000 overflows even a double): the max-shifted softmax puts all weight on the
  // largest score, so each query returns that token's v.
  const std::vector<float> qkv{100.0f, 40.0f, 1.5f,  //
                               -100.0f, -40.0f, -2.5f};
  std::vector<float> y(2);
  attention(qkv.data(), y.data(), AttentionShape{.batch = 1, .seq = 2, .embed = 1, .heads = 1});
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[1], -2.5f);
}

std::vector<double> naive_attention(const std::vector<float>& qkv, const AttentionShape& s) {
  const std::int64_t B = s.batch, S = s.seq, E = s.embed, H = s.heads, d = E / H;
  std::vector<double> y(static_cast<std::size_t>(B * S * E));
  auto at = [&](std::int64_t b, std::int64_t t, std::int64_t which, std::int64_t h, std::int64_t c) {
    return static_cast<double>(qkv[static_cast<std::size_t>((b * S + t) * 3 * E + which * E + h * d + c)]);
  };
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      // Score matrix, then a log-sum-exp softmax per row.
      std::vector<std::vector<double>> p(static_cast<std::size_t>(S), std::vector<double>(static_cast<std::size_t>(S)));
      for (std::int64_t i = 0; i < S; ++i) {
        auto& row = p[static_cast<std::size_t>(i)];
        for (std::int64_t j = 0; j < S; ++j) {
          double dot = 0;
          for (std::int64_t c = 0; c < d; ++c) dot += at(b, i, 0, h, c) * at(b, j, 1, h, c);
          row[static_cast<std::size_t>(j)] = dot / std::sqrt(static_cast<double>(d));
        }
        double lse = 0;
        for (double v : row) lse += std::exp(v);
        lse = std::log(lse);
        for (double& v : row) v = std::exp(v - lse);
      }
      for (std::int64_t i = 0; i < S; ++i)
        for (std::int64_t c = 0; c < d; ++c) {
          double o = 0;
          for (std::int64_t j = 0; j < S; ++j) o += p[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] * at(b, j, 2, h, c);
          y[static_cast<std::size_t>((b * S + i) * E + h * d + c)] = o;
        }
    }
  return y;
}

TEST(Attention, RandomOddSizesMatchNaive) {
  const AttentionShape shapes[] = {{.batch = 1, .seq = 19, .embed = 48, .heads = 3},   // d = 16
                                   {.batch = 3, .seq = 19, .embed = 60, .heads = 3},   // d = 20
                                   {.batch = 3, .seq = 7, .embed = 20, .heads = 1},
                                   {.batch = 1, .seq = 197, .embed = 40, .heads = 2}};  // ViT's 197 tokens
  std::uint64_t seed = 30;
  for (const auto& s : shapes) {
    const auto qkv = random_vector(s.batch * s.seq * 3 * s.embed, ++seed, 1.5f);
    std::vector<float> y(static_cast<std::size_t>(s.batch * s.seq * s.embed));
    attention(qkv.data(), y.data(), s);
    expect_close(y, naive_attention(qkv, s), 1e-6,
                 "attention B" + std::to_string(s.batch) + " S" + std::to_string(s.seq) + " d" + std::to_string(s.head_dim()));
  }
}

TEST(Attention, HeadsMustDivideEmbedding) {
  std::vector<float> buf(64, 1.0f);
  EXPECT_THROW(attention(buf.data(), buf.data(), AttentionShape{.batch = 1, .seq = 2, .embed = 10, .heads = 3}),
               InvalidInput);
}

}  // namespace
}  // namespace vramfit::cpu
