// The executor: small hand-built graphs (training-shaped, pass-optimised, ViT-like) against the same
// ops called directly; parameter and input errors; 16-bit rounding; thread-count independence; and
// the zoo's builders (a small ResNet and ViT) end to end.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include "backend/cpu/executor.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/half.h"
#include "graph/passes.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "test_support.h"
#include "weights/binding.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::expect_equal;
using test::random_vector;

// Random values for every parameter of g (variances positive), distinct per parameter.
TensorMap random_params(const Graph& g, std::uint64_t seed) {
  TensorMap w;
  for (ValueId id : g.params()) {
    const Value& v = g.value(id);
    const bool is_var = v.role == ParamRole::BnVar;
    Tensor t(v.shape, random_vector(v.shape.numel(), seed + static_cast<std::uint64_t>(id), is_var ? 0.2f : 0.3f,
                                    v.role == ParamRole::NormScale || is_var ? 1.0f : 0.0f));
    if (is_var)
      for (auto& x : t.data) x = std::abs(x);
    w.emplace(v.name, std::move(t));
  }
  return w;
}

Tensor random_tensor(Shape s, std::uint64_t seed) {
  const std::int64_t n = s.numel();
  return Tensor(std::move(s), random_vector(n, seed));
}

const float* P(const TensorMap& w, const std::string& name) { return w.at(name).ptr(); }

std::vector<float> buffer(std::int64_t n) { return std::vector<float>(static_cast<std::size_t>(n)); }

// conv(5→7, 3×3 pad 1) → bn → relu → maxpool(3, stride 2, pad 1) → flatten → linear(13), input [3, 5, 9, 11].
Graph conv_bn_graph() {
  Graph g("conv_bn");
  const ValueId x = g.add_input("input", Shape{3, 5, 9, 11});
  ValueId h = g.add_conv2d("conv", x, Conv2dAttrs{.out_channels = 7, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1});
  h = g.add_batchnorm("bn", h, 1e-5f);
  h = g.add_unary("relu", OpKind::Relu, h);
  h = g.add_pool("pool", OpKind::MaxPool, h, PoolAttrs{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1});
  h = g.add_flatten("flatten", h);
  g.mark_output(g.add_linear("fc", h, 13));
  return g;
}

// The same computation with the ops called directly; `round` is applied where the executor rounds.
std::vector<float> conv_bn_direct(const TensorMap& w, std::vector<float> x, Rounding r) {
  auto rounded = [&](const std::string& name) {
    std::vector<float> v = w.at(name).data;
    round_in_place(v, r);
    return v;
  };
  round_in_place(x, r);
  const Conv2dShape cs{.batch = 3, .in_channels = 5, .in_h = 9, .in_w = 11, .out_channels = 7, .kernel_h = 3,
                       .kernel_w = 3, .pad_h = 1, .pad_w = 1};
  auto c = buffer(3 * 7 * 99);
  conv2d(x.data(), rounded("conv.weight").data(), nullptr, nullptr, c.data(), cs, Activation::None);
  round_in_place(c, r);
  auto b = buffer(3 * 7 * 99);
  batch_norm(c.data(), rounded("bn.weight").data(), rounded("bn.bias").data(), rounded("bn.running_mean").data(),
             rounded("bn.running_var").data(), b.data(), 3, 7, 99, 1e-5f);
  round_in_place(b, r);
  relu(b.data(), b.data(), static_cast<std::int64_t>(b.size()));
  round_in_place(b, r);
  const Pool2dShape ps{.batch = 3, .channels = 7, .in_h = 9, .in_w = 11, .kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                       .stride_w = 2, .pad_h = 1, .pad_w = 1};
  auto p = buffer(3 * 7 * ps.out_h() * ps.out_w());
  max_pool2d(b.data(), p.data(), ps);
  round_in_place(p, r);
  auto y = buffer(3 * 13);
  linear(p.data(), rounded("fc.weight").data(), rounded("fc.bias").data(), nullptr, y.data(),
         LinearShape{3, 7 * ps.out_h() * ps.out_w(), 13}, Activation::None);
  round_in_place(y, r);
  return y;
}

TEST(Executor, TrainingShapedGraphMatchesOpsCalledDirectly) {
  const Graph g = conv_bn_graph();
  const TensorMap w = random_params(g, 1000);
  const Tensor x = random_tensor(Shape{3, 5, 9, 11}, 1);
  const std::vector<Tensor> out = run_graph(g, w, std::span(&x, 1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (Shape{3, 13}));
  expect_equal(out[0].data, conv_bn_direct(w, x.data, Rounding::None), "executor vs ops");
}

// Optimised form, as the passes leave it: conv with folded-BN bias, fused residual and activation;
// Add with an activation; Linear with bias, residual and activation.
TEST(Executor, FusedFormsMatchOpsCalledDirectly) {
  Graph g("fused");
  const ValueId x = g.add_input("input", Shape{3, 7, 9, 11});
  const ValueId c1 = g.add_conv2d("c1", x, Conv2dAttrs{.out_channels = 7, .kernel_h = 3, .kernel_w = 3, .pad_h = 1,
                                                       .pad_w = 1, .has_bias = true, .act = Activation::Silu});
  const ValueId w2 = g.add_param("c2.weight", Shape{7, 7, 3, 3}, ParamRole::Weight);
  const ValueId b2 = g.add_param("c2.bias", Shape{7}, ParamRole::Bias);
  const ValueId c2 = g.add_node(OpKind::Conv2d, "c2", {c1, w2, b2, x},
                                Conv2dAttrs{.out_channels = 7, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1,
                                            .has_bias = true, .has_residual = true, .act = Activation::Relu});
  const ValueId sum = g.add_add("sum", c2, c1, Activation::Gelu);
  const ValueId flat = g.add_flatten("flat", g.add_global_avg_pool("gap", sum));
  const ValueId wf = g.add_param("fc1.weight", Shape{7, 7}, ParamRole::Weight);
  const ValueId bf = g.add_param("fc1.bias", Shape{7}, ParamRole::Bias);
  const ValueId fc1 = g.add_node(OpKind::Linear, "fc1", {flat, wf, bf, flat},
                                 LinearAttrs{.out_features = 7, .has_bias = true, .has_residual = true, .act = Activation::Gelu});
  g.mark_output(fc1);
  g.mark_output(c1);  // an intermediate that is also an output must survive its last reader
  const TensorMap w = random_params(g, 2000);
  const Tensor xt = random_tensor(Shape{3, 7, 9, 11}, 2);
  const auto out = run_graph(g, w, std::span(&xt, 1));
  ASSERT_EQ(out.size(), 2u);

  const Conv2dShape cs{.batch = 3, .in_channels = 7, .in_h = 9, .in_w = 11, .out_channels = 7, .kernel_h = 3,
                       .kernel_w = 3, .pad_h = 1, .pad_w = 1};
  const std::int64_t n = 3 * 7 * 99;
  auto a = buffer(n), b = buffer(n), s = buffer(n), gap = buffer(21), y = buffer(21);
  conv2d(xt.ptr(), P(w, "c1.weight"), P(w, "c1.bias"), nullptr, a.data(), cs, Activation::Silu);
  conv2d(a.data(), P(w, "c2.weight"), P(w, "c2.bias"), xt.ptr(), b.data(), cs, Activation::Relu);
  add(b.data(), a.data(), s.data(), n, Activation::Gelu);
  global_avg_pool(s.data(), gap.data(), 3, 7, 99);
  linear(gap.data(), P(w, "fc1.weight"), P(w, "fc1.bias"), gap.data(), y.data(), LinearShape{3, 7, 7}, Activation::Gelu);
  expect_equal(out[0].data, y, "fused graph");
  expect_equal(out[1].data, a, "intermediate output");
}

// The same block in both forms — conv → BN → Add(x) → ReLU, and the folded conv (w·γ/√(σ²+ε),
// bias β − μ·γ/√(σ²+ε)) with residual and ReLU fused — gives the same answer up to rounding.
TEST(Executor, TrainingAndFoldedFormsAgree) {
  Graph train("train");
  const ValueId x = train.add_input("input", Shape{3, 13, 9, 11});
  ValueId h = train.add_conv2d("conv", x, Conv2dAttrs{.out_channels = 13, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1});
  h = train.add_batchnorm("bn", h, 1e-5f);
  h = train.add_add("add", h, x);
  train.mark_output(train.add_unary("relu", OpKind::Relu, h));
  const TensorMap w = random_params(train, 3000);

  Graph folded("folded");
  const ValueId fx = folded.add_input("input", Shape{3, 13, 9, 11});
  const ValueId fw = folded.add_param("conv.weight", Shape{13, 13, 3, 3}, ParamRole::Weight);
  const ValueId fb = folded.add_param("conv.bias", Shape{13}, ParamRole::Bias);
  folded.mark_output(folded.add_node(OpKind::Conv2d, "conv", {fx, fw, fb, fx},
                                     Conv2dAttrs{.out_channels = 13, .kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1,
                                                 .has_bias = true, .has_residual = true, .act = Activation::Relu}));
  TensorMap fwts;
  Tensor wt = w.at("conv.weight"), bt(Shape{13});
  for (std::int64_t o = 0; o < 13; ++o) {
    const auto k = static_cast<std::size_t>(o);
    const double scale = w.at("bn.weight").data[k] / std::sqrt(static_cast<double>(w.at("bn.running_var").data[k]) + 1e-5);
    for (std::int64_t i = 0; i < 13 * 9; ++i) {
      float& v = wt.data[static_cast<std::size_t>(o * 13 * 9 + i)];
      v = static_cast<float>(v * scale);
    }
    bt.data[k] = static_cast<float>(w.at("bn.bias").data[k] - w.at("bn.running_mean").data[k] * scale);
  }
  fwts.emplace("conv.weight", std::move(wt));
  fwts.emplace("conv.bias", std::move(bt));

  const Tensor xt = random_tensor(Shape{3, 13, 9, 11}, 3);
  const auto a = run_graph(train, w, std::span(&xt, 1));
  const auto b = run_graph(folded, fwts, std::span(&xt, 1));
  const std::vector<double> want(a[0].data.begin(), a[0].data.end());
  expect_close(b[0].data, want, 1e-5, "folded vs training form");
}

// A ViT in miniature: patch conv → tokens → class token → positions → pre-norm attention block with a
// fused residual → MLP with GELU → class token → head.
struct MiniVit {
  Graph g{"mini_vit"};
  MiniVit() {
    const ValueId x = g.add_input("input", Shape{3, 3, 12, 12});
    ValueId h = g.add_conv2d("conv_proj", x, Conv2dAttrs{.out_channels = 40, .kernel_h = 4, .kernel_w = 4, .stride_h = 4,
                                                         .stride_w = 4, .has_bias = true});
    h = g.add_patch_flatten("tokens", h);  // [3, 9, 40]
    h = g.add_concat_class_token("cls", h, g.add_param("class_token", Shape{1, 1, 40}, ParamRole::ClassToken));
    const ValueId pos = g.add_positional("pos", h, g.add_param("pos_embedding", Shape{1, 10, 40}, ParamRole::PosEmbedding));
    h = g.add_layernorm("ln_1", pos, 1e-6f);
    h = g.add_linear("qkv", h, 120);
    h = g.add_attention("attn", h, 2);  // d = 20
    const ValueId wo = g.add_param("out.weight", Shape{40, 40}, ParamRole::Weight);
    const ValueId bo = g.add_param("out.bias", Shape{40}, ParamRole::Bias);
    h = g.add_node(OpKind::Linear, "out", {h, wo, bo, pos},
                   LinearAttrs{.out_features = 40, .has_bias = true, .has_residual = true});
    h = g.add_layernorm("ln_2", h, 1e-6f);
    h = g.add_linear("mlp", h, 19, true, Activation::Gelu);
    h = g.add_take_token("take", h, 0);
    g.mark_output(g.add_linear("head", h, 5));
  }
};

TEST(Executor, VitLikeGraphMatchesOpsCalledDirectly) {
  MiniVit m;
  const TensorMap w = random_params(m.g, 4000);
  const Tensor xt = random_tensor(Shape{3, 3, 12, 12}, 4);
  const auto out = run_graph(m.g, w, std::span(&xt, 1));
  ASSERT_EQ(out[0].shape, (Shape{3, 5}));

  auto conv = buffer(3 * 40 * 9), tok = buffer(3 * 9 * 40), cls = buffer(3 * 10 * 40), pos = buffer(3 * 10 * 40);
  conv2d(xt.ptr(), P(w, "conv_proj.weight"), P(w, "conv_proj.bias"), nullptr, conv.data(),
         Conv2dShape{.batch = 3, .in_channels = 3, .in_h = 12, .in_w = 12, .out_channels = 40, .kernel_h = 4,
                     .kernel_w = 4, .stride_h = 4, .stride_w = 4},
         Activation::None);
  patch_flatten(conv.data(), tok.data(), 3, 40, 3, 3);
  concat_class_token(tok.data(), P(w, "class_token"), cls.data(), 3, 9, 40);
  add_positional(cls.data(), P(w, "pos_embedding"), pos.data(), 3, 10, 40);
  auto ln1 = buffer(1200), qkv = buffer(3600), att = buffer(1200), res = buffer(1200), ln2 = buffer(1200),
       mlp = buffer(30 * 19), cls_tok = buffer(3 * 19), y = buffer(15);
  layer_norm(pos.data(), P(w, "ln_1.weight"), P(w, "ln_1.bias"), ln1.data(), 30, 40, 1e-6f);
  linear(ln1.data(), P(w, "qkv.weight"), P(w, "qkv.bias"), nullptr, qkv.data(), LinearShape{30, 40, 120}, Activation::None);
  attention(qkv.data(), att.data(), AttentionShape{.batch = 3, .seq = 10, .embed = 40, .heads = 2});
  linear(att.data(), P(w, "out.weight"), P(w, "out.bias"), pos.data(), res.data(), LinearShape{30, 40, 40}, Activation::None);
  layer_norm(res.data(), P(w, "ln_2.weight"), P(w, "ln_2.bias"), ln2.data(), 30, 40, 1e-6f);
  linear(ln2.data(), P(w, "mlp.weight"), P(w, "mlp.bias"), nullptr, mlp.data(), LinearShape{30, 40, 19}, Activation::Gelu);
  take_token(mlp.data(), cls_tok.data(), 3, 10, 19, 0);
  linear(cls_tok.data(), P(w, "head.weight"), P(w, "head.bias"), nullptr, y.data(), LinearShape{3, 19, 5}, Activation::None);
  expect_equal(out[0].data, y, "mini ViT");
}

TEST(Executor, ParameterAndInputErrorsNameTheCulprit) {
  const Graph g = conv_bn_graph();
  const TensorMap w = random_params(g, 5000);
  const Tensor x = random_tensor(Shape{3, 5, 9, 11}, 5);
  auto expect_invalid = [&](const TensorMap& wm, std::span<const Tensor> in, const std::string& needle) {
    try {
      run_graph(g, wm, in);
      ADD_FAILURE() << "expected InvalidInput mentioning " << needle;
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  TensorMap missing = w;
  missing.erase("bn.running_var");
  expect_invalid(missing, std::span(&x, 1), "bn.running_var");
  TensorMap wrong = w;
  wrong["fc.weight"] = Tensor(Shape{13, 209}, random_vector(13 * 209, 6));
  expect_invalid(wrong, std::span(&x, 1), "fc.weight");
  const Tensor bad = random_tensor(Shape{3, 5, 9, 10}, 7);
  expect_invalid(w, std::span(&bad, 1), "input");
  expect_invalid(w, std::span<const Tensor>(), "1 input");
  // The same number of values in another shape binds ([7·9·?] is a reshape, as a checkpoint may store).
  TensorMap reshaped = w;
  reshaped["conv.weight"].shape = Shape{7, 45};
  const auto a = run_graph(g, reshaped, std::span(&x, 1));
  const auto b = run_graph(g, w, std::span(&x, 1));
  expect_equal(a[0].data, b[0].data, "reshaped parameter");
}

TEST(Executor, SixteenBitRoundingRoundsEverything) {
  const Graph g = conv_bn_graph();
  const TensorMap w = random_params(g, 6000);
  const Tensor x = random_tensor(Shape{3, 5, 9, 11}, 8);
  const auto fp32 = run_graph(g, w, std::span(&x, 1));
  for (Rounding r : {Rounding::F16, Rounding::BF16}) {
    const auto out = run_graph(g, w, std::span(&x, 1), RunOptions{.rounding = r});
    const char* name = r == Rounding::F16 ? "f16" : "bf16";
    // Outputs are representable in the 16-bit type …
    for (float v : out[0].data) ASSERT_EQ(v, r == Rounding::F16 ? round_to_half(v) : round_to_bf16(v)) << name;
    // … equal bit for bit to rounding inputs, weights and each op's output by hand …
    expect_equal(out[0].data, conv_bn_direct(w, x.data, r), name);
    // … differ from fp32 (the rounding happened) by about the type's precision.
    EXPECT_NE(out[0].data, fp32[0].data) << name;
    const double err = relative_l2(out[0].data, fp32[0].data);
    EXPECT_LT(err, r == Rounding::F16 ? 5e-3 : 4e-2) << name;
    EXPECT_GT(err, r == Rounding::F16 ? 1e-5 : 1e-4) << name;
    std::cout << "  " << name << " vs fp32: relative L2 " << err << "\n";
  }
}

// One weight read by two nodes (tied weights) stays bound, and rounded, for both; a parameter that is
// itself a graph output comes back (rounded like any other read of it).
TEST(Executor, SharedParameterAndParameterOutput) {
  Graph g("tied");
  const ValueId x = g.add_input("input", Shape{3, 19});
  const ValueId w = g.add_param("shared.weight", Shape{19, 19}, ParamRole::Weight);
  const ValueId b = g.add_param("shared.bias", Shape{19}, ParamRole::Bias);
  const ValueId l1 = g.add_linear_with("l1", x, w, b, Activation::Silu);
  g.mark_output(g.add_linear_with("l2", l1, w, b));
  g.mark_output(b);
  const TensorMap wm = random_params(g, 7000);
  const Tensor xt = random_tensor(Shape{3, 19}, 11);
  for (Rounding r : {Rounding::None, Rounding::F16}) {
    const auto out = run_graph(g, wm, std::span(&xt, 1), RunOptions{.rounding = r});
    ASSERT_EQ(out.size(), 2u);
    std::vector<float> wr = wm.at("shared.weight").data, br = wm.at("shared.bias").data, xr = xt.data;
    round_in_place(wr, r);
    round_in_place(br, r);
    round_in_place(xr, r);
    auto h = buffer(57), y = buffer(57);
    linear(xr.data(), wr.data(), br.data(), nullptr, h.data(), LinearShape{3, 19, 19}, Activation::Silu);
    round_in_place(h, r);
    linear(h.data(), wr.data(), br.data(), nullptr, y.data(), LinearShape{3, 19, 19}, Activation::None);
    round_in_place(y, r);
    expect_equal(out[0].data, y, "tied weights");
    expect_equal(out[1].data, br, "parameter output");
  }
}

// A zoo ResNet (basic blocks, 64×64 input) through the executor: finite, image-dependent, and
// bit-identical whatever the thread count.
TEST(Executor, SmallResNetIsDeterministicAcrossThreadCounts) {
  ResNetConfig c = resnet_preset(18);
  c.image_size = 64;
  c.num_classes = 19;
  const Graph g = build_resnet(c, 2, "resnet18_64");
  const TensorMap w = random_weights(g, 42);
  const Tensor x = random_tensor(Shape{2, 3, 64, 64}, 9);
  const char* old = std::getenv("VRAMFIT_THREADS");
  const std::string saved = old ? old : "";
  setenv("VRAMFIT_THREADS", "1", 1);
  const auto t0 = std::chrono::steady_clock::now();
  const auto one = run_graph(g, w, std::span(&x, 1));
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  setenv("VRAMFIT_THREADS", "3", 1);
  const auto three = run_graph(g, w, std::span(&x, 1));
  if (old)
    setenv("VRAMFIT_THREADS", saved.c_str(), 1);
  else
    unsetenv("VRAMFIT_THREADS");
  std::cout << "  resnet18 at 64×64, batch 2, 1 thread: " << sec * 1e3 << " ms\n";
  ASSERT_EQ(one[0].shape, (Shape{2, 19}));
  EXPECT_TRUE(all_finite(one[0].data));
  expect_equal(three[0].data, one[0].data, "1 vs 3 threads");
  const std::vector<float> img0(one[0].data.begin(), one[0].data.begin() + 19),
      img1(one[0].data.begin() + 19, one[0].data.end());
  EXPECT_NE(img0, img1);
  // Batch independence: image 1 alone gives its row of the batch-2 result.
  const Graph g1 = build_resnet(c, 1, "resnet18_64");
  const Tensor x1(Shape{1, 3, 64, 64}, std::vector<float>(x.data.begin() + 3 * 64 * 64, x.data.end()));
  const auto single = run_graph(g1, w, std::span(&x1, 1));
  expect_close(single[0].data, std::vector<double>(img1.begin(), img1.end()), 1e-5, "batch 1 vs row of batch 2");
}

// The passes' output (BN folded into conv weights, residual and ReLU fused; fp16 adds dtypes and NHWC
// layout, which the CPU ignores) computes what the builder's graph computes.
TEST(Executor, OptimisedZooGraphsMatchTrainingShaped) {
  ResNetConfig c = resnet_preset(18);
  c.image_size = 64;
  c.num_classes = 19;
  const Graph train = build_resnet(c, 3, "resnet18_64");
  const TensorMap w = random_weights(train, 44);
  const Tensor x = random_tensor(Shape{3, 3, 64, 64}, 12);
  const auto want = run_graph(train, w, std::span(&x, 1));
  const std::vector<double> want_d(want[0].data.begin(), want[0].data.end());

  Graph opt = train;
  TensorMap folded = w;
  optimize_for_inference(opt, Precision::fp32, &folded);
  ASSERT_LT(opt.nodes().size(), train.nodes().size());
  expect_close(run_graph(opt, folded, std::span(&x, 1))[0].data, want_d, 1e-4, "optimised fp32 resnet18");

  Graph half = train;
  TensorMap folded16 = w;
  optimize_for_inference(half, Precision::fp16, &folded16);
  const auto f16 = run_graph(half, folded16, std::span(&x, 1), RunOptions{.rounding = Rounding::F16});
  const double err = relative_l2(f16[0].data, want[0].data);
  std::cout << "  resnet18 optimised fp16 vs fp32 reference: relative L2 " << err << "\n";
  EXPECT_LT(err, 2e-2);
}

TEST(Executor, SmallVitFromTheZooRuns) {
  ViTConfig c{.image_size = 32, .patch_size = 8, .num_layers = 2, .num_heads = 3, .hidden_dim = 48, .mlp_dim = 97,
              .num_classes = 7};
  const Graph g = build_vit(c, 3, "vit_tiny");
  const TensorMap w = random_weights(g, 43);
  const Tensor x = random_tensor(Shape{3, 3, 32, 32}, 10);
  const auto out = run_graph(g, w, std::span(&x, 1));
  ASSERT_EQ(out[0].shape, (Shape{3, 7}));
  EXPECT_TRUE(all_finite(out[0].data));
  const auto f16 = run_graph(g, w, std::span(&x, 1), RunOptions{.rounding = Rounding::F16});
  EXPECT_LT(relative_l2(f16[0].data, out[0].data), 2e-2);
}

}  // namespace
}  // namespace vramfit::cpu
