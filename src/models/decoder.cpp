// Decoder configs: the config.json parser and the presets (each written as the fields of its published
// config.json and parsed by the same parser, so a preset and `--config` of the real file agree). The
// tensor list, the counts and RoPE frequencies are graph/decoder.cpp's.
#include "models/decoder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fmt/format.h>

#include "core/error.h"
#include "core/input_file.h"
#include "core/text.h"

namespace vramfit {

namespace {

using nlohmann::json;

std::int64_t positive_int(const json& j, const char* key, const std::string& label, std::int64_t fallback = -1) {
  if (!j.contains(key) || j.at(key).is_null()) {
    if (fallback > 0) return fallback;
    throw InvalidInput(fmt::format("{}: missing field '{}' (a positive integer)", label, key));
  }
  const json& v = j.at(key);
  if (!v.is_number_integer() || v.get<std::int64_t>() <= 0)
    throw InvalidInput(fmt::format("{}: {}: expected a positive integer, got {}", label, key, v.dump()));
  return v.get<std::int64_t>();
}

double positive_number(const json& j, const char* key, const std::string& label, double fallback) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  const json& v = j.at(key);
  if (!v.is_number() || !(v.get<double>() > 0.0) || !std::isfinite(v.get<double>()))
    throw InvalidInput(fmt::format("{}: {}: expected a positive number, got {}", label, key, v.dump()));
  return v.get<double>();
}

bool boolean(const json& j, const char* key, const std::string& label, bool fallback) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  if (!j.at(key).is_boolean())
    throw InvalidInput(fmt::format("{}: {}: expected true or false, got {}", label, key, j.at(key).dump()));
  return j.at(key).get<bool>();
}

// rope_scaling (transformers < 4.56: {"type"|"rope_type": …, "factor": …}) or rope_parameters (≥ 4.56:
// {"rope_type": …, "rope_theta": …, …}); "default" means none.
RopeScaling parse_rope(const json& r, const std::string& label, const char* key) {
  RopeScaling s;
  if (r.is_null()) return s;
  if (!r.is_object()) throw InvalidInput(fmt::format("{}: {}: expected an object or null, got {}", label, key, r.dump()));
  std::string type;
  if (r.contains("rope_type") && r.at("rope_type").is_string()) type = r.at("rope_type").get<std::string>();
  else if (r.contains("type") && r.at("type").is_string()) type = r.at("type").get<std::string>();
  const std::string where = fmt::format("{}: {}", label, key);
  if (type.empty() || type == "default") return s;
  if (type == "linear") {
    s.type = RopeScalingType::Linear;
    s.factor = positive_number(r, "factor", where, 0.0);
    if (s.factor <= 0.0) throw InvalidInput(where + ": linear rope scaling needs a positive 'factor'");
    return s;
  }
  if (type == "llama3") {
    s.type = RopeScalingType::Llama3;
    s.factor = positive_number(r, "factor", where, 0.0);
    s.low_freq_factor = positive_number(r, "low_freq_factor", where, 0.0);
    s.high_freq_factor = positive_number(r, "high_freq_factor", where, 0.0);
    s.original_max_position_embeddings = positive_int(r, "original_max_position_embeddings", where);
    if (s.factor <= 0.0 || s.low_freq_factor <= 0.0 || s.high_freq_factor <= s.low_freq_factor)
      throw InvalidInput(where + ": llama3 rope scaling needs factor > 0 and high_freq_factor > low_freq_factor > 0");
    return s;
  }
  throw Unsupported(fmt::format("{}: rope type '{}' is not implemented (supported: default, linear, llama3)", where, type));
}

std::string lower(std::string_view s) { return ascii_lower(s); }

// The presets: the architecture fields of each model's published config.json (copied field by field;
// tokenizer ids and training flags left out).
struct Preset {
  const char* id;
  const char* source;  // where the numbers come from
  const char* config;  // JSON
};

const Preset kPresets[] = {
    // https://huggingface.co/meta-llama/Llama-2-7b-hf/blob/main/config.json — 6,738,415,616 parameters.
    {"llama-7b", "meta-llama/Llama-2-7b-hf",
     R"({"model_type":"llama","hidden_size":4096,"intermediate_size":11008,"num_hidden_layers":32,
         "num_attention_heads":32,"num_key_value_heads":32,"vocab_size":32000,"max_position_embeddings":4096,
         "rms_norm_eps":1e-05,"rope_theta":10000.0,"rope_scaling":null,"tie_word_embeddings":false})"},
    // https://huggingface.co/meta-llama/Llama-2-13b-hf/blob/main/config.json
    {"llama-13b", "meta-llama/Llama-2-13b-hf",
     R"({"model_type":"llama","hidden_size":5120,"intermediate_size":13824,"num_hidden_layers":40,
         "num_attention_heads":40,"num_key_value_heads":40,"vocab_size":32000,"max_position_embeddings":4096,
         "rms_norm_eps":1e-05,"rope_theta":10000.0,"rope_scaling":null,"tie_word_embeddings":false})"},
    // https://huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json
    {"llama3-8b", "meta-llama/Meta-Llama-3-8B",
     R"({"model_type":"llama","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,
         "num_attention_heads":32,"num_key_value_heads":8,"vocab_size":128256,"max_position_embeddings":8192,
         "rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":null,"tie_word_embeddings":false})"},
    // https://huggingface.co/mistralai/Mistral-7B-v0.3/blob/main/config.json (v0.3: no sliding window)
    {"mistral-7b", "mistralai/Mistral-7B-v0.3",
     R"({"model_type":"mistral","hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,
         "num_attention_heads":32,"num_key_value_heads":8,"head_dim":128,"vocab_size":32768,
         "max_position_embeddings":32768,"rms_norm_eps":1e-05,"rope_theta":1000000.0,"sliding_window":null,
         "tie_word_embeddings":false})"},
    // https://huggingface.co/Qwen/Qwen2.5-0.5B/blob/main/config.json (q/k/v biases: Qwen2 attention)
    {"qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B",
     R"({"model_type":"qwen2","hidden_size":896,"intermediate_size":4864,"num_hidden_layers":24,
         "num_attention_heads":14,"num_key_value_heads":2,"vocab_size":151936,"max_position_embeddings":32768,
         "rms_norm_eps":1e-06,"rope_theta":1000000.0,"use_sliding_window":false,"sliding_window":32768,
         "tie_word_embeddings":true})"},
    // https://huggingface.co/Qwen/Qwen2.5-7B/blob/main/config.json
    {"qwen2.5-7b", "Qwen/Qwen2.5-7B",
     R"({"model_type":"qwen2","hidden_size":3584,"intermediate_size":18944,"num_hidden_layers":28,
         "num_attention_heads":28,"num_key_value_heads":4,"vocab_size":152064,"max_position_embeddings":131072,
         "rms_norm_eps":1e-06,"rope_theta":1000000.0,"rope_scaling":null,"use_sliding_window":false,
         "sliding_window":131072,"tie_word_embeddings":false})"},
    // https://huggingface.co/TinyLlama/TinyLlama-1.1B-Chat-v1.0/blob/main/config.json
    {"tinyllama-1.1b", "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
     R"({"model_type":"llama","hidden_size":2048,"intermediate_size":5632,"num_hidden_layers":22,
         "num_attention_heads":32,"num_key_value_heads":4,"vocab_size":32000,"max_position_embeddings":2048,
         "rms_norm_eps":1e-05,"rope_theta":10000.0,"rope_scaling":null,"attention_bias":false,
         "tie_word_embeddings":false})"},
    // https://huggingface.co/meta-llama/Llama-2-70b-hf/blob/main/config.json
    {"llama-70b", "meta-llama/Llama-2-70b-hf",
     R"({"model_type":"llama","hidden_size":8192,"intermediate_size":28672,"num_hidden_layers":80,
         "num_attention_heads":64,"num_key_value_heads":8,"vocab_size":32000,"max_position_embeddings":4096,
         "rms_norm_eps":1e-05,"rope_theta":10000.0,"rope_scaling":null,"tie_word_embeddings":false})"},
};

}  // namespace

DecoderConfig parse_decoder_config(const json& j, const std::string& label) {
  if (!j.is_object()) throw InvalidInput(fmt::format("{}: expected a JSON object (a Hugging Face config.json)", label));
  DecoderConfig c;
  c.name = label;
  if (j.contains("model_type") && j.at("model_type").is_string()) c.model_type = j.at("model_type").get<std::string>();
  if (c.model_type != "llama" && c.model_type != "mistral" && c.model_type != "qwen2")
    throw Unsupported(fmt::format("{}: model_type '{}' is not implemented (supported: llama, mistral, qwen2)", label,
                                  c.model_type));
  if (j.contains("hidden_act") && j.at("hidden_act").is_string() && j.at("hidden_act").get<std::string>() != "silu")
    throw Unsupported(fmt::format("{}: hidden_act '{}' is not implemented (the SwiGLU MLP uses silu)", label,
                                  j.at("hidden_act").get<std::string>()));
  if (boolean(j, "mlp_bias", label, false)) throw Unsupported(label + ": mlp_bias = true is not implemented");
  c.hidden_size = positive_int(j, "hidden_size", label);
  c.intermediate_size = positive_int(j, "intermediate_size", label);
  c.num_layers = positive_int(j, "num_hidden_layers", label);
  c.num_heads = positive_int(j, "num_attention_heads", label);
  c.num_kv_heads = positive_int(j, "num_key_value_heads", label, c.num_heads);
  if (j.contains("head_dim") && !j.at("head_dim").is_null()) {
    c.head_dim = positive_int(j, "head_dim", label);
  } else {
    if (c.hidden_size % c.num_heads)
      throw InvalidInput(fmt::format("{}: num_attention_heads {} does not divide hidden_size {} (and no head_dim is given)",
                                     label, c.num_heads, c.hidden_size));
    c.head_dim = c.hidden_size / c.num_heads;
  }
  c.vocab_size = positive_int(j, "vocab_size", label);
  c.max_position_embeddings = positive_int(j, "max_position_embeddings", label, 2048);  // LlamaConfig's default
  c.rms_norm_eps = static_cast<float>(positive_number(j, "rms_norm_eps", label, 1e-6));
  c.tie_word_embeddings = boolean(j, "tie_word_embeddings", label, false);
  // Qwen2's attention always has q/k/v biases (Qwen2Attention: bias=True); Llama's follow attention_bias.
  c.attention_bias = c.model_type == "qwen2" ? true : boolean(j, "attention_bias", label, false);
  c.o_proj_bias = c.model_type == "qwen2" ? false : c.attention_bias;  // LlamaAttention: o_proj bias=attention_bias
  c.rope_theta = positive_number(j, "rope_theta", label, 10000.0);
  if (j.contains("rope_parameters") && j.at("rope_parameters").is_object()) {
    const json& rp = j.at("rope_parameters");
    c.rope_theta = positive_number(rp, "rope_theta", label + ": rope_parameters", c.rope_theta);
    c.rope_scaling = parse_rope(rp, label, "rope_parameters");
  } else if (j.contains("rope_scaling")) {
    c.rope_scaling = parse_rope(j.at("rope_scaling"), label, "rope_scaling");
  }
  if (j.contains("partial_rotary_factor") && j.at("partial_rotary_factor").is_number() &&
      j.at("partial_rotary_factor").get<double>() != 1.0)
    throw Unsupported(label + ": partial_rotary_factor ≠ 1 is not implemented");
  // Sliding-window attention: Mistral v0.1 uses it (window 4096); Qwen2 declares one but disables it.
  const bool window_on = c.model_type == "mistral" ? true : boolean(j, "use_sliding_window", label, false);
  if (window_on && j.contains("sliding_window") && j.at("sliding_window").is_number_integer() &&
      j.at("sliding_window").get<std::int64_t>() < c.max_position_embeddings)
    c.notes.push_back(fmt::format(
        "sliding_window {} is not modelled: attention and the KV cache are planned over the full context",
        j.at("sliding_window").get<std::int64_t>()));
  c.validate();
  return c;
}

DecoderConfig load_decoder_config(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  std::error_code ec;
  if (fs::is_directory(p, ec)) p /= "config.json";
  const std::string text = read_input_file(p.string(), "Hugging Face config.json");
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InvalidInput(fmt::format("{}: not valid JSON at byte {}: {}", p.string(), e.byte, e.what()));
  } catch (const json::exception& e) {  // e.g. a number too large for any JSON number type
    throw InvalidInput(fmt::format("{}: not valid JSON: {}", p.string(), e.what()));
  }
  DecoderConfig c = parse_decoder_config(j, p.string());
  c.name = p.parent_path().filename().string().empty() ? p.filename().string() : p.parent_path().filename().string();
  return c;
}

const std::vector<std::string>& decoder_preset_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    for (const auto& p : kPresets) v.emplace_back(p.id);
    return v;
  }();
  return ids;
}

DecoderConfig decoder_preset(std::string_view id) {
  const std::string key = lower(id);
  for (const auto& p : kPresets)
    if (key == p.id) {
      DecoderConfig c = parse_decoder_config(json::parse(p.config), std::string(p.source) + "/config.json");
      c.name = p.id;
      return c;
    }
  std::string ids;
  for (const auto& p : kPresets) ids += (ids.empty() ? "" : ", ") + std::string(p.id);
  throw InvalidInput(fmt::format("unknown decoder preset '{}'; valid: {}", id, ids));
}

}  // namespace vramfit
