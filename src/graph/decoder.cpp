// The decoder LLM's description (decoder.h): validation of the extents, the tensor list with Hugging
// Face names, the parameter and MAC counts, and RoPE frequencies.
#include "graph/decoder.h"

#include <cmath>
#include <fmt/format.h>
#include <numbers>

#include "core/checked.h"
#include "core/error.h"

namespace vramfit {

void DecoderConfig::validate() const {
  const std::string label = name.empty() ? std::string("decoder config") : name;
  // Upper bounds far beyond any published model (core/checked.h) keep every product of these extents
  // (tensor sizes, KV bytes per token, parameter counts) representable, and refuse a hostile config
  // before a per-layer list of 2^40 entries is built.
  struct Field {
    const char* name;
    std::int64_t value, max;
  };
  const Field fields[] = {
      {"hidden_size", hidden_size, limits::kMaxHidden},
      {"intermediate_size", intermediate_size, limits::kMaxIntermediate},
      {"num_hidden_layers", num_layers, limits::kMaxLayers},
      {"num_attention_heads", num_heads, limits::kMaxHeads},
      {"num_key_value_heads", num_kv_heads, limits::kMaxHeads},
      {"head_dim", head_dim, limits::kMaxHeadDim},
      {"vocab_size", vocab_size, limits::kMaxVocab},
      {"max_position_embeddings", max_position_embeddings, limits::kMaxContext}};
  for (const auto& f : fields) {
    if (f.value <= 0) throw InvalidInput(fmt::format("{}: {} must be positive, got {}", label, f.name, f.value));
    if (f.value > f.max)
      throw InvalidInput(fmt::format("{}: {} is {}, more than the {} vramfit accepts (no real model comes close)", label,
                                     f.name, f.value, f.max));
  }
  if (num_heads % num_kv_heads)
    throw InvalidInput(fmt::format("{}: num_key_value_heads {} does not divide num_attention_heads {}", label,
                                   num_kv_heads, num_heads));
  if (head_dim % 2) throw InvalidInput(fmt::format("{}: head_dim {} must be even (RoPE rotates pairs)", label, head_dim));
  if (q_dim() > limits::kMaxIntermediate)
    throw InvalidInput(fmt::format("{}: num_attention_heads {} × head_dim {} = {} is more than the {} vramfit accepts", label,
                                   num_heads, head_dim, q_dim(), limits::kMaxIntermediate));
  if (!(rope_theta > 0.0) || !std::isfinite(rope_theta))
    throw InvalidInput(fmt::format("{}: rope_theta must be a finite positive number, got {}", label, rope_theta));
  if (!(rms_norm_eps > 0.0f) || !std::isfinite(rms_norm_eps))
    throw InvalidInput(fmt::format("{}: rms_norm_eps must be a finite positive number, got {}", label, rms_norm_eps));
  const double scaling[] = {rope_scaling.factor, rope_scaling.low_freq_factor, rope_scaling.high_freq_factor};
  for (double v : scaling)
    if (!(v > 0.0) || !std::isfinite(v))
      throw InvalidInput(fmt::format("{}: rope scaling factors must be finite positive numbers, got {}", label, v));
  // The parameter count, checked: its fp32 bytes must fit too.
  checked_mul<std::uint64_t>(decoder_parameter_count(*this), 4, label + ": bytes of the fp32 weights");
}

std::vector<DecoderTensor> decoder_tensors(const DecoderConfig& c) {
  std::vector<DecoderTensor> t;
  const std::int64_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_dim(), KV = c.kv_dim();
  t.push_back({"model.embed_tokens.weight", Shape{c.vocab_size, H}, DecoderTensorKind::Embedding, -1});
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    const auto li = static_cast<std::int32_t>(l);
    const std::string p = fmt::format("model.layers.{}.", l);
    t.push_back({p + "input_layernorm.weight", Shape{H}, DecoderTensorKind::Norm, li});
    t.push_back({p + "self_attn.q_proj.weight", Shape{Q, H}, DecoderTensorKind::Linear, li});
    if (c.attention_bias) t.push_back({p + "self_attn.q_proj.bias", Shape{Q}, DecoderTensorKind::Bias, li});
    t.push_back({p + "self_attn.k_proj.weight", Shape{KV, H}, DecoderTensorKind::Linear, li});
    if (c.attention_bias) t.push_back({p + "self_attn.k_proj.bias", Shape{KV}, DecoderTensorKind::Bias, li});
    t.push_back({p + "self_attn.v_proj.weight", Shape{KV, H}, DecoderTensorKind::Linear, li});
    if (c.attention_bias) t.push_back({p + "self_attn.v_proj.bias", Shape{KV}, DecoderTensorKind::Bias, li});
    t.push_back({p + "self_attn.o_proj.weight", Shape{H, Q}, DecoderTensorKind::Linear, li});
    if (c.o_proj_bias) t.push_back({p + "self_attn.o_proj.bias", Shape{H}, DecoderTensorKind::Bias, li});
    t.push_back({p + "post_attention_layernorm.weight", Shape{H}, DecoderTensorKind::Norm, li});
    t.push_back({p + "mlp.gate_proj.weight", Shape{I, H}, DecoderTensorKind::Linear, li});
    t.push_back({p + "mlp.up_proj.weight", Shape{I, H}, DecoderTensorKind::Linear, li});
    t.push_back({p + "mlp.down_proj.weight", Shape{H, I}, DecoderTensorKind::Linear, li});
  }
  t.push_back({"model.norm.weight", Shape{H}, DecoderTensorKind::Norm, -1});
  if (!c.tie_word_embeddings) t.push_back({"lm_head.weight", Shape{c.vocab_size, H}, DecoderTensorKind::LmHead, -1});
  return t;
}

std::uint64_t decoder_parameter_count(const DecoderConfig& c) {
  std::uint64_t n = 0;
  const std::string what = c.name + ": parameter count";
  for (const auto& t : decoder_tensors(c)) n = checked_add(n, static_cast<std::uint64_t>(t.shape.numel()), what);
  return n;
}

std::uint64_t decoder_macs_per_token(const DecoderConfig& c) {
  std::uint64_t n = 0;
  const std::string what = c.name + ": MACs per token";
  for (const auto& t : decoder_tensors(c))
    if (t.kind == DecoderTensorKind::Linear || t.kind == DecoderTensorKind::LmHead)
      n = checked_add(n, static_cast<std::uint64_t>(t.shape.numel()), what);
  if (c.tie_word_embeddings) n = checked_add(n, static_cast<std::uint64_t>(Shape{c.vocab_size, c.hidden_size}.numel()), what);
  return n;
}

std::vector<double> rope_inv_freq(const DecoderConfig& c) {
  const std::int64_t d = c.head_dim;
  std::vector<double> f(static_cast<std::size_t>(d / 2));
  for (std::int64_t i = 0; i < d / 2; ++i)
    f[static_cast<std::size_t>(i)] = 1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / static_cast<double>(d));
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeScalingType::Linear) {
    for (double& x : f) x /= s.factor;
  } else if (s.type == RopeScalingType::Llama3) {
    // transformers modeling_rope_utils._compute_llama3_parameters (Llama 3.1): wavelengths longer than
    // old_context/low_freq_factor are divided by factor, shorter than old_context/high_freq_factor kept,
    // the band between interpolated smoothly.
    const double old_ctx = static_cast<double>(s.original_max_position_embeddings);
    const double low_wavelen = old_ctx / s.low_freq_factor, high_wavelen = old_ctx / s.high_freq_factor;
    for (double& x : f) {
      const double wavelen = 2.0 * std::numbers::pi / x;
      if (wavelen > low_wavelen) {
        x /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        x = (1.0 - smooth) * x / s.factor + smooth * x;
      }
    }
  }
  return f;
}

}  // namespace vramfit
