// LLM fit under a budget: the searches agree with the plan at their boundaries (the answer fits, one
// step up does not), the reasons name what does not fit, and the examples come out right.
#include <gtest/gtest.h>

#include "core/bytes.h"
#include "core/error.h"
#include "models/decoder_plan.h"
#include "predict/llm_fit.h"

namespace vramfit {
namespace {

LlmFitOptions fit_options(std::vector<std::int64_t> contexts, std::vector<std::int64_t> batches,
                          std::optional<std::uint64_t> budget, std::int64_t ceiling) {
  LlmFitOptions o;
  o.contexts = std::move(contexts);
  o.batches = std::move(batches);
  o.budget_bytes = budget;
  o.max_batch_ceiling = ceiling;
  return o;
}

TEST(LlmFit, MaxContextIsTheLastThatFits) {
  const DecoderConfig c = decoder_preset("llama-7b");
  for (Precision p : {Precision::fp16, Precision::int8, Precision::int4})
    for (std::uint64_t budget : {7 * GiB + 400 * MiB, 8 * GiB, 12 * GiB, 16 * GiB}) {
      const std::int64_t ctx = max_context_under(c, p, budget, 1);
      if (ctx == 0) {
        EXPECT_GT(plan_llm_memory(c, p, 1, 1).total_bytes(), budget);
        continue;
      }
      EXPECT_LE(plan_llm_memory(c, p, ctx, 1).total_bytes(), budget) << to_string(p);
      if (ctx < c.max_position_embeddings) {
        EXPECT_GT(plan_llm_memory(c, p, ctx + 1, 1).total_bytes(), budget);
      }
    }
  // Without the context: fp16 (12.55 GiB of weights) fits 16 GiB, not 12.
  EXPECT_EQ(max_context_under(c, Precision::fp16, 12 * GiB, 1), 0);
  EXPECT_GT(max_context_under(c, Precision::fp16, 16 * GiB, 1), 2048);
  EXPECT_EQ(max_context_under(c, Precision::int4, 8 * GiB, 1), 4096);  // the model's limit
}

TEST(LlmFit, MaxBatchIsTheLastThatFits) {
  const DecoderConfig c = decoder_preset("llama3-8b");
  for (std::int64_t ctx : {512, 4096, 8192}) {
    const LlmContextFit f = max_batch_at_context(c, Precision::int4, ctx, 16 * GiB, 4096);
    ASSERT_GT(f.max_batch, 0) << ctx;
    EXPECT_FALSE(f.capped);
    EXPECT_EQ(f.bytes_at_max, plan_llm_memory(c, Precision::int4, ctx, f.max_batch).total_bytes());
    EXPECT_LE(f.bytes_at_max, 16 * GiB);
    EXPECT_GT(plan_llm_memory(c, Precision::int4, ctx, f.max_batch + 1).total_bytes(), 16 * GiB);
  }
  const LlmContextFit capped = max_batch_at_context(decoder_preset("qwen2.5-0.5b"), Precision::int4, 512, 64 * GiB, 16);
  EXPECT_EQ(capped.max_batch, 16);
  EXPECT_TRUE(capped.capped);
}

TEST(LlmFit, ReasonsSayWhatDoesNotFit) {
  LlmFitOptions o;
  o.budget_bytes = 8 * GiB;
  const DecoderConfig c = decoder_preset("llama-7b");
  const LlmQuantRow fp16 = fit_llm(c, Precision::fp16, o);
  EXPECT_EQ(fp16.status, Outcome::oom);
  EXPECT_NE(fp16.reason.find("weights alone need 12.55 GiB; budget 8.00 GiB"), std::string::npos) << fp16.reason;
  const LlmQuantRow int8 = fit_llm(c, Precision::int8, o);
  EXPECT_EQ(int8.status, Outcome::ok);
  ASSERT_EQ(int8.max_batch.size(), 2u);
  EXPECT_GT(int8.max_batch[0].max_batch, 0);
  EXPECT_EQ(int8.max_batch[1].max_batch, 0);  // context 4096: weights 6.5 GiB + KV 2 GiB > 8 GiB
  EXPECT_NE(int8.max_batch[1].reason.find("KV cache 2.00 GiB"), std::string::npos) << int8.max_batch[1].reason;
  const LlmQuantRow fp32 = fit_llm(c, Precision::fp32, o);
  EXPECT_EQ(fp32.status, Outcome::unsupported);
  // The 70B says what it would need.
  const LlmQuantRow big = fit_llm(decoder_preset("llama-70b"), Precision::int4, fit_options({512}, {1}, 16 * GiB, 64));
  EXPECT_EQ(big.status, Outcome::oom);
  EXPECT_NE(big.reason.find("weights alone need 33.85 GiB"), std::string::npos) << big.reason;
  EXPECT_NE(big.reason.find("context 512 at batch 1 needs"), std::string::npos) << big.reason;
  // A context beyond the model is an input error.
  EXPECT_THROW(fit_llm(c, Precision::int4, fit_options({8192}, {1}, std::nullopt, 64)), InvalidInput);
}

TEST(LlmFit, PointsWithoutABudget) {
  const LlmQuantRow r = fit_llm(decoder_preset("tinyllama-1.1b"), Precision::fp16, fit_options({256, 2048}, {1, 4}, std::nullopt, 64));
  ASSERT_EQ(r.points.size(), 4u);
  EXPECT_EQ(r.points[3].kv_bytes, 4ull * 2048 * r.kv_bytes_per_token);
  EXPECT_EQ(r.kv_bytes_per_token, 2ull * 22 * 4 * 64 * 2);
  EXPECT_TRUE(r.max_batch.empty());
  EXPECT_EQ(r.max_context, 0);
}

TEST(TensorParallel, Llama70bFp16NeedsTwo80GiBCardsAndEachHoldsHalf) {
  const DecoderConfig c = decoder_preset("llama-70b");
  const DecoderConfig half = tensor_parallel_shard(c, 2);
  EXPECT_EQ(half.num_heads, 32);
  EXPECT_EQ(half.num_kv_heads, 4);
  EXPECT_EQ(half.hidden_size, c.hidden_size);  // the residual stream is whole on every rank
  const LlmMemoryPlan one = plan_llm_memory(c, Precision::fp16, 4096, 1);
  const LlmMemoryPlan rank = plan_llm_memory(half, Precision::fp16, 4096, 1);
  // Every split tensor halves; the norms (a few hundred KiB) are on both ranks.
  EXPECT_NEAR(static_cast<double>(rank.weights_bytes) / static_cast<double>(one.weights_bytes), 0.5, 0.001);
  EXPECT_GT(2 * rank.weights_bytes, one.weights_bytes);
  EXPECT_EQ(2 * rank.kv_bytes_per_token, one.kv_bytes_per_token);
  const std::uint64_t card = (80ull << 30) - (547ull << 20);  // an 80 GiB card less its context
  EXPECT_GT(one.total_bytes(), card);
  EXPECT_LE(rank.total_bytes() + kNcclAllowanceBytes, card);
  EXPECT_EQ(tensor_parallel_shard(c, 1).num_heads, c.num_heads);
  EXPECT_THROW((void)tensor_parallel_shard(c, 3), InvalidInput);   // 64 heads, 8 KV heads
  EXPECT_THROW((void)tensor_parallel_shard(c, 16), InvalidInput);  // 8 KV heads over 16 GPUs
  EXPECT_THROW((void)tensor_parallel_shard(c, 0), InvalidInput);
}

}  // namespace
}  // namespace vramfit
