// The training reference (backend/cpu/backward.h) against finite differences of the forward ops: for
// L = Σ r ∘ f(x) with a fixed random r (= dy), every gradient the backward writes must match
// (L(x + h·e_i) − L(x − h·e_i)) / 2h, element by element. Inputs keep clear of the kinks (ReLU at 0,
// ties in a max pool) so that the difference quotient is the derivative.
#include "backend/cpu/backward.h"

#include <functional>
#include <gtest/gtest.h>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::random_vector;

double dot(const std::vector<float>& a, const std::vector<float>& r) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * r[i];
  return s;
}

// ∂(Σ r ∘ forward()) / ∂param, by central differences with step h (param is read by forward).
std::vector<double> numeric(std::vector<float>& param, const std::function<std::vector<float>()>& forward, const std::vector<float>& r,
                            double h = 1e-2) {
  std::vector<double> g(param.size());
  for (std::size_t i = 0; i < param.size(); ++i) {
    const float keep = param[i];
    param[i] = static_cast<float>(keep + h);
    const double up = dot(forward(), r);
    param[i] = static_cast<float>(keep - h);
    const double down = dot(forward(), r);
    param[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

constexpr double kTol = 3e-3;

TEST(Backward, Activations) {
  // Away from ReLU's kink: |x| ≥ 0.1.
  std::vector<float> x = random_vector(200, 1);
  for (auto& v : x) v = v >= 0 ? v + 0.1f : v - 0.1f;
  const auto r = random_vector(200, 2);
  for (Activation a : {Activation::Relu, Activation::Gelu, Activation::Silu, Activation::None}) {
    std::vector<float> dx(x.size());
    activation_backward(x.data(), r.data(), dx.data(), 200, a);
    auto fwd = [&] {
      std::vector<float> y(x.size());
      activation(x.data(), y.data(), 200, a);
      return y;
    };
    expect_close(dx, numeric(x, fwd, r, 1e-3), kTol, "activation " + std::to_string(static_cast<int>(a)));
  }
}

TEST(Backward, Linear) {
  const LinearShape s{6, 10, 7};
  auto x = random_vector(60, 3), w = random_vector(70, 4, 0.3f), b = random_vector(7, 5);
  const auto r = random_vector(42, 6);
  auto fwd = [&] {
    std::vector<float> y(42);
    linear(x.data(), w.data(), b.data(), nullptr, y.data(), s, Activation::None);
    return y;
  };
  std::vector<float> dx(60), dw(70), db(7);
  linear_backward(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), s);
  expect_close(dx, numeric(x, fwd, r), kTol, "linear dx");
  expect_close(dw, numeric(w, fwd, r), kTol, "linear dw");
  expect_close(db, numeric(b, fwd, r), kTol, "linear db");
}

TEST(Backward, Conv2dStridedPaddedGroupedAndDilated) {
  for (const Conv2dShape& s : {Conv2dShape{2, 4, 7, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2}, Conv2dShape{1, 3, 8, 8, 4, 3, 2, 1, 1, 2, 1, 2, 2, 1}}) {
    auto x = random_vector(s.batch * s.in_channels * s.in_h * s.in_w, 7);
    auto w = random_vector(s.out_channels * (s.in_channels / s.groups) * s.kernel_h * s.kernel_w, 8, 0.3f);
    auto b = random_vector(s.out_channels, 9);
    const std::int64_t ny = s.batch * s.out_channels * s.out_h() * s.out_w();
    const auto r = random_vector(ny, 10);
    auto fwd = [&] {
      std::vector<float> y(static_cast<std::size_t>(ny));
      conv2d(x.data(), w.data(), b.data(), nullptr, y.data(), s, Activation::None);
      return y;
    };
    std::vector<float> dx(x.size()), dw(w.size()), db(b.size());
    conv2d_backward(x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(), s);
    expect_close(dx, numeric(x, fwd, r), kTol, "conv dx");
    expect_close(dw, numeric(w, fwd, r), kTol, "conv dw");
    expect_close(db, numeric(b, fwd, r), kTol, "conv db");
  }
}

TEST(Backward, BatchNormTrainingThroughTheBatchStatistics) {
  const std::int64_t B = 3, C = 4, I = 5;
  auto x = random_vector(B * C * I, 11, 2.0f, 0.5f), gamma = random_vector(C, 12, 0.5f, 1.0f), beta = random_vector(C, 13);
  const auto r = random_vector(B * C * I, 14);
  std::vector<float> mean(C), invstd(C);
  auto fwd = [&] {
    std::vector<float> y(x.size()), m(C), is(C);
    batch_norm_train(x.data(), gamma.data(), beta.data(), y.data(), m.data(), is.data(), nullptr, nullptr, B, C, I, 1e-5f, 0.1f);
    return y;
  };
  std::vector<float> y(x.size()), rm(C, 0.0f), rv(C, 1.0f);
  batch_norm_train(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), invstd.data(), rm.data(), rv.data(), B, C, I, 1e-5f, 0.1f);
  // The running statistics: momentum 0.1 towards the batch mean and the unbiased variance.
  for (std::int64_t c = 0; c < C; ++c) {
    double s = 0, sq = 0;
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < I; ++i) s += x[(b * C + c) * I + i];
    const double m = s / (B * I);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < I; ++i) sq += (x[(b * C + c) * I + i] - m) * (x[(b * C + c) * I + i] - m);
    EXPECT_NEAR(rm[c], 0.1 * m, 1e-6);
    EXPECT_NEAR(rv[c], 0.9 + 0.1 * sq / (B * I - 1), 1e-5);
  }
  std::vector<float> dx(x.size()), dg(C), dbt(C);
  batch_norm_backward(x.data(), gamma.data(), mean.data(), invstd.data(), r.data(), dx.data(), dg.data(), dbt.data(), B, C, I);
  expect_close(dx, numeric(x, fwd, r), kTol, "batch norm dx");
  expect_close(dg, numeric(gamma, fwd, r), kTol, "batch norm dgamma");
  expect_close(dbt, numeric(beta, fwd, r), kTol, "batch norm dbeta");
}

TEST(Backward, LayerNorm) {
  const std::int64_t R = 4, F = 9;
  auto x = random_vector(R * F, 15, 1.5f), gamma = random_vector(F, 16, 0.5f, 1.0f), beta = random_vector(F, 17);
  const auto r = random_vector(R * F, 18);
  auto fwd = [&] {
    std::vector<float> y(x.size());
    layer_norm(x.data(), gamma.data(), beta.data(), y.data(), R, F, 1e-5f);
    return y;
  };
  std::vector<float> dx(x.size()), dg(F), dbt(F);
  layer_norm_backward(x.data(), gamma.data(), r.data(), dx.data(), dg.data(), dbt.data(), R, F, 1e-5f);
  expect_close(dx, numeric(x, fwd, r), kTol, "layer norm dx");
  expect_close(dg, numeric(gamma, fwd, r), kTol, "layer norm dgamma");
  expect_close(dbt, numeric(beta, fwd, r), kTol, "layer norm dbeta");
}

TEST(Backward, Pooling) {
  const Pool2dShape s{2, 3, 7, 6, 3, 3, 2, 2, 1, 1};
  const std::int64_t n = s.batch * s.channels * s.in_h * s.in_w, ny = s.batch * s.channels * s.out_h() * s.out_w();
  // Distinct values 0.1 apart (a permutation): no ties within a step of the max.
  std::vector<float> x(static_cast<std::size_t>(n));
  const auto noise = random_vector(n, 19);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return noise[static_cast<std::size_t>(a)] < noise[static_cast<std::size_t>(b)]; });
  for (std::int64_t i = 0; i < n; ++i) x[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = 0.1f * static_cast<float>(i);
  const auto r = random_vector(ny, 20);
  std::vector<float> dx(x.size());
  max_pool2d_backward(x.data(), r.data(), dx.data(), s);
  expect_close(dx, numeric(x, [&] { std::vector<float> y(static_cast<std::size_t>(ny)); max_pool2d(x.data(), y.data(), s); return y; }, r, 1e-2),
               kTol, "max pool dx");
  avg_pool2d_backward(r.data(), dx.data(), s);
  expect_close(dx, numeric(x, [&] { std::vector<float> y(static_cast<std::size_t>(ny)); avg_pool2d(x.data(), y.data(), s); return y; }, r),
               kTol, "avg pool dx");
  const auto rg = random_vector(6, 21);
  std::vector<float> dg(x.size());
  global_avg_pool_backward(rg.data(), dg.data(), 2, 3, 42);
  expect_close(dg, numeric(x, [&] { std::vector<float> y(6); global_avg_pool(x.data(), y.data(), 2, 3, 42); return y; }, rg), kTol,
               "global avg pool dx");
}

TEST(Backward, Attention) {
  const AttentionShape s{2, 5, 8, 2};
  auto qkv = random_vector(s.batch * s.seq * 3 * s.embed, 22);
  const auto r = random_vector(s.batch * s.seq * s.embed, 23);
  std::vector<float> dqkv(qkv.size());
  attention_backward(qkv.data(), r.data(), dqkv.data(), s);
  expect_close(dqkv, numeric(qkv, [&] { std::vector<float> y(r.size()); attention(qkv.data(), y.data(), s); return y; }, r), kTol,
               "attention dqkv");
}

TEST(Backward, SoftmaxCrossEntropy) {
  // Two rows, three classes, by hand: row 0 logits (0, 0, 0) label 1 → log 3; row 1 (ln 2, 0, 0) label 0 → log 2 − ln 2 + … .
  const std::vector<float> l0{0, 0, 0, static_cast<float>(std::log(2.0)), 0, 0};
  const std::vector<std::int64_t> labels{1, 0};
  std::vector<float> d(6);
  const double loss = softmax_cross_entropy(l0.data(), labels.data(), d.data(), 2, 3);
  EXPECT_NEAR(loss, (std::log(3.0) + std::log(4.0) - std::log(2.0)) / 2, 1e-6);  // row 1: z = 2 + 1 + 1
  EXPECT_NEAR(d[1], (1.0 / 3 - 1) / 2, 1e-7);
  EXPECT_NEAR(d[3], (0.5 - 1) / 2, 1e-7);
  auto logits = random_vector(4 * 7, 24, 2.0f);
  const std::vector<std::int64_t> y{3, 0, 6, 2};
  std::vector<float> dl(logits.size());
  (void)softmax_cross_entropy(logits.data(), y.data(), dl.data(), 4, 7);
  const std::vector<float> one{1.0f};
  expect_close(dl, numeric(logits, [&] { return std::vector<float>{static_cast<float>(softmax_cross_entropy(logits.data(), y.data(), nullptr, 4, 7))}; }, one, 1e-3),
               kTol, "cross-entropy dlogits");
  const std::vector<std::int64_t> bad{7, 0, 0, 0};
  EXPECT_THROW((void)softmax_cross_entropy(logits.data(), bad.data(), nullptr, 4, 7), InvalidInput);
}

TEST(Backward, OptimizersFollowTorchsFormulas) {
  // SGD, momentum 0.9, weight decay 0.1, lr 0.5, two steps on w = 1 with g = 0.2 then 0.4:
  // step 1: g' = 0.2 + 0.1 = 0.3, buf = 0.3, w = 1 − 0.15 = 0.85;
  // step 2: g' = 0.4 + 0.085 = 0.485, buf = 0.27 + 0.485 = 0.755, w = 0.85 − 0.3775 = 0.4725.
  float w = 1, buf = 0, g = 0.2f;
  sgd_momentum_step(&w, &g, &buf, 1, 0.5f, 0.9f, 0.1f, true);
  EXPECT_NEAR(w, 0.85, 1e-6);
  g = 0.4f;
  sgd_momentum_step(&w, &g, &buf, 1, 0.5f, 0.9f, 0.1f, false);
  EXPECT_NEAR(buf, 0.755, 1e-6);
  EXPECT_NEAR(w, 0.4725, 1e-6);
  // AdamW, lr 0.1, β (0.9, 0.999), eps 1e-8, weight decay 0.01, w = 1, g = 0.5 then −0.5:
  // step 1: w = 1·(1 − 0.001) = 0.999; m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25 → w −= 0.1·0.5/0.5 → 0.899.
  // step 2: w = 0.899·0.999 = 0.898101; m = 0.045 − 0.05 = −0.005, v = 0.00024975 + 0.00025 = 0.00049975;
  //         m̂ = −0.005/0.19 = −0.0263158, v̂ = 0.00049975/0.001999 = 0.2500000 → w += 0.1·0.0263158/0.5 → 0.903364.
  float aw = 1, m = 0, v = 0, ag = 0.5f;
  adamw_step(&aw, &ag, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
  EXPECT_NEAR(aw, 0.899, 1e-6);
  ag = -0.5f;
  adamw_step(&aw, &ag, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 2);
  EXPECT_NEAR(m, -0.005, 1e-7);
  EXPECT_NEAR(aw, 0.898101 + 0.1 * (0.005 / 0.19) / std::sqrt(0.00049975 / (1 - 0.999 * 0.999)), 1e-5);
  EXPECT_THROW(adamw_step(&aw, &ag, &m, &v, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 0), InvalidInput);
}

}  // namespace
}  // namespace vramfit::cpu
