// models/decoder_weights.h — host weights of a decoder LLM by Hugging Face name (fp32): seeded random
// ones, a safetensors checkpoint (one file, or a folder with model.safetensors or a sharded
// model.safetensors.index.json), and the values a precision actually computes with.
//
// Random weights: element i of tensor `name` is offset + scale·N(seed, stream_id(name), i)
// (core/rng.h), so a GPU kernel generates the same tensor from (seed, name) alone. The scales keep
// every part of the model doing something (the HF init, N(0, 0.02) with unit norms, makes attention
// nearly uniform and the logits nearly flat): embeddings N(0, 1), projections and lm_head
// N(0, 1/fan_in) (unit-variance outputs: q·k/√d ~ N(0, 1) scores, logits ~ N(0, 1)), RMSNorm
// weights 1 + 0.1·N, biases 0.1·N. decoder_init_rule() is the table the GPU generator reads.
//
// Checkpoints are read tensor by tensor into fp32 (F32, F16, BF16); a missing or misshapen tensor is
// an InvalidInput naming the file and the tensor. A whole 7B checkpoint in fp32 is ~27 GB of host
// memory: this loader is for small models and tests; the CUDA session streams tensors one at a time
// (DecoderCheckpoint::read).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/dtype.h"
#include "core/tensor_map.h"
#include "models/decoder.h"
#include "weights/gguf.h"
#include "weights/safetensors.h"

namespace vramfit {

struct DecoderInitRule {
  float offset = 0.0f;
  float scale = 0.0f;
};
DecoderInitRule decoder_init_rule(const DecoderTensor& t);

TensorMap random_decoder_weights(const DecoderConfig& c, std::uint64_t seed);

// A checkpoint: path is a .safetensors file, a model.safetensors.index.json, or a folder holding either.
class DecoderCheckpoint {
 public:
  static DecoderCheckpoint open(const std::string& path);
  // The folder's config.json when there is one (for --weights without --config).
  const std::string& config_path() const { return config_path_; }
  bool has(const std::string& name) const;
  // fp32 copy of a tensor, its shape checked; InvalidInput naming file and tensor when absent or misshapen.
  Tensor read(const std::string& name, const Shape& expected) const;
  const std::string& path() const { return path_; }
  // Every tensor of decoder_tensors(c) is present with its shape (headers only, no data read);
  // InvalidInput naming the first file and tensor that is not.
  void check(const DecoderConfig& c) const;

 private:
  std::string path_, config_path_;
  const SafetensorsFile& file_of(const std::string& name) const;
  std::map<std::string, std::string> shard_of_;                         // tensor → file
  mutable std::map<std::string, std::shared_ptr<SafetensorsFile>> files_;  // file → opened (lazily)
};

// Every tensor of decoder_tensors(c) from the checkpoint.
TensorMap load_decoder_weights(const DecoderConfig& c, const DecoderCheckpoint& ckpt);

// The fp32 values a precision computes with: fp16 / bf16 round every tensor to that type; int8 /
// int4 quantize-dequantize the projections (weights/quant_int.h, per HF tensor — the stacked GPU
// matrices hold the same rows) and round the rest to fp16; fp32 copies. The CPU reference of a
// quantized model. q8_0 / q4_0 / q4_k_m: the tensors llama.cpp's recipe quantizes
// (models/decoder_plan.h llm_source_dtype) go through gguf_quantize → gguf_dequantize, the rest is
// rounded to fp16.
TensorMap decoder_weights_at(const DecoderConfig& c, const TensorMap& w, Precision p);

// ---- GGUF files (weights/gguf.h) as decoder models -------------------------------------------
// The decoder config of a GGUF llama/mistral/qwen2 model (name: general.name, else the file's stem).
// Rope scaling other than none/linear is Unsupported naming it.
DecoderConfig decoder_config_from_gguf(const GgufLlamaModel& m, const std::string& fallback_name);
// The LLM precision whose recipe the file follows: general.file_type 7 → q8_0, 2 → q4_0, 15 → q4_k_m;
// otherwise by the type holding most of the projections' bytes (Q8_0, Q4_0, Q4_K); F16/BF16/F32
// projections → fp16. Other block types are Unsupported naming them.
Precision gguf_file_precision(const GgufLlamaModel& m);
// HF name → our DType of every tensor (LlmPlanOptions::source_types).
std::map<std::string, DType> gguf_source_types(const GgufLlamaModel& m);
// One tensor dequantized to fp32, q/k rows in HF order.
Tensor gguf_tensor_hf(const GgufModelTensor& t);
// Every tensor so, under its HF name: the CPU reference of the file's model (what
// backend/cpu/decoder.h runs).
TensorMap gguf_decoder_weights(const GgufLlamaModel& m);

}  // namespace vramfit
