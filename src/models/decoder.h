// models/decoder.h — decoder-only LLMs of the Llama family (Llama 1/2/3, Mistral, Qwen2, TinyLlama)
// described by a Hugging Face `config.json`.
//
// In:  a config.json (a file, or a checkpoint folder holding one) or a preset id. Out: a DecoderConfig
// (every extent the engine needs), the list of checkpoint tensors with their Hugging Face names and
// shapes, the parameter count, and the RoPE inverse frequencies (with rope scaling applied) that the
// CPU reference and the CUDA session both use.
//
// The architecture (transformers' LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM):
//   x = embed_tokens[ids]
//   per layer:  h = RMSNorm(x)·γ₁;  q, k, v = h·W_qᵀ (+b_q), h·W_kᵀ (+b_k), h·W_vᵀ (+b_v);
//               RoPE on q and k (rotate_half convention); grouped-query attention with a causal mask
//               (num_attention_heads query heads share num_key_value_heads key/value heads);
//               x += attn·W_oᵀ;  h = RMSNorm(x)·γ₂;  x += (SiLU(h·W_gateᵀ) ⊙ h·W_upᵀ)·W_downᵀ
//   logits = RMSNorm(x)·γ_f · W_lmᵀ   (W_lm = embed_tokens when tie_word_embeddings)
// Qwen2 has biases on q/k/v; a Llama config with attention_bias = true has them on q/k/v and o.
//
// Not modelled (an error names them where a config asks for them): sliding-window attention (Mistral
// v0.1's `sliding_window` — the presets use v0.3, which has none; a config with a window is run and
// planned with full attention and says so in `notes`), rope types other than default/linear/llama3,
// MLP biases, partial rotary factors.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/shape.h"

namespace vramfit {

enum class RopeScalingType : std::uint8_t { None, Linear, Llama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::None;
  double factor = 1.0;
  double low_freq_factor = 1.0;    // llama3
  double high_freq_factor = 4.0;   // llama3
  std::int64_t original_max_position_embeddings = 0;  // llama3
};

struct DecoderConfig {
  std::string name;                  // preset id or the config's file name
  std::string model_type = "llama";  // llama | mistral | qwen2 (as in config.json)
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_layers = 0;           // num_hidden_layers
  std::int64_t num_heads = 0;            // num_attention_heads
  std::int64_t num_kv_heads = 0;         // num_key_value_heads (= num_heads when absent)
  std::int64_t head_dim = 0;             // head_dim, else hidden_size / num_heads
  std::int64_t vocab_size = 0;
  std::int64_t max_position_embeddings = 0;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  float rms_norm_eps = 1e-6f;
  bool tie_word_embeddings = false;
  bool attention_bias = false;       // q/k/v biases (Qwen2; Llama's attention_bias)
  bool o_proj_bias = false;          // o_proj bias too (Llama's attention_bias; not Qwen2)
  std::vector<std::string> notes;    // things the engine does differently from the config (sliding window)

  std::int64_t q_dim() const { return num_heads * head_dim; }
  std::int64_t kv_dim() const { return num_kv_heads * head_dim; }
  // Throws InvalidInput naming the field unless every extent is positive, kv heads divide heads and
  // head_dim is even (RoPE rotates pairs).
  void validate() const;
};

// From a parsed config.json; `label` (the file) names errors: "config.json: num_attention_heads: expected
// a positive integer, got -1". Accepts both the classic top-level `rope_theta` / `rope_scaling` keys and
// transformers ≥ 4.56's `rope_parameters` object.
DecoderConfig parse_decoder_config(const nlohmann::json& j, const std::string& label);
// A config.json file, or a folder holding one. InvalidInput / IoError naming the path.
DecoderConfig load_decoder_config(const std::string& path);

// One tensor of a Hugging Face checkpoint of this architecture.
enum class DecoderTensorKind : std::uint8_t { Embedding, Norm, Linear, Bias, LmHead };

struct DecoderTensor {
  std::string name;  // "model.layers.3.self_attn.q_proj.weight"
  Shape shape;       // torch layout: Linear [out, in]
  DecoderTensorKind kind = DecoderTensorKind::Linear;
  std::int32_t layer = -1;  // -1 outside the blocks
};

// Every tensor the model has, in checkpoint order (embedding, layers, final norm, lm_head unless tied).
std::vector<DecoderTensor> decoder_tensors(const DecoderConfig& c);
// Parameters (a tied lm_head counted once, as torch's parameters()).
std::uint64_t decoder_parameter_count(const DecoderConfig& c);
// Multiply-accumulates of the weight matrices per token (every Linear and the lm_head; attention
// scores excluded: they depend on the context).
std::uint64_t decoder_macs_per_token(const DecoderConfig& c);

// RoPE inverse frequencies, head_dim/2 of them: θ^(−2i/d), then scaled (transformers
// modeling_rope_utils: linear divides every frequency by `factor`; llama3 divides the low frequencies,
// keeps the high ones and interpolates between — Llama 3.1's "rope_type": "llama3"). Computed in double.
std::vector<double> rope_inv_freq(const DecoderConfig& c);

// Presets with the published shapes (see decoder.cpp for the config.json each comes from).
const std::vector<std::string>& decoder_preset_ids();
DecoderConfig decoder_preset(std::string_view id);  // InvalidInput listing the ids

}  // namespace vramfit
