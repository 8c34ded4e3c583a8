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
#include "graph/decoder.h"  // DecoderConfig, the tensor list and RoPE frequencies (re-exported)

namespace vramfit {

// From a parsed config.json; `label` (the file) names errors: "config.json: num_attention_heads: expected
// a positive integer, got -1". Accepts both the classic top-level `rope_theta` / `rope_scaling` keys and
// transformers ≥ 4.56's `rope_parameters` object.
DecoderConfig parse_decoder_config(const nlohmann::json& j, const std::string& label);
// A config.json file, or a folder holding one. InvalidInput / IoError naming the path.
DecoderConfig load_decoder_config(const std::string& path);

// Presets with the published shapes (see decoder.cpp for the config.json each comes from).
const std::vector<std::string>& decoder_preset_ids();
DecoderConfig decoder_preset(std::string_view id);  // InvalidInput listing the ids

}  // namespace vramfit
