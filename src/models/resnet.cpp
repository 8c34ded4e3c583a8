// ResNet builder: the module tree of torchvision/models/resnet.py, flattened into graph nodes whose
// names are the module paths and whose parameters are the state-dict keys.
#include "models/resnet.h"

#include <fmt/format.h>

#include "core/error.h"

namespace vramfit {

namespace {

// Scale hint for the gamma of the last BN of every residual branch. With He-initialised convolutions
// (weights/random_init.cpp) a conv→BN→ReLU stage keeps the second moment of its input, and the last
// conv of a branch (not followed by a ReLU) doubles it, so a block maps a second moment q to about
// q·(1 + 2s²) for gamma ≈ s. resnet152 has 50 blocks: s = 1 would give 3^50 (far past fp16's 65504),
// s = 0.2 gives 1.08^50 ≈ 47 (RMS ×7). The idea is that of "zero-γ" (Goyal et al., "Accurate, Large
// Minibatch SGD", 2017, §5.1) and Fixup (Zhang et al., ICLR 2019) — a branch starts small — but not
// zero, so every branch still contributes and a wrong weight binding still shows in the output.
constexpr float kResidualGammaScale = 0.2f;

Conv2dAttrs conv(std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t pad,
                 std::int64_t groups = 1) {
  Conv2dAttrs a;
  a.out_channels = out;
  a.kernel_h = a.kernel_w = k;
  a.stride_h = a.stride_w = stride;
  a.pad_h = a.pad_w = pad;
  a.groups = groups;
  a.has_bias = false;  // torchvision's conv1x1/conv3x3 have no bias: BN follows
  return a;
}

// Marks the gamma of batch-norm node output `bn_out` with the residual-branch scale.
void scale_branch_gamma(Graph& g, ValueId bn_out) {
  const Node& n = g.node(g.value(bn_out).producer);
  VRAMFIT_CHECK(n.op == OpKind::BatchNorm, "last op of a residual branch must be a batch norm");
  g.value(n.inputs.at(1)).init_scale = kResidualGammaScale;
}

struct BlockSpec {
  std::string prefix;        // "layer2.0"
  std::int64_t planes = 0;
  std::int64_t stride = 1;
  bool downsample = false;
};

// torchvision BasicBlock: conv3x3(stride) → bn1 → relu → conv3x3 → bn2, + identity, relu.
ValueId basic_block(Graph& g, ValueId x, const BlockSpec& b) {
  const std::string& p = b.prefix;
  ValueId y = g.add_conv2d(p + ".conv1", x, conv(b.planes, 3, b.stride, 1));
  y = g.add_batchnorm(p + ".bn1", y);
  y = g.add_unary(p + ".relu1", OpKind::Relu, y);
  y = g.add_conv2d(p + ".conv2", y, conv(b.planes, 3, 1, 1));
  y = g.add_batchnorm(p + ".bn2", y);
  scale_branch_gamma(g, y);
  ValueId identity = x;
  if (b.downsample) {
    identity = g.add_conv2d(p + ".downsample.0", x, conv(b.planes, 1, b.stride, 0));
    identity = g.add_batchnorm(p + ".downsample.1", identity);
  }
  y = g.add_add(p + ".add", y, identity);
  return g.add_unary(p + ".relu", OpKind::Relu, y);
}

// torchvision Bottleneck (v1.5: the stride sits on the 3×3 conv2):
// conv1x1 → bn1 → relu → conv3x3(stride, groups) → bn2 → relu → conv1x1 → bn3, + identity, relu.
ValueId bottleneck_block(Graph& g, ValueId x, const BlockSpec& b, std::int64_t groups,
                         std::int64_t width_per_group) {
  constexpr std::int64_t kExpansion = 4;
  const std::string& p = b.prefix;
  // torchvision: width = int(planes * (base_width / 64.)) * groups; planes·base_width is a multiple
  // of 64 for every preset, and integer division matches int() truncation for positive values.
  const std::int64_t width = b.planes * width_per_group / 64 * groups;
  if (width <= 0)
    throw InvalidInput(fmt::format("resnet: width_per_group {} gives a zero-width bottleneck at {}",
                                   width_per_group, p));
  ValueId y = g.add_conv2d(p + ".conv1", x, conv(width, 1, 1, 0));
  y = g.add_batchnorm(p + ".bn1", y);
  y = g.add_unary(p + ".relu1", OpKind::Relu, y);
  y = g.add_conv2d(p + ".conv2", y, conv(width, 3, b.stride, 1, groups));
  y = g.add_batchnorm(p + ".bn2", y);
  y = g.add_unary(p + ".relu2", OpKind::Relu, y);
  y = g.add_conv2d(p + ".conv3", y, conv(b.planes * kExpansion, 1, 1, 0));
  y = g.add_batchnorm(p + ".bn3", y);
  scale_branch_gamma(g, y);
  ValueId identity = x;
  if (b.downsample) {
    identity = g.add_conv2d(p + ".downsample.0", x, conv(b.planes * kExpansion, 1, b.stride, 0));
    identity = g.add_batchnorm(p + ".downsample.1", identity);
  }
  y = g.add_add(p + ".add", y, identity);
  return g.add_unary(p + ".relu", OpKind::Relu, y);
}

void validate(const ResNetConfig& c, std::int64_t batch) {
  if (batch < 1) throw InvalidInput(fmt::format("resnet: batch must be ≥ 1, got {}", batch));
  for (std::size_t i = 0; i < c.layers.size(); ++i)
    if (c.layers[i] < 1)
      throw InvalidInput(fmt::format("resnet: layers[{}] must be ≥ 1 block, got {}", i, c.layers[i]));
  if (c.num_classes < 1) throw InvalidInput(fmt::format("resnet: num_classes must be ≥ 1, got {}", c.num_classes));
  if (c.groups < 1) throw InvalidInput(fmt::format("resnet: groups must be ≥ 1, got {}", c.groups));
  if (c.width_per_group < 1)
    throw InvalidInput(fmt::format("resnet: width_per_group must be ≥ 1, got {}", c.width_per_group));
  if (c.image_size < 32) throw InvalidInput(fmt::format("resnet: image_size must be ≥ 32, got {}", c.image_size));
  // torchvision's BasicBlock raises for these too: it has no grouped or widened form.
  if (c.block == ResNetBlock::Basic && (c.groups != 1 || c.width_per_group != 64))
    throw InvalidInput(fmt::format("resnet: basic blocks need groups = 1 and width_per_group = 64, got {} and {}",
                                   c.groups, c.width_per_group));
}

}  // namespace

ResNetConfig resnet_preset(int depth) {
  // Block counts per stage from He et al. 2015, Table 1 (torchvision resnet18 … resnet152).
  ResNetConfig c;
  switch (depth) {
    case 18: c.block = ResNetBlock::Basic; c.layers = {2, 2, 2, 2}; break;
    case 34: c.block = ResNetBlock::Basic; c.layers = {3, 4, 6, 3}; break;
    case 50: c.block = ResNetBlock::Bottleneck; c.layers = {3, 4, 6, 3}; break;
    case 101: c.block = ResNetBlock::Bottleneck; c.layers = {3, 4, 23, 3}; break;
    case 152: c.block = ResNetBlock::Bottleneck; c.layers = {3, 8, 36, 3}; break;
    default:
      throw InvalidInput(fmt::format("resnet depth {} has no preset; valid: 18, 34, 50, 101, 152", depth));
  }
  return c;
}

Graph build_resnet(const ResNetConfig& c, std::int64_t batch, std::string name) {
  validate(c, batch);
  Graph g(std::move(name));
  ValueId x = g.add_input("input", Shape{batch, 3, c.image_size, c.image_size});

  // Stem: 7×7/2 conv, BN, ReLU, 3×3/2 max pool.
  x = g.add_conv2d("conv1", x, conv(64, 7, 2, 3));
  x = g.add_batchnorm("bn1", x);
  x = g.add_unary("relu", OpKind::Relu, x);
  x = g.add_pool("maxpool", OpKind::MaxPool, x,
                 PoolAttrs{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1});

  const std::int64_t expansion = c.block == ResNetBlock::Bottleneck ? 4 : 1;
  std::int64_t inplanes = 64;
  for (std::size_t stage = 0; stage < 4; ++stage) {
    const std::int64_t planes = std::int64_t{64} << stage;  // 64, 128, 256, 512
    const std::int64_t stage_stride = stage == 0 ? 1 : 2;
    for (int i = 0; i < c.layers[stage]; ++i) {
      BlockSpec b;
      b.prefix = fmt::format("layer{}.{}", stage + 1, i);
      b.planes = planes;
      b.stride = i == 0 ? stage_stride : 1;
      // torchvision _make_layer: a projection shortcut when the shape of the identity changes.
      b.downsample = i == 0 && (stage_stride != 1 || inplanes != planes * expansion);
      x = c.block == ResNetBlock::Bottleneck ? bottleneck_block(g, x, b, c.groups, c.width_per_group)
                                             : basic_block(g, x, b);
      inplanes = planes * expansion;
    }
  }

  x = g.add_global_avg_pool("avgpool", x);
  x = g.add_flatten("flatten", x);
  x = g.add_linear("fc", x, c.num_classes);
  g.mark_output(x);
  return g;
}

}  // namespace vramfit
