// Decoder LLM configs: presets against their published parameter counts, the config.json parser
// (both rope formats, defaults, errors naming the field), RoPE scaling against transformers' formulas,
// and the memory plan's exact byte counts and invariants.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>

#include "core/bytes.h"
#include "core/error.h"
#include "models/decoder.h"
#include "models/decoder_plan.h"
#include "models/registry.h"
#include "weights/quant_int.h"

namespace vramfit {
namespace {

using nlohmann::json;

TEST(DecoderPresets, ParameterCountsMatchThePublishedModels) {
  // torch's sum(p.numel() for p in model.parameters()) for each Hugging Face checkpoint.
  const std::pair<const char*, std::uint64_t> cases[] = {
      {"llama-7b", 6'738'415'616ull},   {"llama-13b", 13'015'864'320ull}, {"llama3-8b", 8'030'261'248ull},
      {"mistral-7b", 7'248'023'552ull}, {"qwen2.5-0.5b", 494'032'768ull},  {"qwen2.5-7b", 7'615'616'512ull},
      {"tinyllama-1.1b", 1'100'048'384ull}, {"llama-70b", 68'976'648'192ull}};
  for (const auto& [id, params] : cases) {
    const DecoderConfig c = find_model(id).decoder();
    EXPECT_EQ(decoder_parameter_count(c), params) << id;
    EXPECT_EQ(find_model(id).family, ModelFamily::DecoderLLM) << id;
  }
  EXPECT_EQ(find_model("llama7b").id, "llama-7b");
  EXPECT_EQ(find_model("LLAMA-2-7B").id, "llama-7b");
  EXPECT_EQ(decoder_preset_ids().size(), 8u);
}

TEST(DecoderPresets, ShapesOfTheFamilies) {
  const DecoderConfig q = decoder_preset("qwen2.5-0.5b");
  EXPECT_TRUE(q.attention_bias);
  EXPECT_FALSE(q.o_proj_bias);
  EXPECT_TRUE(q.tie_word_embeddings);
  EXPECT_EQ(q.head_dim, 64);
  EXPECT_EQ(q.num_kv_heads, 2);
  EXPECT_FLOAT_EQ(q.rms_norm_eps, 1e-6f);
  const DecoderConfig l3 = decoder_preset("llama3-8b");
  EXPECT_EQ(l3.rope_theta, 500000.0);
  EXPECT_EQ(l3.kv_dim(), 1024);
  const DecoderConfig m = decoder_preset("mistral-7b");
  EXPECT_TRUE(m.notes.empty()) << "v0.3 has no sliding window";
  // KV bytes per token (fp16): 2 · layers · kv_heads · head_dim · 2.
  EXPECT_EQ(llm_kv_bytes_per_token(decoder_preset("llama-7b")), 2u * 32 * 32 * 128 * 2);  // 512 KiB
  EXPECT_EQ(llm_kv_bytes_per_token(l3), 2u * 32 * 8 * 128 * 2);                            // 128 KiB
  // Tensor names follow the Hugging Face checkpoints.
  const auto t = decoder_tensors(q);
  EXPECT_EQ(t.front().name, "model.embed_tokens.weight");
  EXPECT_EQ(t[3].name, "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(t.back().name, "model.norm.weight");  // tied: no lm_head
  EXPECT_EQ(decoder_tensors(decoder_preset("llama-7b")).back().name, "lm_head.weight");
  EXPECT_THROW(decoder_preset("llama-8b"), InvalidInput);
}

json tiny_json() {
  return json::parse(R"({"model_type":"llama","hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
    "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":256,"max_position_embeddings":64,
    "rms_norm_eps":1e-6,"rope_theta":10000.0})");
}

TEST(DecoderConfigParse, DefaultsAndDerivedFields) {
  json j = tiny_json();
  j.erase("num_key_value_heads");
  j.erase("rms_norm_eps");
  j.erase("rope_theta");
  const DecoderConfig c = parse_decoder_config(j, "t.json");
  EXPECT_EQ(c.num_kv_heads, 4);  // MHA when absent
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_FLOAT_EQ(c.rms_norm_eps, 1e-6f);
  EXPECT_FALSE(c.tie_word_embeddings);
  j["head_dim"] = 32;  // explicit head_dim wins (q_dim ≠ hidden)
  EXPECT_EQ(parse_decoder_config(j, "t.json").q_dim(), 128);
  j["model_type"] = "qwen2";
  EXPECT_TRUE(parse_decoder_config(j, "t.json").attention_bias);
  j = tiny_json();
  j["model_type"] = "mistral";
  j["sliding_window"] = 16;
  EXPECT_EQ(parse_decoder_config(j, "t.json").notes.size(), 1u);
}

TEST(DecoderConfigParse, ErrorsNameTheFieldAndTheFile) {
  auto expect_error = [](json j, const std::string& needle, bool unsupported = false) {
    try {
      parse_decoder_config(j, "cfg.json");
      ADD_FAILURE() << "accepted: " << j.dump();
    } catch (const Unsupported& e) {
      EXPECT_TRUE(unsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    } catch (const InvalidInput& e) {
      EXPECT_FALSE(unsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << needle << " in " << e.what();
      EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
    }
  };
  json j = tiny_json();
  j["num_attention_heads"] = -1;
  expect_error(j, "num_attention_heads");
  j = tiny_json();
  j.erase("vocab_size");
  expect_error(j, "missing field 'vocab_size'");
  j = tiny_json();
  j["num_key_value_heads"] = 3;
  expect_error(j, "does not divide");
  j = tiny_json();
  j["hidden_size"] = "64";
  expect_error(j, "hidden_size");
  j = tiny_json();
  j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
  expect_error(j, "yarn", true);
  j = tiny_json();
  j["model_type"] = "gpt2";
  expect_error(j, "gpt2", true);
  j = tiny_json();
  j["hidden_act"] = "gelu";
  expect_error(j, "gelu", true);
  j = tiny_json();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  expect_error(j, "original_max_position_embeddings");
  EXPECT_THROW(parse_decoder_config(json::array(), "x"), InvalidInput);
}

TEST(DecoderConfigParse, LoadsAFileOrAFolder) {
  const auto dir = std::filesystem::temp_directory_path() / "vramfit_decoder_cfg_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << tiny_json().dump();
  EXPECT_EQ(load_decoder_config(dir.string()).hidden_size, 64);
  EXPECT_EQ(load_decoder_config((dir / "config.json").string()).num_layers, 2);
  std::ofstream(dir / "bad.json") << "{\"hidden_size\": 64,";
  EXPECT_THROW(load_decoder_config((dir / "bad.json").string()), InvalidInput);
  EXPECT_THROW(load_decoder_config((dir / "absent.json").string()), InvalidInput);
  std::filesystem::remove_all(dir);
}

TEST(DecoderRope, DefaultLinearAndLlama3Frequencies) {
  json j = tiny_json();
  const DecoderConfig c = parse_decoder_config(j, "t");
  const auto f = rope_inv_freq(c);
  ASSERT_EQ(f.size(), 8u);
  for (std::size_t i = 0; i < f.size(); ++i) EXPECT_DOUBLE_EQ(f[i], std::pow(10000.0, -2.0 * double(i) / 16.0));
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  const auto lin = rope_inv_freq(parse_decoder_config(j, "t"));
  for (std::size_t i = 0; i < f.size(); ++i) EXPECT_DOUBLE_EQ(lin[i], f[i] / 2.0);
  // llama3 (Llama 3.1's values): wavelengths above 8192/1 divided by 8, below 8192/4 kept, between
  // interpolated; transformers ≥ 4.56 writes the same under rope_parameters.
  j = tiny_json();
  j["head_dim"] = 128;
  j["rope_theta"] = 500000.0;
  j["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  const DecoderConfig l3 = parse_decoder_config(j, "t");
  EXPECT_EQ(l3.rope_scaling.type, RopeScalingType::Llama3);
  const auto g = rope_inv_freq(l3);
  int kept = 0, divided = 0, mixed = 0;
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double base = std::pow(500000.0, -2.0 * double(i) / 128.0), wl = 2 * std::numbers::pi / base;
    if (wl < 2048) {
      EXPECT_DOUBLE_EQ(g[i], base);
      ++kept;
    } else if (wl > 8192) {
      EXPECT_DOUBLE_EQ(g[i], base / 8);
      ++divided;
    } else {
      const double s = (8192 / wl - 1) / 3;
      EXPECT_NEAR(g[i], (1 - s) * base / 8 + s * base, 1e-15);
      ++mixed;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(divided, 0);
  EXPECT_GT(mixed, 0);
}

TEST(DecoderPlan, WeightBytesPerPrecisionAreTheFormatsBytes) {
  const DecoderConfig c = decoder_preset("llama-7b");
  std::uint64_t fp16 = 0, int8 = 0, int4 = 0, bf16 = 0;
  plan_llm_weights(c, Precision::fp16, &fp16);
  plan_llm_weights(c, Precision::bf16, &bf16);
  plan_llm_weights(c, Precision::int8, &int8);
  plan_llm_weights(c, Precision::int4, &int4);
  // Every tensor of llama-7b is a multiple of 256 bytes, so the aligned sum is the exact sum — plus
  // the 64-float RoPE table (256 bytes).
  EXPECT_EQ(fp16, 2ull * 6'738'415'616ull + 256);
  EXPECT_EQ(bf16, fp16);
  const std::uint64_t proj = 32ull * (4 * 4096 * 4096 + 3 * 4096 * 11008);  // quantized elements
  const std::uint64_t rest = 6'738'415'616ull - proj;                       // embedding, norms, lm_head
  EXPECT_EQ(int8, proj + 2 * 32ull * (3 * 4096 + 4096 + 2 * 11008 + 4096) + 2 * rest + 256);
  EXPECT_EQ(int4, proj / 2 + 2 * proj / 128 + 2 * rest + 256);
  // What people expect: ~12.6 GiB, ~6.5 GiB, ~3.6 GiB.
  EXPECT_NEAR(to_gib(fp16), 12.55, 0.01);
  EXPECT_NEAR(to_gib(int8), 6.52, 0.01);
  EXPECT_NEAR(to_gib(int4), 3.6, 0.1);
  const auto w = plan_llm_weights(c, Precision::int4);
  const auto& qkv = w.at(2);
  EXPECT_EQ(qkv.name, "layers.0.qkv");
  EXPECT_EQ(qkv.sources.size(), 3u);
  EXPECT_EQ(qkv.dtype, DType::i4);
  EXPECT_EQ(qkv.data_bytes + qkv.scale_bytes, int4_weight_bytes(3 * 4096, 4096));
  for (const auto& t : w) {
    EXPECT_EQ(t.data_offset % 256, 0u) << t.name;
    EXPECT_EQ(t.scale_offset % 256, 0u) << t.name;
  }
  EXPECT_EQ(w.front().dtype, DType::f16);  // embedding stays 16-bit
}

TEST(DecoderPlan, UnsupportedPrecisionsSayWhy) {
  EXPECT_TRUE(llm_unsupported_reason(decoder_preset("llama-7b"), Precision::fp32).has_value());
  EXPECT_TRUE(llm_unsupported_reason(decoder_preset("llama-7b"), Precision::fp8).has_value());
  EXPECT_FALSE(llm_unsupported_reason(decoder_preset("llama-7b"), Precision::q4_k_m).has_value());  // GGUF blocks
  const DecoderConfig tiny = parse_decoder_config(tiny_json(), "tiny");
  const auto why = llm_unsupported_reason(tiny, Precision::int4);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("multiple of 128"), std::string::npos) << *why;
  EXPECT_FALSE(llm_unsupported_reason(tiny, Precision::int8).has_value());
  EXPECT_THROW(plan_llm_memory(tiny, Precision::int4, 16, 1), Unsupported);
  EXPECT_THROW(plan_llm_memory(tiny, Precision::fp16, 0, 1), InvalidInput);
  EXPECT_THROW(plan_llm_memory(tiny, Precision::fp16, 16, 0), InvalidInput);
}

TEST(DecoderPlan, RegionsKvAndActivationsAreExactAndLinearInBatch) {
  const DecoderConfig c = decoder_preset("llama-7b");
  for (Precision p : {Precision::fp16, Precision::int8, Precision::int4}) {
    const LlmMemoryPlan a = plan_llm_memory(c, p, 4096, 1), b = plan_llm_memory(c, p, 4096, 3);
    EXPECT_EQ(a.kv_bytes, 4096ull * 512 * 1024);  // 2 GiB at context 4096
    EXPECT_EQ(b.kv_bytes, 3 * a.kv_bytes);
    EXPECT_EQ(b.prefill.arena_bytes, 3 * a.prefill.arena_bytes);
    EXPECT_EQ(b.decode.arena_bytes, 3 * a.decode.arena_bytes);
    EXPECT_EQ(a.activation_bytes, std::max(a.prefill.arena_bytes, a.decode.arena_bytes));
    EXPECT_GE(a.prefill.arena_bytes, a.prefill.lower_bound_bytes);
    EXPECT_EQ(a.total_bytes(), a.weights_bytes + a.kv_bytes + a.activation_bytes + a.scratch_bytes + 256);
    // Prefill of 512 tokens: at least x, gate_up and act live together (the MLP's peak).
    EXPECT_GE(a.prefill.arena_bytes, 512ull * 2 * (4096 + 3 * 11008));
    EXPECT_EQ(a.prefill.tokens_per_sequence, 512);
    // Buffers that live at the same time never overlap.
    for (const LlmPassPlan* pass : {&b.prefill, &b.decode})
      for (std::size_t i = 0; i < pass->buffers.size(); ++i)
        for (std::size_t j = i + 1; j < pass->buffers.size(); ++j) {
          const auto &x = pass->buffers[i], &y = pass->buffers[j];
          if (x.range.bytes == 0 || y.range.bytes == 0) continue;
          const bool live_together = x.range.first <= y.range.last && y.range.first <= x.range.last;
          const bool apart = x.offset + x.range.bytes <= y.offset || y.offset + y.range.bytes <= x.offset;
          EXPECT_TRUE(!live_together || apart) << x.name << " and " << y.name;
          EXPECT_LE(std::max(x.offset + x.range.bytes, y.offset + y.range.bytes), pass->arena_bytes);
        }
  }
  // int8/int4 prefill needs the dequantised tile: more scratch than the 16-bit workspace alone.
  EXPECT_EQ(plan_llm_memory(c, Precision::fp16, 512, 1).scratch_bytes, kDefaultLlmWorkspaceBytes);
  EXPECT_GT(plan_llm_memory(c, Precision::int4, 512, 1).scratch_bytes, kDefaultLlmWorkspaceBytes);
  // A short context prefills at most the context.
  EXPECT_EQ(plan_llm_memory(c, Precision::fp16, 100, 1).prefill.tokens_per_sequence, 100);
}

TEST(DecoderPlan, DequantTilesAndAttentionSplits) {
  EXPECT_EQ(dequant_tile_rows(4096, 4096), 4096);        // 32 MiB exactly: whole matrix
  EXPECT_EQ(dequant_tile_rows(22016, 4096), 4096);       // gate_up: tiles of 4096 rows
  EXPECT_EQ(dequant_tile_rows(4096, 11008), 1408);       // down: 32 MiB / 22016 B = 1524 → 1408
  EXPECT_EQ(dequant_tile_rows(100, 1 << 20), 100);       // never more than n
  EXPECT_EQ(dequant_gemm_scratch_bytes(512, 4096, 4096, 4096, 0), 32ull << 20);
  EXPECT_EQ(dequant_gemm_scratch_bytes(512, 22016, 4096, 4096, 256), (32ull << 20) + 512 * 4096 * 2 + 256);
  EXPECT_EQ(decode_attention_splits_bound(1), 1);
  EXPECT_EQ(decode_attention_splits_bound(4096), 64);
  const DecoderConfig c = decoder_preset("llama-7b");
  EXPECT_EQ(decode_attention_scratch_bytes(c, 2, 64), 2ull * 32 * 64 * 130 * 4);
  EXPECT_EQ(decode_attention_scratch_bytes(c, 2, 1), 0u);
}

}  // namespace
}  // namespace vramfit
