// The CPU reference decoder (decoder.h).
#include "backend/cpu/decoder.h"

#include <algorithm>
#include <fmt/format.h>

#include "backend/cpu/llm_ops.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/half.h"

namespace vramfit::cpu {

namespace {
std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }
}  // namespace

ReferenceDecoder::ReferenceDecoder(DecoderConfig c, const TensorMap& weights, std::int64_t batch, std::int64_t context,
                                   DType storage)
    : c_(std::move(c)), batch_(batch), context_(context), storage_(storage) {
  c_.validate();
  if (batch < 1 || context < 1)
    throw InvalidInput(fmt::format("reference decoder: batch {} and context {} must be ≥ 1", batch, context));
  if (storage != DType::f32 && storage != DType::f16 && storage != DType::bf16)
    throw InvalidInput(fmt::format("reference decoder: storage {} is not f32, f16 or bf16", to_string(storage)));
  for (const auto& t : decoder_tensors(c_)) {
    const auto it = weights.find(t.name);
    if (it == weights.end()) throw InvalidInput(fmt::format("reference decoder '{}': no weight '{}'", c_.name, t.name));
    if (it->second.shape != t.shape)
      throw InvalidInput(fmt::format("reference decoder '{}': weight '{}' has shape {}, expected {}", c_.name, t.name,
                                     it->second.shape.to_string(), t.shape.to_string()));
    weights_.emplace(t.name, it->second);
  }
  for (double f : rope_inv_freq(c_)) inv_freq_.push_back(static_cast<float>(f));
  const auto per_layer = at(batch * context * c_.kv_dim());
  k_cache_.assign(at(c_.num_layers), std::vector<float>(per_layer, 0.0f));
  v_cache_.assign(at(c_.num_layers), std::vector<float>(per_layer, 0.0f));
}

const Tensor& ReferenceDecoder::w(const std::string& name) const {
  const auto it = weights_.find(name);
  VRAMFIT_CHECK(it != weights_.end(), "reference decoder weight " + name);
  return it->second;
}

void ReferenceDecoder::store(std::span<float> v) const {
  if (storage_ == DType::f16)
    for (float& x : v) x = round_to_half(x);
  else if (storage_ == DType::bf16)
    for (float& x : v) x = round_to_bf16(x);
}

Tensor ReferenceDecoder::forward(std::span<const std::int32_t> tokens, std::int64_t n) {
  const std::int64_t B = batch_, T = batch_ * n, H = c_.hidden_size, I = c_.intermediate_size, Q = c_.q_dim(),
                     KV = c_.kv_dim(), d = c_.head_dim, V = c_.vocab_size;
  if (n < 1 || static_cast<std::int64_t>(tokens.size()) != T)
    throw InvalidInput(fmt::format("reference decoder: {} token ids for batch {} × {} tokens", tokens.size(), B, n));
  if (length_ + n > context_)
    throw InvalidInput(fmt::format("reference decoder: {} + {} tokens exceed the KV capacity {}", length_, n, context_));
  const std::int64_t p0 = length_;
  std::vector<float> x(at(T * H)), h(at(T * H)), q(at(T * Q)), k(at(T * KV)), v(at(T * KV)), attn(at(T * Q)),
      gate(at(T * I)), up(at(T * I)), act(at(T * I)), sum(at(T * H));
  embedding(tokens.data(), T, w("model.embed_tokens.weight").ptr(), V, H, x.data());
  store(x);
  std::vector<std::int32_t> pos(at(T));
  for (std::int64_t t = 0; t < T; ++t) pos[at(t)] = static_cast<std::int32_t>(p0 + t % n);
  auto bias = [&](const std::string& name) -> const float* { return weights_.count(name) ? w(name).ptr() : nullptr; };

  for (std::int64_t l = 0; l < c_.num_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    rms_norm(x.data(), w(p + "input_layernorm.weight").ptr(), h.data(), T, H, c_.rms_norm_eps);
    store(h);
    linear(h.data(), w(p + "self_attn.q_proj.weight").ptr(), bias(p + "self_attn.q_proj.bias"), nullptr, q.data(),
           LinearShape{T, H, Q}, Activation::None);
    linear(h.data(), w(p + "self_attn.k_proj.weight").ptr(), bias(p + "self_attn.k_proj.bias"), nullptr, k.data(),
           LinearShape{T, H, KV}, Activation::None);
    linear(h.data(), w(p + "self_attn.v_proj.weight").ptr(), bias(p + "self_attn.v_proj.bias"), nullptr, v.data(),
           LinearShape{T, H, KV}, Activation::None);
    store(q), store(k), store(v);  // the GPU stores the product, then rotates in place
    rope(q.data(), T, c_.num_heads, d, Q, pos.data(), inv_freq_.data());
    rope(k.data(), T, c_.num_kv_heads, d, KV, pos.data(), inv_freq_.data());
    store(q), store(k);
    auto& kc = k_cache_[at(l)];
    auto& vc = v_cache_[at(l)];
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t src = (b * n + i) * KV, dst = (b * context_ + p0 + i) * KV;
        std::copy_n(k.data() + src, KV, kc.data() + dst);
        std::copy_n(v.data() + src, KV, vc.data() + dst);
      }
    for (std::int64_t b = 0; b < B; ++b) {
      GqaShape s;
      s.batch = 1, s.q_len = n, s.kv_len = p0 + n, s.heads = c_.num_heads, s.kv_heads = c_.num_kv_heads, s.head_dim = d;
      s.q_offset = p0;
      s.causal = true;
      attention_gqa(q.data() + b * n * Q, kc.data() + b * context_ * KV, vc.data() + b * context_ * KV,
                    attn.data() + b * n * Q, s);
    }
    store(attn);
    // x += attn·W_oᵀ (+ b_o): the residual is fused into the product as on the GPU.
    linear(attn.data(), w(p + "self_attn.o_proj.weight").ptr(), bias(p + "self_attn.o_proj.bias"), x.data(), sum.data(),
           LinearShape{T, Q, H}, Activation::None);
    x.swap(sum);  // linear() must not write over its residual
    store(x);
    rms_norm(x.data(), w(p + "post_attention_layernorm.weight").ptr(), h.data(), T, H, c_.rms_norm_eps);
    store(h);
    linear(h.data(), w(p + "mlp.gate_proj.weight").ptr(), nullptr, nullptr, gate.data(), LinearShape{T, H, I}, Activation::None);
    linear(h.data(), w(p + "mlp.up_proj.weight").ptr(), nullptr, nullptr, up.data(), LinearShape{T, H, I}, Activation::None);
    store(gate), store(up);
    silu_mul(gate.data(), I, up.data(), I, act.data(), T, I);
    store(act);
    linear(act.data(), w(p + "mlp.down_proj.weight").ptr(), nullptr, x.data(), sum.data(), LinearShape{T, I, H}, Activation::None);
    x.swap(sum);
    store(x);
  }
  rms_norm(x.data(), w("model.norm.weight").ptr(), h.data(), T, H, c_.rms_norm_eps);
  store(h);
  Tensor logits(Shape{B, n, V});
  const Tensor& head = c_.tie_word_embeddings ? w("model.embed_tokens.weight") : w("lm_head.weight");
  linear(h.data(), head.ptr(), nullptr, nullptr, logits.ptr(), LinearShape{T, H, V}, Activation::None);
  store(logits.span());
  length_ += n;
  return logits;
}

std::vector<std::int32_t> greedy_next(const Tensor& logits) {
  VRAMFIT_CHECK(logits.shape.rank() == 3, "logits [batch, n, vocab]");
  const std::int64_t B = logits.shape[0], n = logits.shape[1], V = logits.shape[2];
  std::vector<std::int32_t> out(at(B));
  argmax_rows(logits.ptr() + (n - 1) * V, B, V, n * V, out.data());
  return out;
}

GreedyRun greedy_generate(ReferenceDecoder& d, std::span<const std::int32_t> prompt, std::int64_t prompt_len,
                          std::int64_t steps, std::span<const std::int32_t> forced) {
  const std::int64_t B = d.batch(), V = d.config().vocab_size, total = prompt_len + steps;
  if (!forced.empty() && static_cast<std::int64_t>(forced.size()) != B * steps)
    throw InvalidInput(fmt::format("greedy_generate: {} forced tokens for batch {} × {} steps", forced.size(), B, steps));
  GreedyRun r;
  r.logits = Tensor(Shape{B, total, V});
  r.generated.assign(at(B * steps), 0);
  auto keep = [&](const Tensor& lg, std::int64_t first) {
    const std::int64_t n = lg.shape[1];
    for (std::int64_t b = 0; b < B; ++b)
      std::copy_n(lg.ptr() + b * n * V, n * V, r.logits.ptr() + (b * total + first) * V);
  };
  Tensor lg = d.forward(prompt, prompt_len);
  keep(lg, 0);
  for (std::int64_t s = 0; s < steps; ++s) {
    std::vector<std::int32_t> next = greedy_next(lg);
    for (std::int64_t b = 0; b < B; ++b) {
      r.generated[at(b * steps + s)] = next[at(b)];
      if (!forced.empty()) next[at(b)] = forced[at(b * steps + s)];
    }
    lg = d.forward(next, 1);
    keep(lg, prompt_len + s);
  }
  return r;
}

}  // namespace vramfit::cpu
