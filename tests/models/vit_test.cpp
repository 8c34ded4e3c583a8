// ViT builder against torchvision: exact parameter counts, state-dict names and shapes, the order of
// a pre-norm encoder block, output shapes at odd batches and small images, and config errors.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "models/vit.h"

namespace vramfit {
namespace {

std::uint64_t trainable_count(const Graph& g) {
  std::uint64_t n = 0;
  for (const auto& v : g.values())
    if (v.kind == ValueKind::Param && v.trainable) n += static_cast<std::uint64_t>(v.shape.numel());
  return n;
}

const Value& param(const Graph& g, const std::string& name) {
  const auto id = g.find_value(name);
  if (!id) throw std::runtime_error("no value named " + name);
  EXPECT_EQ(g.value(*id).kind, ValueKind::Param) << name;
  return g.value(*id);
}

const Node& node_named(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes())
    if (n.name == name) return n;
  throw std::runtime_error("no node named " + name);
}

std::string producer_name(const Graph& g, ValueId v) {
  const NodeId p = g.value(v).producer;
  return p == kNoNode ? g.value(v).name : g.node(p).name;
}

TEST(ViT, ParameterCountsMatchTorchvision) {
  EXPECT_EQ(trainable_count(build_vit(vit_b16(), 1)), 86'567'656u);
  EXPECT_EQ(trainable_count(build_vit(vit_l16(), 1)), 304'326'632u);
  // torchvision vit_b_32: only the patch size differs (conv_proj and pos_embedding shapes).
  ViTConfig b32 = vit_b16();
  b32.patch_size = 32;
  EXPECT_EQ(trainable_count(build_vit(b32, 1)), 88'224'232u);
}

TEST(ViT, StateDictNamesAndShapes) {
  const Graph g = build_vit(vit_b16(), 1);
  // torchvision vit_b_16 state dict: 152 tensors, all parameters (no buffers).
  EXPECT_EQ(g.params().size(), 152u);
  for (ValueId p : g.params()) EXPECT_TRUE(g.value(p).trainable) << g.value(p).name;
  EXPECT_EQ(param(g, "conv_proj.weight").shape, (Shape{768, 3, 16, 16}));
  EXPECT_EQ(param(g, "conv_proj.bias").shape, (Shape{768}));
  EXPECT_EQ(param(g, "class_token").shape, (Shape{1, 1, 768}));
  EXPECT_EQ(param(g, "class_token").role, ParamRole::ClassToken);
  EXPECT_EQ(param(g, "encoder.pos_embedding").shape, (Shape{1, 197, 768}));
  EXPECT_EQ(param(g, "encoder.pos_embedding").role, ParamRole::PosEmbedding);
  const std::string p = "encoder.layers.encoder_layer_11.";
  EXPECT_EQ(param(g, p + "ln_1.weight").shape, (Shape{768}));
  EXPECT_EQ(param(g, p + "self_attention.in_proj_weight").shape, (Shape{2304, 768}));
  EXPECT_EQ(param(g, p + "self_attention.in_proj_weight").role, ParamRole::Weight);
  EXPECT_EQ(param(g, p + "self_attention.in_proj_bias").shape, (Shape{2304}));
  EXPECT_EQ(param(g, p + "self_attention.in_proj_bias").role, ParamRole::Bias);
  EXPECT_EQ(param(g, p + "self_attention.out_proj.weight").shape, (Shape{768, 768}));
  EXPECT_EQ(param(g, p + "self_attention.out_proj.bias").shape, (Shape{768}));
  EXPECT_EQ(param(g, p + "ln_2.bias").shape, (Shape{768}));
  EXPECT_EQ(param(g, p + "mlp.0.weight").shape, (Shape{3072, 768}));
  EXPECT_EQ(param(g, p + "mlp.3.weight").shape, (Shape{768, 3072}));
  EXPECT_EQ(param(g, "encoder.ln.weight").shape, (Shape{768}));
  EXPECT_EQ(param(g, "heads.head.weight").shape, (Shape{1000, 768}));
  EXPECT_EQ(param(g, "heads.head.bias").shape, (Shape{1000}));
  EXPECT_FALSE(g.find_value("encoder.layers.encoder_layer_12.ln_1.weight").has_value());
}

TEST(ViT, EncoderBlockIsPreNormWithPackedProjection) {
  const Graph g = build_vit(vit_b16(), 1);
  const std::string p = "encoder.layers.encoder_layer_3.";
  const Node& ln1 = node_named(g, p + "ln_1");
  EXPECT_EQ(ln1.op, OpKind::LayerNorm);
  EXPECT_FLOAT_EQ(ln1.attr<LayerNormAttrs>().eps, 1e-6f);
  EXPECT_EQ(producer_name(g, ln1.inputs[0]), "encoder.layers.encoder_layer_2.add_2");

  const Node& in_proj = node_named(g, p + "self_attention.in_proj");
  EXPECT_EQ(in_proj.op, OpKind::Linear);
  EXPECT_EQ(in_proj.inputs[0], ln1.output);
  EXPECT_EQ(g.value(in_proj.inputs[1]).name, p + "self_attention.in_proj_weight");
  EXPECT_EQ(g.value(in_proj.inputs[2]).name, p + "self_attention.in_proj_bias");

  const auto att = g.consumers(in_proj.output);
  ASSERT_EQ(att.size(), 1u);
  EXPECT_EQ(g.node(att[0]).op, OpKind::Attention);
  EXPECT_EQ(g.node(att[0]).attr<AttentionAttrs>().num_heads, 12);
  const Node& out_proj = node_named(g, p + "self_attention.out_proj");
  EXPECT_EQ(out_proj.inputs[0], g.node(att[0]).output);

  const Node& add1 = node_named(g, p + "add_1");
  EXPECT_EQ(add1.op, OpKind::Add);
  EXPECT_EQ(add1.inputs[0], out_proj.output);
  EXPECT_EQ(add1.inputs[1], ln1.inputs[0]);  // the residual is the block input

  const Node& mlp0 = node_named(g, p + "mlp.0");
  EXPECT_EQ(producer_name(g, mlp0.inputs[0]), p + "ln_2");
  const Node& gelu = node_named(g, p + "mlp.1");
  EXPECT_EQ(gelu.op, OpKind::Gelu);
  EXPECT_EQ(gelu.inputs[0], mlp0.output);
  const Node& mlp3 = node_named(g, p + "mlp.3");
  EXPECT_EQ(mlp3.inputs[0], gelu.output);
  const Node& add2 = node_named(g, p + "add_2");
  EXPECT_EQ(add2.inputs[0], mlp3.output);
  EXPECT_EQ(add2.inputs[1], add1.output);

  // Head: encoder.ln → token 0 → heads.head.
  const Node& head = node_named(g, "heads.head");
  const Node& take = g.node(g.value(head.inputs[0]).producer);
  EXPECT_EQ(take.op, OpKind::TakeToken);
  EXPECT_EQ(take.attr<TakeTokenAttrs>().index, 0);
  EXPECT_EQ(producer_name(g, take.inputs[0]), "encoder.ln");
  EXPECT_EQ(g.outputs().at(0), head.output);
  // Stem: conv_proj → patch flatten → class token → positional embedding.
  EXPECT_EQ(node_named(g, "conv_proj").attr<Conv2dAttrs>().stride_h, 16);
  EXPECT_TRUE(node_named(g, "conv_proj").attr<Conv2dAttrs>().has_bias);
}

TEST(ViT, OutputShapesAtOddBatchAndSmallImages) {
  const Graph g = build_vit(vit_b16(), 3);
  EXPECT_EQ(g.value(g.outputs()[0]).shape, (Shape{3, 1000}));
  EXPECT_EQ(g.value(*g.find_value("encoder.ln")).shape, (Shape{3, 197, 768}));

  ViTConfig small = vit_b16();
  small.image_size = 32;
  small.patch_size = 8;
  Graph gs = build_vit(small, 7);
  EXPECT_EQ(param(gs, "encoder.pos_embedding").shape, (Shape{1, 17, 768}));
  EXPECT_EQ(gs.value(*gs.find_value("encoder.ln")).shape, (Shape{7, 17, 768}));
  EXPECT_EQ(gs.value(gs.outputs()[0]).shape, (Shape{7, 1000}));
  gs.set_batch(19);
  EXPECT_EQ(gs.value(gs.outputs()[0]).shape, (Shape{19, 1000}));

  ViTConfig odd;  // small and odd everywhere: 3 layers, 3 heads of 7, MLP 19, 7 classes
  odd.image_size = 35;
  odd.patch_size = 7;
  odd.num_layers = 3;
  odd.num_heads = 3;
  odd.hidden_dim = 21;
  odd.mlp_dim = 19;
  odd.num_classes = 7;
  const Graph go = build_vit(odd, 1);
  EXPECT_EQ(go.value(*go.find_value("encoder.ln")).shape, (Shape{1, 26, 21}));
  EXPECT_EQ(go.value(go.outputs()[0]).shape, (Shape{1, 7}));
  go.validate();
}

TEST(ViT, BadConfigsAreInvalidInput) {
  ViTConfig c = vit_b16();
  c.image_size = 30;
  c.patch_size = 8;
  try {
    build_vit(c, 1);
    FAIL() << "image 30 with patch 8 accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("patch_size"), std::string::npos) << e.what();
  }
  c = vit_b16();
  c.num_heads = 7;  // 768 is not a multiple of 7
  EXPECT_THROW(build_vit(c, 1), InvalidInput);
  c = vit_b16();
  c.patch_size = 0;
  EXPECT_THROW(build_vit(c, 1), InvalidInput);
  EXPECT_THROW(build_vit(vit_b16(), 0), InvalidInput);
}

}  // namespace
}  // namespace vramfit
