// backend/cpu/decoder.h — the CPU reference decoder LLM: the ground truth the CUDA session is tested
// against, itself checked against Hugging Face transformers' LlamaForCausalLM (tests/golden).
//
// In:  a DecoderConfig (graph/decoder.h), weights by Hugging Face name (fp32 values — models/decoder_weights.h
//      decoder_weights_at() gives the values a 16-bit or quantized model computes with), the batch and
//      the KV capacity per sequence. Out: logits for every token fed, and greedy tokens.
//
// Computation (models/decoder.h has the architecture): embedding (llm_ops.h), per layer RMSNorm, the
// q/k/v products as three separate ops.h linear() calls on the HF tensors (the GPU stacks them: an
// independent check of the stacking), RoPE with the config's scaled frequencies (graph/decoder.h
// rope_inv_freq, rounded to fp32 as HF stores them), the new keys/values appended to a KV cache
// [batch, context, kv_heads, head_dim] per layer, grouped-query causal attention over the cache
// (llm_ops.h attention_gqa, per sequence, queries at their absolute positions), o product added to
// the residual, RMSNorm, SwiGLU MLP, final RMSNorm and lm_head (the embedding when tied).
//
// Storage emulation: with `storage` = f16 or bf16 every value a 16-bit GPU engine stores is rounded to
// that type where it is stored (residual stream, normed rows, q/k/v after RoPE, the KV cache, attention
// output, gate/up, SiLU·up, logits); arithmetic stays fp32/double. f32 stores exactly (the golden
// comparison against transformers in fp32).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/tensor_map.h"
#include "graph/decoder.h"

namespace vramfit::cpu {

class ReferenceDecoder {
 public:
  // InvalidInput when a weight is missing or misshapen, batch or context < 1.
  ReferenceDecoder(DecoderConfig c, const TensorMap& weights, std::int64_t batch, std::int64_t context,
                   DType storage = DType::f32);

  // Feeds n tokens per sequence (tokens [batch, n] row-major, ids in [0, vocab)) at positions
  // length() … length() + n − 1 and returns their logits [batch, n, vocab]. InvalidInput when the KV
  // capacity would be exceeded or an id is out of range.
  Tensor forward(std::span<const std::int32_t> tokens, std::int64_t n);
  std::int64_t length() const { return length_; }
  std::int64_t batch() const { return batch_; }
  const DecoderConfig& config() const { return c_; }

 private:
  const Tensor& w(const std::string& name) const;
  void store(std::span<float> v) const;

  DecoderConfig c_;
  TensorMap weights_;
  std::int64_t batch_, context_, length_ = 0;
  DType storage_;
  std::vector<float> inv_freq_;
  std::vector<std::vector<float>> k_cache_, v_cache_;  // per layer [batch, context, kv_heads, d]
};

// Argmax of the last position of logits [batch, n, vocab] (llm_ops.h argmax_rows: lowest index on ties).
std::vector<std::int32_t> greedy_next(const Tensor& logits);

struct GreedyRun {
  std::vector<std::int32_t> generated;  // [batch, steps]
  Tensor logits;                        // [batch, prompt + steps, vocab]: prompt positions, then each step
};
// Prefill `prompt` [batch, P], then `steps` decode steps each feeding the previous argmax. With
// `forced` ([batch, steps], optional) the decode steps feed those tokens instead (teacher forcing, so
// two engines can be compared position by position even where a near-tie flips an argmax).
GreedyRun greedy_generate(ReferenceDecoder& d, std::span<const std::int32_t> prompt, std::int64_t prompt_len,
                          std::int64_t steps, std::span<const std::int32_t> forced = {});

}  // namespace vramfit::cpu
