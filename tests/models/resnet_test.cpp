// ResNet builder against torchvision: exact parameter counts (sum of numel over trainable values,
// i.e. sum(p.numel() for p in model.parameters())), state-dict names and shapes, v1.5 stride
// placement, output shapes at odd batches and small images, and config errors.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "models/resnet.h"

namespace vramfit {
namespace {

std::uint64_t trainable_count(const Graph& g) {
  std::uint64_t n = 0;
  for (const auto& v : g.values())
    if (v.kind == ValueKind::Param && v.trainable) n += static_cast<std::uint64_t>(v.shape.numel());
  return n;
}

std::size_t trainable_tensors(const Graph& g) {
  std::size_t n = 0;
  for (const auto& v : g.values()) n += v.kind == ValueKind::Param && v.trainable;
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

TEST(ResNet, ParameterCountsMatchTorchvision) {
  // torchvision.models.resnetN(): sum(p.numel() for p in m.parameters()).
  const std::pair<int, std::uint64_t> expected[] = {
      {18, 11'689'512}, {34, 21'797'672}, {50, 25'557'032}, {101, 44'549'160}, {152, 60'192'808}};
  for (const auto& [depth, count] : expected) {
    const Graph g = build_resnet(resnet_preset(depth), 1);
    EXPECT_EQ(trainable_count(g), count) << "resnet" << depth;
    g.validate();
  }
}

TEST(ResNet, GroupedAndWideVariantsMatchTorchvision) {
  // The width formula width = planes·width_per_group/64·groups, checked on torchvision's
  // resnext50_32x4d (25,028,904) and wide_resnet50_2 (68,883,240).
  ResNetConfig resnext = resnet_preset(50);
  resnext.groups = 32;
  resnext.width_per_group = 4;
  const Graph gx = build_resnet(resnext, 1);
  EXPECT_EQ(trainable_count(gx), 25'028'904u);
  EXPECT_EQ(param(gx, "layer1.0.conv2.weight").shape, (Shape{128, 4, 3, 3}));
  EXPECT_EQ(node_named(gx, "layer1.0.conv2").attr<Conv2dAttrs>().groups, 32);

  ResNetConfig wide = resnet_preset(50);
  wide.width_per_group = 128;
  EXPECT_EQ(trainable_count(build_resnet(wide, 1)), 68'883'240u);
}

TEST(ResNet, StateDictNamesAndShapes) {
  const Graph g = build_resnet(resnet_preset(50), 1);
  // resnet50: 53 convolutions, 53 batch norms, fc → 161 parameters; 106 BN running statistics.
  EXPECT_EQ(trainable_tensors(g), 161u);
  EXPECT_EQ(g.params().size(), 161u + 106u);
  EXPECT_EQ(param(g, "conv1.weight").shape, (Shape{64, 3, 7, 7}));
  EXPECT_EQ(param(g, "bn1.running_mean").shape, (Shape{64}));
  EXPECT_FALSE(param(g, "bn1.running_var").trainable);
  EXPECT_EQ(param(g, "bn1.running_var").role, ParamRole::BnVar);
  EXPECT_EQ(param(g, "layer1.0.conv1.weight").shape, (Shape{64, 64, 1, 1}));
  EXPECT_EQ(param(g, "layer1.0.conv3.weight").shape, (Shape{256, 64, 1, 1}));
  EXPECT_EQ(param(g, "layer1.0.downsample.0.weight").shape, (Shape{256, 64, 1, 1}));
  EXPECT_EQ(param(g, "layer1.0.downsample.1.weight").shape, (Shape{256}));
  EXPECT_EQ(param(g, "layer3.5.bn3.bias").shape, (Shape{1024}));
  EXPECT_EQ(param(g, "layer4.2.conv2.weight").shape, (Shape{512, 512, 3, 3}));
  EXPECT_EQ(param(g, "fc.weight").shape, (Shape{1000, 2048}));
  EXPECT_EQ(param(g, "fc.bias").shape, (Shape{1000}));
  EXPECT_FALSE(g.find_value("conv1.bias").has_value());  // torchvision convs before BN have no bias
  EXPECT_FALSE(g.find_value("layer1.1.downsample.0.weight").has_value());
  EXPECT_FALSE(g.find_value("layer3.6.conv1.weight").has_value());  // layer3 has 6 blocks
}

TEST(ResNet, StrideOnThe3x3ConvolutionV15) {
  const Graph g = build_resnet(resnet_preset(50), 1);
  for (const char* stage : {"layer2.0", "layer3.0", "layer4.0"}) {
    const std::string p = stage;
    EXPECT_EQ(node_named(g, p + ".conv1").attr<Conv2dAttrs>().stride_h, 1) << p;
    EXPECT_EQ(node_named(g, p + ".conv2").attr<Conv2dAttrs>().stride_h, 2) << p;
    EXPECT_EQ(node_named(g, p + ".conv2").attr<Conv2dAttrs>().stride_w, 2) << p;
    EXPECT_EQ(node_named(g, p + ".downsample.0").attr<Conv2dAttrs>().stride_h, 2) << p;
  }
  const auto& stem = node_named(g, "conv1").attr<Conv2dAttrs>();
  EXPECT_EQ(stem.kernel_h, 7);
  EXPECT_EQ(stem.stride_h, 2);
  EXPECT_EQ(stem.pad_h, 3);
  const auto& pool = node_named(g, "maxpool").attr<PoolAttrs>();
  EXPECT_EQ(pool.kernel_h, 3);
  EXPECT_EQ(pool.stride_h, 2);
  EXPECT_EQ(pool.pad_h, 1);
}

TEST(ResNet, BlockOrderAndResidualAdd) {
  const Graph g = build_resnet(resnet_preset(18), 1);
  // BasicBlock: conv1 → bn1 → relu → conv2 → bn2 → add(bn2, identity) → relu.
  const Node& add = node_named(g, "layer2.0.add");
  ASSERT_EQ(add.op, OpKind::Add);
  ASSERT_EQ(add.inputs.size(), 2u);
  EXPECT_EQ(g.node(g.value(add.inputs[0]).producer).name, "layer2.0.bn2");
  EXPECT_EQ(g.node(g.value(add.inputs[1]).producer).name, "layer2.0.downsample.1");
  const Node& add_plain = node_named(g, "layer2.1.add");
  EXPECT_EQ(g.node(g.value(add_plain.inputs[1]).producer).name, "layer2.0.relu");  // identity
  EXPECT_EQ(node_named(g, "layer2.1.relu").inputs[0], add_plain.output);
  // resnet18 layer1 keeps 64 channels at stride 1: no projection shortcut.
  EXPECT_FALSE(g.find_value("layer1.0.downsample.0.weight").has_value());
  EXPECT_EQ(param(g, "layer2.0.downsample.0.weight").shape, (Shape{128, 64, 1, 1}));
  EXPECT_EQ(g.outputs().size(), 1u);
  EXPECT_EQ(g.node(g.value(g.outputs()[0]).producer).name, "fc");
}

TEST(ResNet, LastBatchNormOfEveryBranchIsScaledDown) {
  for (int depth : {18, 152}) {
    const Graph g = build_resnet(resnet_preset(depth), 1);
    int branches = 0;
    for (const auto& n : g.nodes()) {
      if (n.op != OpKind::Add) continue;
      ++branches;
      const Node& bn = g.node(g.value(n.inputs[0]).producer);
      ASSERT_EQ(bn.op, OpKind::BatchNorm) << n.name;
      const float s = g.value(bn.inputs[1]).init_scale;
      EXPECT_GT(s, 0.0f) << bn.name;
      EXPECT_LT(s, 0.5f) << bn.name;
    }
    EXPECT_EQ(branches, depth == 18 ? 8 : 50);
    // Other norms keep the identity scale.
    EXPECT_EQ(param(g, "bn1.weight").init_scale, 1.0f);
    EXPECT_EQ(param(g, "layer1.0.bn1.weight").init_scale, 1.0f);
    EXPECT_EQ(param(g, "layer2.0.downsample.1.weight").init_scale, 1.0f);
  }
}

TEST(ResNet, OutputShapesAtOddBatchAndSmallImages) {
  const Graph g50 = build_resnet(resnet_preset(50), 3);
  EXPECT_EQ(g50.value(g50.outputs()[0]).shape, (Shape{3, 1000}));
  EXPECT_EQ(g50.value(g50.inputs()[0]).shape, (Shape{3, 3, 224, 224}));
  EXPECT_EQ(g50.value(*g50.find_value("layer4.2.relu")).shape, (Shape{3, 2048, 7, 7}));

  ResNetConfig small = resnet_preset(50);
  small.image_size = 64;
  small.num_classes = 19;
  Graph g = build_resnet(small, 7);
  EXPECT_EQ(g.value(g.outputs()[0]).shape, (Shape{7, 19}));
  EXPECT_EQ(g.value(*g.find_value("maxpool")).shape, (Shape{7, 64, 16, 16}));
  EXPECT_EQ(g.value(*g.find_value("layer4.2.relu")).shape, (Shape{7, 2048, 2, 2}));
  g.set_batch(19);
  EXPECT_EQ(g.value(g.outputs()[0]).shape, (Shape{19, 19}));

  ResNetConfig odd = resnet_preset(34);
  odd.image_size = 197;  // 197 → 99 → 50 → 50 → 25 → 13 → 7
  const Graph go = build_resnet(odd, 1);
  EXPECT_EQ(go.value(*go.find_value("layer4.2.relu")).shape, (Shape{1, 512, 7, 7}));
  EXPECT_EQ(go.value(go.outputs()[0]).shape, (Shape{1, 1000}));
}

TEST(ResNet, BadConfigsAreInvalidInput) {
  EXPECT_THROW(resnet_preset(42), InvalidInput);
  try {
    resnet_preset(42);
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("152"), std::string::npos) << e.what();
  }
  ResNetConfig c = resnet_preset(18);
  c.groups = 2;
  EXPECT_THROW(build_resnet(c, 1), InvalidInput);  // torchvision: BasicBlock only supports groups=1
  c = resnet_preset(50);
  c.image_size = 16;
  EXPECT_THROW(build_resnet(c, 1), InvalidInput);
  c = resnet_preset(50);
  c.layers[2] = 0;
  EXPECT_THROW(build_resnet(c, 1), InvalidInput);
  EXPECT_THROW(build_resnet(resnet_preset(50), 0), InvalidInput);
}

}  // namespace
}  // namespace vramfit
