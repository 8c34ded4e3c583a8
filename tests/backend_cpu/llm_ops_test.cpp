// backend/cpu/llm_ops.h: each reference against an independent formulation — attention_gqa with one
// kv head per q head and no mask equals ops.h attention on packed qkv; GQA equals MHA with the kv
// heads repeated (HF repeat_kv); the causal mask equals truncating the keys; RoPE preserves each
// pair's norm, is the identity at position 0 and composes (rotation by p then q = by p + q);
// RMSNorm by hand; argmax ties and NaNs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "backend/cpu/llm_ops.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/rng.h"

namespace vramfit::cpu {
namespace {

using I64 = std::int64_t;
std::vector<float> rnd(std::size_t n, std::uint64_t s) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = normal01(99, s, i);
  return v;
}
std::size_t z(I64 v) { return static_cast<std::size_t>(v); }

TEST(LlmOps, GqaWithoutMaskEqualsPackedAttention) {
  const I64 B = 2, S = 19, H = 3, d = 16, E = H * d;
  const auto qkv = rnd(z(B * S * 3 * E), 1);
  std::vector<float> ref(z(B * S * E)), q(ref.size()), k(ref.size()), v(ref.size()), o(ref.size());
  attention(qkv.data(), ref.data(), AttentionShape{B, S, E, H});
  for (I64 t = 0; t < B * S; ++t)
    for (I64 e = 0; e < E; ++e) {
      q[z(t * E + e)] = qkv[z(t * 3 * E + e)];
      k[z(t * E + e)] = qkv[z(t * 3 * E + E + e)];
      v[z(t * E + e)] = qkv[z(t * 3 * E + 2 * E + e)];
    }
  GqaShape s{B, S, S, H, H, d, 0, false, 0.0f};
  attention_gqa(q.data(), k.data(), v.data(), o.data(), s);
  for (std::size_t i = 0; i < o.size(); ++i) EXPECT_NEAR(o[i], ref[i], 1e-6) << i;
}

TEST(LlmOps, GqaEqualsRepeatedKvAndCausalEqualsTruncation) {
  const I64 T = 7, H = 4, Hk = 2, d = 8, off = 3, L = off + T;
  const auto q = rnd(z(T * H * d), 2), k = rnd(z(L * Hk * d), 3), v = rnd(z(L * Hk * d), 4);
  std::vector<float> kr(z(L * H * d)), vr(kr.size());
  for (I64 j = 0; j < L; ++j)
    for (I64 h = 0; h < H; ++h)
      for (I64 e = 0; e < d; ++e) {
        kr[z((j * H + h) * d + e)] = k[z((j * Hk + h / (H / Hk)) * d + e)];
        vr[z((j * H + h) * d + e)] = v[z((j * Hk + h / (H / Hk)) * d + e)];
      }
  std::vector<float> o1(q.size()), o2(q.size());
  attention_gqa(q.data(), k.data(), v.data(), o1.data(), GqaShape{1, T, L, H, Hk, d, off, true, 0.0f});
  attention_gqa(q.data(), kr.data(), vr.data(), o2.data(), GqaShape{1, T, L, H, H, d, off, true, 0.0f});
  for (std::size_t i = 0; i < o1.size(); ++i) EXPECT_NEAR(o1[i], o2[i], 1e-6);
  // Query i under the causal mask = the same query alone over keys 0 … off + i without a mask.
  for (I64 i = 0; i < T; ++i) {
    std::vector<float> oi(z(H * d));
    attention_gqa(q.data() + i * H * d, k.data(), v.data(), oi.data(), GqaShape{1, 1, off + i + 1, H, Hk, d, 0, false, 0.0f});
    for (I64 e = 0; e < H * d; ++e) EXPECT_NEAR(oi[z(e)], o1[z(i * H * d + e)], 1e-6);
  }
  EXPECT_THROW(attention_gqa(q.data(), k.data(), v.data(), o1.data(), GqaShape{1, T, L, 4, 3, d, 0, true, 0.0f}),
               InvalidInput);
}

TEST(LlmOps, RopeRotatesPairs) {
  const I64 d = 16, H = 2;
  const auto inv = rope_inv_freq(d, 10000.0f);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_NEAR(inv[1], std::pow(10000.0, -2.0 / 16), 1e-7);
  const auto x = rnd(z(H * d), 5);
  auto y = x;
  const std::int32_t p0 = 0;
  rope(y.data(), 1, H, d, H * d, &p0, inv.data());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(y[i], x[i]);  // position 0: identity
  const std::int32_t p7 = 7, p5 = 5, p12 = 12;
  auto a = x, b = x;
  rope(a.data(), 1, H, d, H * d, &p7, inv.data());
  rope(a.data(), 1, H, d, H * d, &p5, inv.data());
  rope(b.data(), 1, H, d, H * d, &p12, inv.data());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5);
  for (I64 h = 0; h < H; ++h)
    for (I64 i = 0; i < d / 2; ++i) {
      const float* xs = x.data() + h * d;
      const float* bs = b.data() + h * d;
      EXPECT_NEAR(std::hypot(bs[i], bs[i + d / 2]), std::hypot(xs[i], xs[i + d / 2]), 1e-5);
    }
}

TEST(LlmOps, RmsNormSiluMulArgmax) {
  const float x[4] = {1, -2, 3, -4}, w[4] = {1, 2, 0.5f, -1};
  float y[4];
  rms_norm(x, w, y, 1, 4, 0.0f);
  const float r = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(y[i], x[i] / r * w[i], 1e-6);
  const float g[2] = {0.0f, 2.0f}, u[2] = {5.0f, 3.0f};
  float s[2];
  silu_mul(g, 2, u, 2, s, 1, 2);
  EXPECT_EQ(s[0], 0.0f);
  EXPECT_NEAR(s[1], 2.0 / (1 + std::exp(-2.0)) * 3.0, 1e-6);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float l[2][5] = {{1, 7, 3, 7, 0}, {nan, nan, -1, nan, -2}};
  std::int32_t out[2];
  argmax_rows(&l[0][0], 2, 5, 5, out);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[1], 2);
}

}  // namespace
}  // namespace vramfit::cpu
