// Decoder weights on the host: random (rules in decoder_weights.h), checkpoints, precision rounding.
#include "models/decoder_weights.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/input_file.h"
#include "core/half.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "models/decoder_plan.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"
#include "weights/quant_int.h"

namespace vramfit {

DecoderInitRule decoder_init_rule(const DecoderTensor& t) {
  switch (t.kind) {
    case DecoderTensorKind::Embedding: return {0.0f, 1.0f};
    case DecoderTensorKind::Norm: return {1.0f, 0.1f};
    case DecoderTensorKind::Bias: return {0.0f, 0.1f};
    case DecoderTensorKind::Linear:
    case DecoderTensorKind::LmHead:
      return {0.0f, static_cast<float>(1.0 / std::sqrt(static_cast<double>(t.shape[1])))};
  }
  throw InternalError("decoder tensor of unknown kind " + t.name);
}

TensorMap random_decoder_weights(const DecoderConfig& c, std::uint64_t seed) {
  TensorMap out;
  for (const auto& t : decoder_tensors(c)) {
    Tensor x(t.shape);
    const DecoderInitRule r = decoder_init_rule(t);
    const std::uint64_t stream = stream_id(t.name);
    float* p = x.ptr();
    parallel_for(x.numel(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) p[i] = r.offset + r.scale * normal01(seed, stream, static_cast<std::uint64_t>(i));
    });
    out.emplace(t.name, std::move(x));
  }
  return out;
}

DecoderCheckpoint DecoderCheckpoint::open(const std::string& path) {
  namespace fs = std::filesystem;
  DecoderCheckpoint ck;
  ck.path_ = path;
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec)) throw InvalidInput(fmt::format("{}: no such file or folder (expected a .safetensors file, "
                                                    "a model.safetensors.index.json, or a checkpoint folder)", path));
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "config.json")) ck.config_path_ = (p / "config.json").string();
    if (fs::exists(p / "model.safetensors.index.json")) p /= "model.safetensors.index.json";
    else if (fs::exists(p / "model.safetensors")) p /= "model.safetensors";
    else throw InvalidInput(fmt::format("{}: folder has neither model.safetensors nor model.safetensors.index.json", path));
  } else if (fs::exists(p.parent_path() / "config.json")) {
    ck.config_path_ = (p.parent_path() / "config.json").string();
  }
  if (p.filename().string().ends_with(".index.json")) {
    // Sharded: {"weight_map": {tensor: "model-00001-of-00002.safetensors", …}} (transformers' format).
    const std::string text = read_input_file(p.string(), "safetensors index (model.safetensors.index.json)");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      throw InvalidInput(fmt::format("{}: not valid JSON at byte {}", p.string(), e.byte));
    } catch (const nlohmann::json::exception& e) {
      throw InvalidInput(fmt::format("{}: not valid JSON: {}", p.string(), e.what()));
    }
    if (!j.contains("weight_map") || !j.at("weight_map").is_object())
      throw InvalidInput(fmt::format("{}: missing object 'weight_map' (tensor name → shard file)", p.string()));
    for (const auto& [name, file] : j.at("weight_map").items()) {
      if (!file.is_string()) throw InvalidInput(fmt::format("{}: weight_map['{}'] is not a file name", p.string(), name));
      const std::string f = file.get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        throw InvalidInput(fmt::format("{}: weight_map['{}'] = '{}' leaves the checkpoint folder", p.string(), name, f));
      ck.shard_of_[name] = (p.parent_path() / f).string();
    }
  } else {
    auto file = std::make_shared<SafetensorsFile>(SafetensorsFile::open(p.string()));
    for (const auto& e : file->entries()) ck.shard_of_[e.name] = p.string();
    ck.files_[p.string()] = std::move(file);
  }
  return ck;
}

bool DecoderCheckpoint::has(const std::string& name) const { return shard_of_.count(name) > 0; }

const SafetensorsFile& DecoderCheckpoint::file_of(const std::string& name) const {
  const auto it = shard_of_.find(name);
  if (it == shard_of_.end()) throw InvalidInput(fmt::format("{}: checkpoint has no tensor '{}'", path_, name));
  auto& file = files_[it->second];
  if (!file) file = std::make_shared<SafetensorsFile>(SafetensorsFile::open(it->second));
  return *file;
}

void DecoderCheckpoint::check(const DecoderConfig& c) const {
  for (const auto& t : decoder_tensors(c)) {
    const SafetensorsFile& f = file_of(t.name);
    const SafetensorsEntry* e = f.find(t.name);
    if (!e) throw InvalidInput(fmt::format("{}: the index names tensor '{}' but the file lacks it", f.path(), t.name));
    if (e->shape != t.shape)
      throw InvalidInput(fmt::format("{}: tensor '{}' has shape {}, the config needs {}", f.path(), t.name,
                                     e->shape.to_string(), t.shape.to_string()));
  }
}

Tensor DecoderCheckpoint::read(const std::string& name, const Shape& expected) const {
  const SafetensorsFile& f = file_of(name);
  Tensor t = f.read_f32(name);
  if (t.shape != expected)
    throw InvalidInput(fmt::format("{}: tensor '{}' has shape {}, the config needs {}", f.path(), name,
                                   t.shape.to_string(), expected.to_string()));
  return t;
}

TensorMap load_decoder_weights(const DecoderConfig& c, const DecoderCheckpoint& ckpt) {
  TensorMap out;
  for (const auto& t : decoder_tensors(c)) out.emplace(t.name, ckpt.read(t.name, t.shape));
  return out;
}

TensorMap decoder_weights_at(const DecoderConfig& c, const TensorMap& w, Precision p) {
  TensorMap out;
  for (const auto& t : decoder_tensors(c)) {
    const auto it = w.find(t.name);
    if (it == w.end()) throw InvalidInput(fmt::format("decoder weights: no tensor '{}'", t.name));
    Tensor x = it->second;
    if (x.shape != t.shape)
      throw InvalidInput(fmt::format("decoder weights: '{}' has shape {}, expected {}", t.name, x.shape.to_string(),
                                     t.shape.to_string()));
    const bool project = t.kind == DecoderTensorKind::Linear;
    if (p == Precision::fp32) {
    } else if (p == Precision::bf16) {
      for (float& v : x.data) v = round_to_bf16(v);
    } else if (p == Precision::int8 && project) {
      x.data = dequantize(quantize_int8(x.ptr(), t.shape[0], t.shape[1]));
    } else if (p == Precision::int4 && project) {
      x.data = dequantize(quantize_int4(x.ptr(), t.shape[0], t.shape[1]));
    } else if (is_gguf_precision(p)) {
      // The recipe's block type (llama.cpp's), quantized and dequantized as the session stores it.
      const std::int64_t cols = t.shape.rank() > 1 ? t.shape[1] : 1;
      const DType dt = llm_source_dtype(c, p, t.name, t.shape[0], cols);
      if (const auto g = to_ggml_type(dt); g && !is_float(dt)) {
        x.data = gguf_dequantize(*g, gguf_quantize(*g, x.data), x.data.size());
      } else {
        for (float& v : x.data) v = round_to_half(v);
      }
    } else if (p == Precision::fp16 || p == Precision::int8 || p == Precision::int4) {
      for (float& v : x.data) v = round_to_half(v);
    } else {
      throw Unsupported(fmt::format("decoder weights at {}: not an LLM precision (fp32, fp16, bf16, int8, int4, q8_0, q4_0, q4_k_m)", to_string(p)));
    }
    out.emplace(t.name, std::move(x));
  }
  return out;
}

// ---- GGUF -------------------------------------------------------------------------------------

DecoderConfig decoder_config_from_gguf(const GgufLlamaModel& m, const std::string& fallback_name) {
  const GgufLlamaConfig& g = m.config;
  DecoderConfig c;
  c.name = g.name.empty() ? fallback_name : g.name;
  c.model_type = g.architecture;
  c.hidden_size = g.embedding_length;
  c.intermediate_size = g.feed_forward_length;
  c.num_layers = g.block_count;
  c.num_heads = g.head_count;
  c.num_kv_heads = g.head_count_kv > 0 ? g.head_count_kv : g.head_count;
  c.head_dim = g.head_dim > 0 ? g.head_dim : g.embedding_length / g.head_count;
  c.vocab_size = g.vocab_size;
  c.max_position_embeddings = g.context_length;
  c.rope_theta = g.rope_freq_base;
  c.rms_norm_eps = static_cast<float>(g.rms_norm_eps);
  c.tie_word_embeddings = g.tied_embeddings;
  c.attention_bias = g.qkv_bias;
  c.o_proj_bias = false;
  if (g.rope_dimension_count > 0 && g.rope_dimension_count != c.head_dim)
    throw Unsupported(fmt::format("{}: RoPE over {} of {} head dimensions (partial rotary) is not implemented", c.name,
                                  g.rope_dimension_count, c.head_dim));
  if (g.rope_scaling_type == "linear") {
    c.rope_scaling.type = RopeScalingType::Linear;
    c.rope_scaling.factor = g.rope_scaling_factor;
  } else if (!g.rope_scaling_type.empty() && g.rope_scaling_type != "none") {
    throw Unsupported(fmt::format("{}: rope scaling '{}' from a GGUF file is not implemented (none, linear)", c.name,
                                  g.rope_scaling_type));
  }
  c.validate();
  return c;
}

Precision gguf_file_precision(const GgufLlamaModel& m) {
  if (m.config.file_type) {
    switch (*m.config.file_type) {
      case 7: return Precision::q8_0;
      case 2: return Precision::q4_0;
      case 15: return Precision::q4_k_m;
      default: break;
    }
  }
  std::map<GgmlType, std::uint64_t> bytes;
  for (const auto& t : m.tensors)
    if (t.shape.rank() == 2 && t.hf_name.find(".layers.") != std::string::npos) bytes[t.type] += t.bytes.size();
  GgmlType top = GgmlType::F16;
  std::uint64_t best = 0;
  for (const auto& [type, b] : bytes)
    if (b > best) {
      best = b;
      top = type;
    }
  switch (top) {
    case GgmlType::Q8_0: return Precision::q8_0;
    case GgmlType::Q4_0: return Precision::q4_0;
    case GgmlType::Q4_K: case GgmlType::Q6_K: return Precision::q4_k_m;
    case GgmlType::F16: case GgmlType::BF16: case GgmlType::F32: return Precision::fp16;
    default:
      throw Unsupported(fmt::format("GGUF file: projections in {} are not implemented (F16, Q8_0, Q4_0, Q4_K, Q6_K)",
                                    to_string(top)));
  }
}

std::map<std::string, DType> gguf_source_types(const GgufLlamaModel& m) {
  std::map<std::string, DType> out;
  for (const auto& t : m.tensors) {
    const auto d = to_dtype(t.type);
    if (!d)
      throw Unsupported(fmt::format("GGUF file: tensor '{}' is {} (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K)",
                                    t.info->name, to_string(t.type)));
    out.emplace(t.hf_name, *d);
  }
  return out;
}

Tensor gguf_tensor_hf(const GgufModelTensor& t) {
  Tensor v(t.shape);
  v.data = gguf_dequantize(t.type, t.bytes, static_cast<std::uint64_t>(t.shape.numel()));
  if (t.rope_rows_permuted) {
    std::vector<float> hf(v.data.size());
    gguf_rope_rows_to_hf(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(v.data.data()), v.data.size() * 4),
                         std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(hf.data()), hf.size() * 4), t.shape[0],
                         t.rope_heads);
    v.data = std::move(hf);
  }
  return v;
}

TensorMap gguf_decoder_weights(const GgufLlamaModel& m) {
  TensorMap out;
  for (const auto& t : m.tensors) out.emplace(t.hf_name, gguf_tensor_hf(t));
  return out;
}

}  // namespace vramfit
