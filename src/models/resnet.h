// models/resnet.h — ResNet as torchvision builds it (torchvision/models/resnet.py; He et al.,
// "Deep Residual Learning for Image Recognition", 2015), with torchvision's parameter names so a
// torchvision state dict binds by name: conv1, bn1, layer{1..4}.{i}.conv{1,2,3}, .bn{1,2,3},
// .downsample.{0,1}, fc. Stride on the 3×3 convolution of a bottleneck (ResNet v1.5, as torchvision).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "graph/graph.h"

namespace vramfit {

enum class ResNetBlock { Basic, Bottleneck };

struct ResNetConfig {
  ResNetBlock block = ResNetBlock::Bottleneck;
  std::array<int, 4> layers{3, 4, 6, 3};
  std::int64_t num_classes = 1000;
  std::int64_t groups = 1;
  std::int64_t width_per_group = 64;
  std::int64_t image_size = 224;  // square input, any size ≥ 32
};

ResNetConfig resnet_preset(int depth);  // 18, 34, 50, 101, 152; else InvalidInput
Graph build_resnet(const ResNetConfig& c, std::int64_t batch, std::string name = "resnet");

}  // namespace vramfit
