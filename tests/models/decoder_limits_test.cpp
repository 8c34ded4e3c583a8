// Decoder configs at the edge: extents beyond the sane limits (core/checked.h), non-finite numbers and
// sizes that would not fit in 64 bits are InvalidInput naming the file and field, never a wrapped
// plan. Plans of the largest accepted extents stay exact.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "core/checked.h"
#include "core/error.h"
#include "models/decoder.h"
#include "models/decoder_plan.h"

namespace vramfit {
namespace {

using nlohmann::json;

json llama() {
  return json{{"model_type", "llama"}, {"hidden_size", 4096}, {"intermediate_size", 11008}, {"num_hidden_layers", 32},
              {"num_attention_heads", 32}, {"num_key_value_heads", 32}, {"vocab_size", 32000},
              {"max_position_embeddings", 4096}, {"rms_norm_eps", 1e-5}};
}

std::string error_of(const json& j) {
  try {
    parse_decoder_config(j, "c.json");
  } catch (const InvalidInput& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted " << j.dump();
  return {};
}

TEST(DecoderLimits, HugeExtentsNameFileAndField) {
  const std::pair<const char*, std::int64_t> cases[] = {
      {"num_hidden_layers", 1ll << 40}, {"hidden_size", 1ll << 62},  {"intermediate_size", 1ll << 40},
      {"vocab_size", 1ll << 40},        {"max_position_embeddings", 1ll << 40}, {"num_key_value_heads", 1ll << 40},
      {"head_dim", 1ll << 40}};
  for (const auto& [field, v] : cases) {
    json j = llama();
    j[field] = v;
    const std::string m = error_of(j);
    EXPECT_NE(m.find("c.json"), std::string::npos) << m;
    EXPECT_NE(m.find(field), std::string::npos) << field << ": " << m;
  }
}

TEST(DecoderLimits, NonFiniteAndNonIntegerFieldsAreRefused) {
  json j = llama();
  j["vocab_size"] = 3.5;
  EXPECT_NE(error_of(j).find("vocab_size"), std::string::npos);
  j = llama();
  j["rms_norm_eps"] = "nan";
  EXPECT_NE(error_of(j).find("rms_norm_eps"), std::string::npos);
  j = llama();
  j["rms_norm_eps"] = 1e300;  // finite as a double, inf as the float the engine uses
  EXPECT_NE(error_of(j).find("rms_norm_eps"), std::string::npos);
  j = llama();
  j["num_attention_heads"] = 0;
  EXPECT_NE(error_of(j).find("num_attention_heads"), std::string::npos);
  j = llama();
  j["num_attention_heads"] = 3;  // does not divide 4096
  EXPECT_NE(error_of(j).find("num_attention_heads"), std::string::npos);
  j = llama();
  j["num_key_value_heads"] = 5;  // does not divide 32
  EXPECT_NE(error_of(j).find("num_key_value_heads"), std::string::npos);
  j = llama();
  j["hidden_size"] = -4096;
  EXPECT_NE(error_of(j).find("hidden_size"), std::string::npos);
}

TEST(DecoderLimits, ThePlanOfAHugeContextAndBatchNeverWraps) {
  const DecoderConfig c = decoder_preset("llama-7b");
  // Batch and context beyond the limits: refused by name.
  EXPECT_THROW(plan_llm_memory(c, Precision::fp16, 512, limits::kMaxBatch + 1), InvalidInput);
  EXPECT_THROW(plan_llm_memory(c, Precision::fp16, limits::kMaxContext + 1, 1), InvalidInput);
  // Within the limits but the KV cache (512 KiB per token) of 2^31 × 2^31 tokens exceeds 64 bits.
  DecoderConfig big = c;
  big.max_position_embeddings = limits::kMaxContext;
  try {
    plan_llm_memory(big, Precision::fp16, limits::kMaxContext, limits::kMaxBatch);
    ADD_FAILURE() << "a KV cache of 2^62 tokens was planned";
  } catch (const SizeOverflow& e) {
    EXPECT_NE(std::string(e.what()).find("KV cache"), std::string::npos) << e.what();
  }
  // The largest batch that fits a real card is still found (the search treats overflow as "no").
  const std::uint64_t kv = llm_kv_bytes_per_token(c);
  EXPECT_EQ(kv, 2ull * 32 * 4096 * 2);
  const LlmMemoryPlan p = plan_llm_memory(c, Precision::fp16, 4096, 8);
  EXPECT_EQ(p.kv_bytes, kv * 4096 * 8);
}

}  // namespace
}  // namespace vramfit
