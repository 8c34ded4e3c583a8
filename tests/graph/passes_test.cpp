// passes.h on small hand-built graphs: BN folding checked numerically against the unfused
// conv → BN computed with plain loops; residual and activation fusion patterns (the ResNet
// downsample case among them) and the cases that must not fuse; precision and layout assignment.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "graph/cost.h"
#include "graph/passes.h"
#include "test_util.h"

namespace vramfit {
namespace {

using test::random_tensor;

Conv2dAttrs conv3x3(std::int64_t o, std::int64_t stride, std::int64_t groups, bool bias) {
  Conv2dAttrs a;
  a.out_channels = o;
  a.kernel_h = a.kernel_w = 3;
  a.stride_h = a.stride_w = stride;
  a.pad_h = a.pad_w = 1;
  a.groups = groups;
  a.has_bias = bias;
  return a;
}

const Node* find_node(const Graph& g, std::string_view name) {
  for (const Node& n : g.nodes())
    if (n.name == name) return &n;
  return nullptr;
}

std::size_t count_op(const Graph& g, OpKind op) {
  std::size_t k = 0;
  for (const Node& n : g.nodes()) k += n.op == op;
  return k;
}

// Random weights for every parameter; BN variances positive and away from zero.
TensorMap random_weights(const Graph& g, std::mt19937_64& rng) {
  TensorMap w;
  for (ValueId p : g.params()) {
    const Value& v = g.value(p);
    w[v.name] = v.role == ParamRole::BnVar ? random_tensor(v.shape, rng, 0.3f, 2.0f) : random_tensor(v.shape, rng);
  }
  return w;
}

struct FoldCase {
  bool conv_bias;
  std::int64_t groups;
  std::int64_t stride;
};

class FoldBatchNorm : public ::testing::TestWithParam<FoldCase> {};

TEST_P(FoldBatchNorm, MatchesUnfusedConvThenBatchNorm) {
  const FoldCase fc = GetParam();
  std::mt19937_64 rng(1234 + static_cast<std::uint64_t>(fc.groups * 10 + fc.stride + fc.conv_bias));
  Graph g("fold");
  const ValueId x = g.add_input("x", Shape{2, 6, 11, 7});
  const Conv2dAttrs ca = conv3x3(9, fc.stride, fc.groups, fc.conv_bias);
  const ValueId c = g.add_conv2d("block.conv", x, ca);
  const float eps = 1e-3f;
  const ValueId b = g.add_batchnorm("block.bn", c, eps);
  const ValueId r = g.add_unary("block.relu", OpKind::Relu, b);
  g.mark_output(r);
  g.mark_output(b);  // a BN output that is also a graph output must follow the fold

  TensorMap w = random_weights(g, rng);
  const Tensor input = random_tensor(Shape{2, 6, 11, 7}, rng);
  const Tensor unfused = test::batchnorm_reference(
      test::conv2d_reference(input, w.at("block.conv.weight"), fc.conv_bias ? w.at("block.conv.bias").ptr() : nullptr, ca),
      w.at("block.bn.weight"), w.at("block.bn.bias"), w.at("block.bn.running_mean"), w.at("block.bn.running_var"), eps);
  const std::uint64_t params_before = parameter_count(g);

  fold_batchnorm(g, &w);
  g.validate();

  EXPECT_EQ(count_op(g, OpKind::BatchNorm), 0u);
  const Node* conv = find_node(g, "block.conv");
  ASSERT_NE(conv, nullptr);
  const auto& attrs = conv->attr<Conv2dAttrs>();
  EXPECT_TRUE(attrs.has_bias);
  ASSERT_EQ(conv->inputs.size(), 3u);
  const Value& bias = g.value(conv->inputs[2]);
  EXPECT_EQ(bias.name, "block.conv.bias");
  EXPECT_EQ(bias.role, ParamRole::Bias);
  EXPECT_TRUE(bias.trainable);
  EXPECT_EQ(bias.shape, Shape{9});
  // Graph outputs: the relu (now reading the conv) and the conv's own output in the BN's place.
  ASSERT_EQ(g.outputs().size(), 2u);
  EXPECT_EQ(g.outputs()[1], conv->output);
  EXPECT_EQ(g.value(g.outputs()[0]).producer, find_node(g, "block.relu")->id);
  EXPECT_EQ(find_node(g, "block.relu")->inputs[0], conv->output);
  // BN tensors left the map; the folded bias is in it.
  for (const char* gone : {"block.bn.weight", "block.bn.bias", "block.bn.running_mean", "block.bn.running_var"})
    EXPECT_EQ(w.count(gone), 0u) << gone;
  ASSERT_EQ(w.count("block.conv.bias"), 1u);
  // γ and β (2·9 trainable) went, the conv bias (9) came — unless the conv had one already.
  EXPECT_EQ(parameter_count(g), params_before - 18 + (fc.conv_bias ? 0 : 9));

  const Tensor folded = test::conv2d_reference(input, w.at("block.conv.weight"), w.at("block.conv.bias").ptr(), attrs);
  ASSERT_EQ(folded.shape, unfused.shape);
  EXPECT_LT(test::max_abs_diff(folded, unfused), 2e-5);
  // The test can fail: the unfolded weights are far from the folded result.
  EXPECT_GT(test::max_abs_diff(folded, test::conv2d_reference(input, w.at("block.conv.weight"), nullptr, attrs)), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Cases, FoldBatchNorm,
                         ::testing::Values(FoldCase{false, 1, 1}, FoldCase{true, 1, 2}, FoldCase{false, 3, 2},
                                           FoldCase{true, 3, 1}),
                         [](const ::testing::TestParamInfo<FoldCase>& i) {
                           return std::string(i.param.conv_bias ? "bias" : "nobias") + "_groups" +
                                  std::to_string(i.param.groups) + "_stride" + std::to_string(i.param.stride);
                         });

TEST(FoldBatchNormStructure, SkipsSharedConvOutputAndNonConvProducers) {
  Graph g("skip");
  const ValueId x = g.add_input("x", Shape{1, 4, 9, 9});
  const ValueId c = g.add_conv2d("conv", x, conv3x3(4, 1, 1, false));
  const ValueId b = g.add_batchnorm("bn", c);
  const ValueId side = g.add_unary("side", OpKind::Relu, c);  // the conv's output is read twice
  const ValueId p = g.add_pool("pool", OpKind::MaxPool, x, PoolAttrs{.kernel_h = 3, .kernel_w = 3});
  const ValueId b2 = g.add_batchnorm("bn2", p);  // not after a conv
  g.mark_output(g.add_add("sum", b, side));
  g.mark_output(b2);
  fold_batchnorm(g, nullptr);
  g.validate();
  EXPECT_EQ(count_op(g, OpKind::BatchNorm), 2u);
  EXPECT_FALSE(find_node(g, "conv")->attr<Conv2dAttrs>().has_bias);
}

TEST(FoldBatchNormStructure, WithoutWeightsAndWithMissingTensors) {
  auto build = [] {
    Graph g("s");
    const ValueId x = g.add_input("x", Shape{1, 3, 7, 7});
    g.mark_output(g.add_batchnorm("bn", g.add_conv2d("conv", x, conv3x3(5, 1, 1, false))));
    return g;
  };
  Graph g = build();
  fold_batchnorm(g, nullptr);  // structure only, what `plan` needs
  g.validate();
  EXPECT_EQ(g.nodes().size(), 1u);
  EXPECT_TRUE(g.find_value("conv.bias").has_value());
  EXPECT_FALSE(g.find_value("bn.running_var").has_value());

  // Two foldable pairs; the second lacks a tensor: nothing may change, not even the first pair.
  Graph h = build();
  const ValueId y = h.add_batchnorm("bn_b", h.add_conv2d("conv_b", h.inputs()[0], conv3x3(5, 1, 1, false)));
  h.mark_output(y);
  std::mt19937_64 rng(7);
  TensorMap w = random_weights(h, rng);
  w.erase("bn_b.running_mean");
  const TensorMap before = w;
  try {
    fold_batchnorm(h, &w);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("bn_b.running_mean"), std::string::npos) << e.what();
  }
  EXPECT_EQ(h.nodes().size(), 4u);
  EXPECT_FALSE(h.find_value("conv.bias").has_value());
  ASSERT_EQ(w.size(), before.size());
  for (const auto& [name, t] : before) EXPECT_EQ(w.at(name).data, t.data) << name;
}

// conv → BN → (+ x) → relu: after optimize_for_inference one conv computes relu(conv'(x) + b' + x).
TEST(Passes, ResidualBlockEndToEndNumerics) {
  std::mt19937_64 rng(99);
  Graph g("block");
  const ValueId x = g.add_input("x", Shape{3, 5, 9, 7});
  const Conv2dAttrs ca = conv3x3(5, 1, 1, false);
  const ValueId b = g.add_batchnorm("bn", g.add_conv2d("conv", x, ca));
  g.mark_output(g.add_unary("relu", OpKind::Relu, g.add_add("add", b, x)));
  TensorMap w = random_weights(g, rng);
  const Tensor input = random_tensor(Shape{3, 5, 9, 7}, rng);
  Tensor ref = test::batchnorm_reference(test::conv2d_reference(input, w.at("conv.weight"), nullptr, ca),
                                         w.at("bn.weight"), w.at("bn.bias"), w.at("bn.running_mean"),
                                         w.at("bn.running_var"), 1e-5f);
  for (std::size_t i = 0; i < ref.data.size(); ++i) ref.data[i] = std::max(0.0f, ref.data[i] + input.data[i]);

  optimize_for_inference(g, Precision::fp32, &w);
  g.validate();
  ASSERT_EQ(g.nodes().size(), 1u);
  const Node& n = g.nodes()[0];
  const auto& a = n.attr<Conv2dAttrs>();
  EXPECT_TRUE(a.has_bias);
  EXPECT_TRUE(a.has_residual);
  EXPECT_EQ(a.act, Activation::Relu);
  ASSERT_EQ(n.inputs.size(), 4u);  // x, weight, bias, residual
  EXPECT_EQ(n.inputs[3], g.inputs()[0]);
  EXPECT_EQ(g.outputs()[0], n.output);
  Tensor got = test::conv2d_reference(input, w.at("conv.weight"), w.at("conv.bias").ptr(), a);
  for (std::size_t i = 0; i < got.data.size(); ++i) got.data[i] = std::max(0.0f, got.data[i] + input.data[i]);
  EXPECT_LT(test::max_abs_diff(got, ref), 2e-5);
}

// torchvision Bottleneck with a projection shortcut: the branch's last conv runs before the
// downsample conv, so only the downsample conv can take the residual (the branch output exists by
// then); the relu after the add then joins it.
TEST(Passes, ResNetDownsampleFusesIntoTheLaterConv) {
  Graph g("down");
  const ValueId x = g.add_input("x", Shape{2, 8, 13, 13});
  ValueId y = g.add_unary("relu1", OpKind::Relu, g.add_conv2d("conv1", x, conv3x3(4, 2, 1, false)));
  y = g.add_conv2d("conv2", y, conv3x3(16, 1, 1, false));
  Conv2dAttrs ds;
  ds.out_channels = 16;
  ds.stride_h = ds.stride_w = 2;
  const ValueId identity = g.add_conv2d("downsample", x, ds);
  g.mark_output(g.add_unary("relu", OpKind::Relu, g.add_add("add", y, identity)));

  fuse_residual_add(g);
  g.validate();
  EXPECT_EQ(count_op(g, OpKind::Add), 0u);
  const Node* down = find_node(g, "downsample");
  const Node* conv2 = find_node(g, "conv2");
  ASSERT_TRUE(down && conv2);
  EXPECT_FALSE(conv2->attr<Conv2dAttrs>().has_residual);
  EXPECT_TRUE(down->attr<Conv2dAttrs>().has_residual);
  EXPECT_EQ(down->inputs.back(), conv2->output);
  EXPECT_GT(down->id, conv2->id);  // the fused node kept its slot after conv2

  fuse_activations(g);
  g.validate();
  EXPECT_EQ(count_op(g, OpKind::Relu), 0u);
  down = find_node(g, "downsample");
  EXPECT_EQ(down->attr<Conv2dAttrs>().act, Activation::Relu);
  EXPECT_EQ(find_node(g, "conv1")->attr<Conv2dAttrs>().act, Activation::Relu);
  EXPECT_EQ(g.outputs()[0], down->output);
}

TEST(Passes, LinearResidualTakesTheAddsActivation) {
  Graph g("vit");
  const ValueId x = g.add_input("x", Shape{2, 19, 7});
  const ValueId ln = g.add_layernorm("ln", x);
  const ValueId proj = g.add_linear("proj", ln, 7);
  const ValueId sum = g.add_add("add", x, proj, Activation::Gelu);  // residual first, as (x + f(x))
  const ValueId after = g.add_layernorm("ln2", sum);
  g.mark_output(g.add_add("add2", after, sum));  // the add's output has two readers: fine
  fuse_residual_add(g);
  g.validate();
  const Node* p = find_node(g, "proj");
  ASSERT_NE(p, nullptr);
  const auto& a = p->attr<LinearAttrs>();
  EXPECT_TRUE(a.has_residual);
  EXPECT_EQ(a.act, Activation::Gelu);
  EXPECT_EQ(p->inputs.back(), g.inputs()[0]);
  EXPECT_EQ(find_node(g, "ln2")->inputs[0], p->output);
  // add2 = ln2 + proj_out: ln2 is no linear/conv, and proj's output is read twice: stays an Add.
  EXPECT_EQ(count_op(g, OpKind::Add), 1u);
}

TEST(Passes, FusionsThatMustNotHappen) {
  Graph g("no");
  const ValueId x = g.add_input("x", Shape{3, 11});
  const ValueId a = g.add_linear("a", x, 11, true, Activation::Relu);  // already has an activation
  const ValueId s1 = g.add_add("s1", a, x);
  const ValueId b = g.add_linear("b", x, 11);
  const ValueId s2 = g.add_add("s2", b, b);        // the other operand is the producer's own output
  const ValueId c = g.add_linear("c", x, 11);
  const ValueId s3 = g.add_add("s3", c, x);        // c is a graph output: its value must survive
  const ValueId d = g.add_linear("d", x, 11);
  const ValueId e = g.add_linear("e", x, 11);
  const ValueId s4 = g.add_add("s4", d, e);        // fusable into e (d is produced first)
  const ValueId r = g.add_unary("r", OpKind::Relu, s3);
  const ValueId r2 = g.add_unary("r2", OpKind::Relu, r);  // relu of a relu: nothing to fuse into
  for (ValueId v : {s1, s2, c, r2, s4}) g.mark_output(v);

  const std::size_t before = g.nodes().size();
  fuse_residual_add(g);
  g.validate();
  EXPECT_EQ(g.nodes().size(), before - 1);  // only s4
  EXPECT_TRUE(find_node(g, "e")->attr<LinearAttrs>().has_residual);
  EXPECT_FALSE(find_node(g, "d")->attr<LinearAttrs>().has_residual);
  EXPECT_FALSE(find_node(g, "b")->attr<LinearAttrs>().has_residual);
  EXPECT_FALSE(find_node(g, "c")->attr<LinearAttrs>().has_residual);

  fuse_activations(g);
  g.validate();
  // r fuses into the add s3 (its only reader); r2 reads an add that now has an activation.
  EXPECT_EQ(find_node(g, "s3")->attr<AddAttrs>().act, Activation::Relu);
  EXPECT_EQ(count_op(g, OpKind::Relu), 1u);
  EXPECT_EQ(find_node(g, "r2")->inputs[0], find_node(g, "s3")->output);
}

TEST(Passes, ActivationFusionNeedsTheOnlyReader) {
  Graph g("act");
  const ValueId x = g.add_input("x", Shape{2, 17, 5});
  const ValueId l = g.add_linear("fc1", x, 23);
  const ValueId gl = g.add_unary("gelu", OpKind::Gelu, l);
  const ValueId l2 = g.add_linear("fc2", gl, 5);
  const ValueId s = g.add_unary("silu", OpKind::Silu, l2);
  const ValueId l3 = g.add_linear("fc3", s, 5);
  g.mark_output(g.add_add("sum", l3, l2));  // l2 read by silu and the add: silu stays
  fuse_activations(g);
  g.validate();
  EXPECT_EQ(find_node(g, "fc1")->attr<LinearAttrs>().act, Activation::Gelu);
  EXPECT_EQ(find_node(g, "fc2")->attr<LinearAttrs>().act, Activation::None);
  EXPECT_EQ(count_op(g, OpKind::Gelu), 0u);
  EXPECT_EQ(count_op(g, OpKind::Silu), 1u);
  EXPECT_EQ(find_node(g, "fc2")->inputs[0], find_node(g, "fc1")->output);
}

Graph small_vit_like() {
  Graph g("mix");
  const ValueId x = g.add_input("x", Shape{2, 3, 28, 21});
  Conv2dAttrs patch;
  patch.out_channels = 12;
  patch.kernel_h = patch.kernel_w = 7;
  patch.stride_h = patch.stride_w = 7;
  patch.has_bias = true;
  const ValueId c = g.add_conv2d("patch", x, patch);
  const ValueId t = g.add_patch_flatten("pf", c);
  const ValueId cls = g.add_param("cls", Shape{1, 1, 12}, ParamRole::ClassToken);
  const ValueId y = g.add_layernorm("ln", g.add_concat_class_token("cat", t, cls));
  g.mark_output(g.add_linear("head", g.add_take_token("tok", y, 0), 7));
  return g;
}

TEST(Passes, PrecisionAssignsDtypesByRole) {
  for (Precision p : {Precision::fp16, Precision::bf16, Precision::fp32}) {
    Graph g = small_vit_like();
    const std::uint64_t fp32_bytes = weight_bytes(g);
    assign_precision(g, p);
    const DType wt = weight_dtype(p), at = activation_dtype(p);
    for (const Value& v : g.values()) {
      const DType expect = v.kind == ValueKind::Param && v.role == ParamRole::Weight ? wt : at;
      EXPECT_EQ(v.dtype, expect) << v.name;
    }
    EXPECT_EQ(weight_bytes(g), p == Precision::fp32 ? fp32_bytes : fp32_bytes / 2);
  }
}

TEST(Passes, UnsupportedPrecisionsNameThemselvesAndChangeNothing) {
  for (Precision p : {Precision::fp8, Precision::int8, Precision::int4, Precision::q8_0, Precision::q4_0,
                      Precision::q4_k_m}) {
    Graph g("u");
    const ValueId x = g.add_input("x", Shape{1, 3, 9, 9});
    g.mark_output(g.add_batchnorm("bn", g.add_conv2d("conv", x, conv3x3(4, 1, 1, false))));
    std::mt19937_64 rng(3);
    TensorMap w = random_weights(g, rng);
    const TensorMap before = w;
    try {
      optimize_for_inference(g, p, &w);
      FAIL() << "expected Unsupported for " << to_string(p);
    } catch (const Unsupported& e) {
      EXPECT_NE(std::string(e.what()).find(std::string(to_string(p))), std::string::npos) << e.what();
    }
    EXPECT_EQ(g.nodes().size(), 2u);
    EXPECT_EQ(w.size(), before.size());
    EXPECT_EQ(w.at("conv.weight").data, before.at("conv.weight").data);
    EXPECT_THROW(assign_precision(g, p), Unsupported);
  }
}

// The passes up to layout, without patchify_convolutions (which would turn "pf" into a Linear).
void layout_pipeline(Graph& g, Precision p) {
  fold_batchnorm(g, nullptr);
  fuse_residual_add(g);
  fuse_activations(g);
  assign_precision(g, p);
  assign_layout(g);
}

TEST(Passes, PatchConvolutionBecomesPatchifyAndLinear) {
  Graph g = small_vit_like();
  const std::uint64_t macs_before = graph_cost(g).macs;
  const std::uint64_t params_before = parameter_count(g);
  optimize_for_inference(g, Precision::fp16, nullptr);
  const Node* patch = find_node(g, "patch");
  const Node* pf = find_node(g, "pf");
  ASSERT_NE(patch, nullptr);
  ASSERT_NE(pf, nullptr);
  EXPECT_EQ(patch->op, OpKind::Patchify);
  EXPECT_EQ(patch->attr<PatchifyAttrs>().patch, 7);
  EXPECT_EQ(g.value(patch->output).shape, (Shape{2, 12, 3 * 7 * 7}));  // 28/7 · 21/7 = 12 patches
  EXPECT_EQ(pf->op, OpKind::Linear);
  EXPECT_EQ(g.value(pf->inputs[1]).shape, (Shape{12, 3 * 7 * 7}));
  EXPECT_EQ(g.value(pf->output).shape, (Shape{2, 12, 12}));
  EXPECT_EQ(graph_cost(g).macs, macs_before);  // the same products, now one GEMM
  EXPECT_EQ(parameter_count(g), params_before);

  // Not a patch embedding: overlapping windows, padding, or a consumer other than PatchFlatten.
  Graph h("overlap");
  const ValueId x = h.add_input("x", Shape{1, 3, 14, 14});
  Conv2dAttrs a;
  a.out_channels = 4;
  a.kernel_h = a.kernel_w = 7;
  a.stride_h = a.stride_w = 3;
  h.mark_output(h.add_patch_flatten("pf", h.add_conv2d("c", x, a)));
  optimize_for_inference(h, Precision::fp32, nullptr);
  EXPECT_EQ(find_node(h, "c")->op, OpKind::Conv2d);
}

TEST(Passes, LayoutFollowsActivationWidth) {
  Graph h = small_vit_like();
  layout_pipeline(h, Precision::fp16);
  for (const Value& v : h.values()) {
    if (v.kind == ValueKind::Param) continue;
    EXPECT_EQ(v.layout, v.shape.rank() == 4 ? Layout::NHWC : Layout::Plain) << v.name;
  }
  const Node* pf = find_node(h, "pf");
  ASSERT_NE(pf, nullptr);
  EXPECT_TRUE(is_view(h, *pf));  // channels-last patches are already [B, HW, C]

  Graph f = small_vit_like();
  layout_pipeline(f, Precision::fp32);
  EXPECT_EQ(f.value(f.inputs()[0]).layout, Layout::NCHW);
  EXPECT_FALSE(is_view(f, *find_node(f, "pf")));
}

}  // namespace
}  // namespace vramfit
