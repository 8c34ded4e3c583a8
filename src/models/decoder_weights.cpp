// Decoder weights on the host: random (rules in decoder_weights.h), checkpoints, precision rounding.
#include "models/decoder_weights.h"

#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "core/rng.h"
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
  if (!fs::exists(p, ec)) throw IoError(fmt::format("{}: no such file or folder (expected a .safetensors file, "
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
    std::ifstream in(p, std::ios::binary);
    if (!in) throw IoError(fmt::format("{}: cannot open", p.string()));
    std::stringstream ss;
    ss << in.rdbuf();
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::parse_error& e) {
      throw InvalidInput(fmt::format("{}: not valid JSON at byte {}", p.string(), e.byte));
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
    } else if (p == Precision::fp16 || p == Precision::int8 || p == Precision::int4) {
      for (float& v : x.data) v = round_to_half(v);
    } else {
      throw Unsupported(fmt::format("decoder weights at {}: not an LLM precision (fp32, fp16, bf16, int8, int4)", to_string(p)));
    }
    out.emplace(t.name, std::move(x));
  }
  return out;
}

}  // namespace vramfit
