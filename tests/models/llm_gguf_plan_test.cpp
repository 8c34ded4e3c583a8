// The GGUF precisions (q8_0, q4_0, q4_k_m) of the LLM plan: llama.cpp's recipe per tensor, segments of
// mixed block types in the stacked matrices, sizes against the GGUF size report (Llama-2-7B Q4_K_M ≈
// 3.80 GiB, 4.84 bits per weight), a --gguf file's own types, and the file → config mapping.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "core/half.h"
#include "models/decoder.h"
#include "models/decoder_plan.h"
#include "models/decoder_weights.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"

namespace vramfit {
namespace {

const LlmWeight& W(const std::vector<LlmWeight>& ws, const std::string& name) {
  for (const auto& w : ws)
    if (w.name == name) return w;
  throw std::runtime_error("no weight " + name);
}

std::vector<DType> types(const LlmWeight& w) {
  std::vector<DType> t;
  for (const auto& s : w.segments) t.push_back(s.dtype);
  return t;
}

TEST(LlmGgufPlan, Q4KMFollowsLlamaCppsRecipe) {
  const DecoderConfig c = decoder_preset("llama-7b");
  const auto ws = plan_llm_weights(c, Precision::q4_k_m);
  // use_more_bits(i, 32): layers 0-3, 6, 9, …, 27 and 28-31 get Q6_K in attn_v and ffn_down. Runs of
  // one type are one segment (q|k here), so a product is one GEMV launch per run.
  EXPECT_EQ(types(W(ws, "layers.0.qkv")), (std::vector<DType>{DType::q4_k, DType::q6_k}));
  EXPECT_EQ(types(W(ws, "layers.4.qkv")), (std::vector<DType>{DType::q4_k}));
  EXPECT_EQ(types(W(ws, "layers.6.down")), (std::vector<DType>{DType::q6_k}));
  EXPECT_EQ(types(W(ws, "layers.7.down")), (std::vector<DType>{DType::q4_k}));
  EXPECT_EQ(types(W(ws, "layers.31.gate_up")), (std::vector<DType>{DType::q4_k}));
  EXPECT_EQ(types(W(ws, "embedding")), (std::vector<DType>{DType::q4_k}));
  EXPECT_EQ(types(W(ws, "lm_head")), (std::vector<DType>{DType::q6_k}));
  EXPECT_FALSE(W(ws, "layers.0.attn_norm").gguf());
  EXPECT_EQ(W(ws, "layers.0.attn_norm").dtype, DType::f16);
  // Segments: rows in order, 256-aligned offsets, bytes = rows · row bytes of the type.
  const LlmWeight& qkv = W(ws, "layers.0.qkv");
  ASSERT_EQ(qkv.segments.size(), 2u);
  EXPECT_EQ(qkv.segments[0].rows, 8192);
  EXPECT_EQ(qkv.segments[1].row0, 8192);
  EXPECT_EQ(qkv.segments[1].bytes, 4096u * 16u * 210u);
  for (const auto& s : qkv.segments) EXPECT_EQ(s.offset % 256, 0u);
  EXPECT_EQ(qkv.data_bytes, 2u * 4096u * 16u * 144u + 4096u * 16u * 210u);
  // Where each source lives: k right after q inside the Q4_K run, v at the start of the Q6_K run.
  EXPECT_EQ(qkv.place(1).offset, 4096u * 16u * 144u);
  EXPECT_EQ(qkv.place(1).dtype, DType::q4_k);
  EXPECT_EQ(qkv.place(2).offset, qkv.segments[1].offset);
  EXPECT_EQ(qkv.place(2).bytes, 4096u * 16u * 210u);
}

TEST(LlmGgufPlan, SizesMatchTheGgufSizeReport) {
  // Our arena holds the same blocks as llama.cpp's file; the differences are the norms (fp16 here, F32
  // there: 0.26 MiB for 7B), 256-byte alignment and the RoPE table — well under 0.1 %.
  const DecoderConfig c = decoder_preset("llama-7b");
  GgufLlamaConfig g;
  g.block_count = c.num_layers;
  g.embedding_length = c.hidden_size;
  g.feed_forward_length = c.intermediate_size;
  g.head_count = c.num_heads;
  g.head_count_kv = c.num_kv_heads;
  g.head_dim = c.head_dim;
  g.vocab_size = c.vocab_size;
  const std::pair<Precision, GgufRecipe> cases[] = {
      {Precision::q8_0, GgufRecipe::Q8_0}, {Precision::q4_0, GgufRecipe::Q4_0}, {Precision::q4_k_m, GgufRecipe::Q4_K_M}};
  for (const auto& [p, r] : cases) {
    std::uint64_t ours = 0;
    plan_llm_weights(c, p, &ours);
    const GgufSizeReport ref = gguf_model_size(gguf_llama_tensor_shapes(g), r, c.num_layers);
    EXPECT_NEAR(static_cast<double>(ours) / static_cast<double>(ref.bytes), 1.0, 1e-3) << to_string(p);
  }
  std::uint64_t q4km = 0;
  plan_llm_weights(c, Precision::q4_k_m, &q4km);
  EXPECT_NEAR(static_cast<double>(q4km) / (1024.0 * 1024.0 * 1024.0), 3.80, 0.01);
  EXPECT_NEAR(8.0 * static_cast<double>(q4km) / static_cast<double>(decoder_parameter_count(c)), 4.84, 0.01);
}

TEST(LlmGgufPlan, RowsNotAMultipleOf256FallBackToQ8_0) {
  // Qwen2.5-0.5B: hidden 896 = 3.5 · 256, so Q4_K cannot hold rows along it (llama.cpp: Q8_0/Q5_0
  // fallback; ours Q8_0); intermediate 4864 = 19 · 256 holds Q4_K.
  const DecoderConfig c = decoder_preset("qwen2.5-0.5b");
  EXPECT_FALSE(llm_unsupported_reason(c, Precision::q4_k_m));
  const auto ws = plan_llm_weights(c, Precision::q4_k_m);
  EXPECT_EQ(types(W(ws, "layers.5.qkv")), (std::vector<DType>{DType::q8_0}));
  EXPECT_EQ(W(ws, "layers.4.down").segments.front().dtype, DType::q4_k);  // use_more_bits(4, 24) is false
  EXPECT_EQ(W(ws, "layers.5.down").segments.front().dtype, DType::q6_k);  // (5 − 3) % 3 == 2
  EXPECT_FALSE(W(ws, "layers.5.qkv_bias").gguf());
}

TEST(LlmGgufPlan, UnsupportedWidthsSayWhy) {
  DecoderConfig c = decoder_preset("tinyllama-1.1b");
  c.intermediate_size = 5640;  // not a multiple of 32
  const auto why = llm_unsupported_reason(c, Precision::q8_0);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("intermediate_size"), std::string::npos) << *why;
  EXPECT_THROW(plan_llm_memory(c, Precision::q8_0, 512, 1), Unsupported);
}

TEST(LlmGgufPlan, FileTypesOverrideTheRecipe) {
  const DecoderConfig c = decoder_preset("tinyllama-1.1b");
  LlmPlanOptions o;
  o.source_types["model.layers.0.self_attn.k_proj.weight"] = DType::q8_0;
  o.source_types["lm_head.weight"] = DType::f16;
  const auto ws = plan_llm_weights(c, Precision::q4_k_m, nullptr, o);
  EXPECT_EQ(types(W(ws, "layers.0.qkv")), (std::vector<DType>{DType::q4_k, DType::q8_0, DType::q6_k}));
  EXPECT_EQ(W(ws, "layers.0.qkv").place(1).dtype, DType::q8_0);
  EXPECT_FALSE(W(ws, "lm_head").gguf());  // F16 in the file: a plain fp16 matrix
  EXPECT_EQ(W(ws, "lm_head").dtype, DType::f16);
  o.source_types["model.layers.0.self_attn.k_proj.weight"] = DType::f16;  // fp16 inside a block-typed stack
  EXPECT_THROW(plan_llm_weights(c, Precision::q4_k_m, nullptr, o), Unsupported);
}

TEST(LlmGgufPlan, ScratchCoversTheDequantisingProducts) {
  const DecoderConfig c = decoder_preset("llama-7b");
  const LlmMemoryPlan p1 = plan_llm_memory(c, Precision::q4_k_m, 512, 1);
  const LlmMemoryPlan p16 = plan_llm_memory(c, Precision::q4_k_m, 512, 16);
  EXPECT_GT(p1.dequant_tile_rows_max, 0);
  EXPECT_GE(p16.scratch_bytes, p1.scratch_bytes);
  EXPECT_EQ(p1.act_dtype, DType::f16);
  EXPECT_EQ(p1.weight_dtype, DType::q4_k);
}

TEST(LlmGgufFile, GoldenFilesMapOntoTheDecoder) {
  // tests/golden/llama_tiny_*.gguf: written by the Python gguf package (tools/make_gguf_llama.py).
  const std::pair<const char*, Precision> files[] = {
      {"llama_tiny_q8_0.gguf", Precision::q8_0}, {"llama_tiny_q4_0.gguf", Precision::q4_0},
      {"llama_tiny_q4_k_m.gguf", Precision::q4_k_m}};
  for (const auto& [name, p] : files) {
    const GgufFile f = GgufFile::open(std::string(VRAMFIT_SOURCE_DIR) + "/tests/golden/" + name);
    const GgufLlamaModel m = gguf_llama_model(f);
    const DecoderConfig c = decoder_config_from_gguf(m, "tiny");
    EXPECT_EQ(c.num_layers, 2);
    EXPECT_EQ(c.hidden_size, 256);
    EXPECT_EQ(c.num_kv_heads, 2);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_EQ(c.vocab_size, 256);
    EXPECT_FALSE(c.tie_word_embeddings);
    EXPECT_EQ(gguf_file_precision(m), p) << name;
    LlmPlanOptions o;
    o.source_types = gguf_source_types(m);
    const LlmMemoryPlan plan = plan_llm_memory(c, p, 128, 1, o);
    // Every block-typed tensor of the file has a segment of its type and byte count in the plan.
    std::size_t matched = 0;
    for (const LlmWeight& w : plan.weights) {
      if (!w.gguf()) continue;
      for (std::size_t i = 0; i < w.sources.size(); ++i) {
        const GgufModelTensor* t = m.find(w.sources[i]);
        ASSERT_NE(t, nullptr) << w.sources[i];
        EXPECT_EQ(to_dtype(t->type), w.place(i).dtype) << w.sources[i];
        EXPECT_EQ(t->bytes.size(), w.place(i).bytes) << w.sources[i];
        ++matched;
      }
    }
    EXPECT_EQ(matched, 2u * 7u + 2u) << name;  // 7 projections per layer, embedding, lm_head
    // The CPU reference's weights: every decoder tensor, dequantized, in HF shapes.
    const TensorMap hf = gguf_decoder_weights(m);
    for (const auto& t : decoder_tensors(c)) {
      ASSERT_TRUE(hf.count(t.name)) << t.name;
      EXPECT_EQ(hf.at(t.name).shape, t.shape) << t.name;
    }
  }
}

TEST(LlmGgufFile, CpuReferenceWeightsAtAGgufPrecision) {
  // decoder_weights_at(q4_k_m) quantizes what the recipe quantizes and rounds the rest to fp16.
  DecoderConfig c = decoder_preset("tinyllama-1.1b");
  c.num_layers = 1;
  c.hidden_size = 256;
  c.intermediate_size = 512;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 64;
  c.vocab_size = 64;
  const TensorMap w = random_decoder_weights(c, 7);
  const TensorMap q = decoder_weights_at(c, w, Precision::q4_k_m);
  const auto& a = w.at("model.layers.0.mlp.down_proj.weight").data;
  const auto& b = q.at("model.layers.0.mlp.down_proj.weight").data;
  double err = 0, ref = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    err += (a[i] - b[i]) * (a[i] - b[i]);
    ref += a[i] * a[i];
  }
  EXPECT_GT(err, 0.0);                       // really quantized (Q6_K here: layer 0 of 1)
  EXPECT_LT(std::sqrt(err / ref), 0.02);     // 6 bits
  EXPECT_EQ(q.at("model.norm.weight").data[0], round_to_half(w.at("model.norm.weight").data[0]));
}

}  // namespace
}  // namespace vramfit
