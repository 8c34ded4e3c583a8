// models/vit.h — Vision Transformer as torchvision builds it (torchvision/models/vision_transformer.py;
// Dosovitskiy et al., "An Image is Worth 16x16 Words", 2020), with torchvision's parameter names:
// conv_proj, class_token, encoder.pos_embedding, encoder.layers.encoder_layer_{i}.{ln_1, self_attention
// .in_proj_weight/.in_proj_bias/.out_proj, ln_2, mlp.0, mlp.3}, encoder.ln, heads.head.
// LayerNorm eps 1e-6, exact (erf) GELU, pre-norm blocks, class token first.
#pragma once

#include <cstdint>
#include <string>

#include "graph/graph.h"

namespace vramfit {

struct ViTConfig {
  std::int64_t image_size = 224;
  std::int64_t patch_size = 16;
  std::int64_t num_layers = 12;
  std::int64_t num_heads = 12;
  std::int64_t hidden_dim = 768;
  std::int64_t mlp_dim = 3072;
  std::int64_t num_classes = 1000;
  float ln_eps = 1e-6f;
};

ViTConfig vit_b16();
ViTConfig vit_l16();
Graph build_vit(const ViTConfig& c, std::int64_t batch, std::string name = "vit");

}  // namespace vramfit
