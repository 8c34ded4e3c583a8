// ViT builder: torchvision/models/vision_transformer.py (VisionTransformer, Encoder, EncoderBlock,
// MLPBlock) flattened into graph nodes named by module path, parameters named by state-dict key.
#include "models/vit.h"

#include <fmt/format.h>

#include "core/error.h"

namespace vramfit {

namespace {

void validate(const ViTConfig& c, std::int64_t batch) {
  if (batch < 1) throw InvalidInput(fmt::format("vit: batch must be ≥ 1, got {}", batch));
  if (c.patch_size < 1) throw InvalidInput(fmt::format("vit: patch_size must be ≥ 1, got {}", c.patch_size));
  if (c.image_size < c.patch_size || c.image_size % c.patch_size != 0)
    throw InvalidInput(fmt::format("vit: image_size {} must be a positive multiple of patch_size {}",
                                   c.image_size, c.patch_size));
  if (c.num_layers < 1) throw InvalidInput(fmt::format("vit: num_layers must be ≥ 1, got {}", c.num_layers));
  if (c.num_heads < 1 || c.hidden_dim < 1 || c.hidden_dim % c.num_heads != 0)
    throw InvalidInput(fmt::format("vit: hidden_dim {} must be a positive multiple of num_heads {}",
                                   c.hidden_dim, c.num_heads));
  if (c.mlp_dim < 1) throw InvalidInput(fmt::format("vit: mlp_dim must be ≥ 1, got {}", c.mlp_dim));
  if (c.num_classes < 1) throw InvalidInput(fmt::format("vit: num_classes must be ≥ 1, got {}", c.num_classes));
  if (!(c.ln_eps > 0.0f)) throw InvalidInput(fmt::format("vit: ln_eps must be > 0, got {}", c.ln_eps));
}

// torchvision EncoderBlock (pre-norm): x = x + out_proj(attn(in_proj(ln_1(x))));
// x = x + mlp.3(gelu(mlp.0(ln_2(x)))). Dropouts are identities at inference.
ValueId encoder_block(Graph& g, ValueId x, const ViTConfig& c, const std::string& p) {
  const std::int64_t e = c.hidden_dim;
  const std::string sa = p + ".self_attention";
  ValueId y = g.add_layernorm(p + ".ln_1", x, c.ln_eps);
  // nn.MultiheadAttention keeps q, k and v projections packed in one [3E, E] matrix (q rows first),
  // which is the [B, S, 3E] = q | k | v layout the Attention op reads.
  const ValueId w_in = g.add_param(sa + ".in_proj_weight", Shape{3 * e, e}, ParamRole::Weight);
  const ValueId b_in = g.add_param(sa + ".in_proj_bias", Shape{3 * e}, ParamRole::Bias);
  y = g.add_linear_with(sa + ".in_proj", y, w_in, b_in);
  y = g.add_attention(sa + ".attention", y, c.num_heads);
  y = g.add_linear(sa + ".out_proj", y, e);
  x = g.add_add(p + ".add_1", y, x);
  y = g.add_layernorm(p + ".ln_2", x, c.ln_eps);
  y = g.add_linear(p + ".mlp.0", y, c.mlp_dim);
  y = g.add_unary(p + ".mlp.1", OpKind::Gelu, y);
  y = g.add_linear(p + ".mlp.3", y, e);
  return g.add_add(p + ".add_2", y, x);
}

}  // namespace

ViTConfig vit_b16() {
  // ViT-Base/16: Dosovitskiy et al. 2020, Table 1.
  ViTConfig c;
  c.num_layers = 12;
  c.num_heads = 12;
  c.hidden_dim = 768;
  c.mlp_dim = 3072;
  return c;
}

ViTConfig vit_l16() {
  // ViT-Large/16: Dosovitskiy et al. 2020, Table 1.
  ViTConfig c;
  c.num_layers = 24;
  c.num_heads = 16;
  c.hidden_dim = 1024;
  c.mlp_dim = 4096;
  return c;
}

Graph build_vit(const ViTConfig& c, std::int64_t batch, std::string name) {
  validate(c, batch);
  Graph g(std::move(name));
  const std::int64_t e = c.hidden_dim;
  const std::int64_t grid = c.image_size / c.patch_size;
  const std::int64_t seq = grid * grid + 1;  // patches + class token

  ValueId x = g.add_input("input", Shape{batch, 3, c.image_size, c.image_size});
  Conv2dAttrs patch;
  patch.out_channels = e;
  patch.kernel_h = patch.kernel_w = c.patch_size;
  patch.stride_h = patch.stride_w = c.patch_size;
  patch.has_bias = true;
  x = g.add_conv2d("conv_proj", x, patch);
  // torchvision _process_input: reshape(n, E, h·w).permute(0, 2, 1) → [B, h·w, E], row-major patches.
  x = g.add_patch_flatten("patch_flatten", x);
  const ValueId cls = g.add_param("class_token", Shape{1, 1, e}, ParamRole::ClassToken);
  x = g.add_concat_class_token("concat_class_token", x, cls);
  const ValueId pos = g.add_param("encoder.pos_embedding", Shape{1, seq, e}, ParamRole::PosEmbedding);
  x = g.add_positional("encoder.add_pos_embedding", x, pos);

  for (std::int64_t i = 0; i < c.num_layers; ++i)
    x = encoder_block(g, x, c, fmt::format("encoder.layers.encoder_layer_{}", i));

  x = g.add_layernorm("encoder.ln", x, c.ln_eps);
  x = g.add_take_token("class_token_out", x, 0);  // torchvision: x[:, 0]
  x = g.add_linear("heads.head", x, c.num_classes);
  g.mark_output(x);
  return g;
}

}  // namespace vramfit
