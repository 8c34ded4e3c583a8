// graph/decoder.h — what a decoder-only LLM of the Llama family computes: its extents (DecoderConfig),
// its tensors with their Hugging Face names, and its RoPE frequencies. For the LLMs this is what
// graph.h is for the vision models: the description every later stage reads (models/ plans and
// loads it, backend/cpu runs it as the reference, runtime/ runs it on the GPU, predict/ sizes it).
//
// It lives in graph/, not models/, so that the backends can take it without depending on the model
// builders: models/decoder.h makes a DecoderConfig from a config.json or a preset and re-exports this
// header; the architecture itself (RMSNorm, grouped-query attention, RoPE, SwiGLU) is described there.
// core/ was the other candidate; it holds the vocabulary of every stage (dtypes, shapes, errors), and
// a decoder's extents are a model description, as graph.h's nodes are.
#pragma once

#include <cstdint>
#include <string>
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

}  // namespace vramfit
