// `vramfit llm` as a user meets it (with --no-run where a GPU may exist, so the numbers are the plan's).
#include <gtest/gtest.h>

#include "run_binary.h"
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using cli_test::Result;

Result run(const std::string& args, bool with_stderr = true) { return cli_test::run_vramfit(args, with_stderr); }

TEST(LlmCli, Llama7bAt8GiBSaysWhyFp16DoesNotFit) {
  const Result r = run("llm -m llama7b --vram-limit 8GiB --no-run");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("fp16 does not fit: weights alone need 12.55 GiB; budget 8.00 GiB"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("6.74 B parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("speed columns absent"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("decode tok/s"), std::string::npos) << "no speed columns without a run";
}

TEST(LlmCli, JsonCarriesThePlan) {
  const Result r = run("llm -m llama-7b -q fp16,int8,int4 -c 512,4096 -b 1,2 --vram-limit 16GiB --no-run -o json", false);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["command"], "llm");
  EXPECT_EQ(j["parameters"], 6738415616ull);
  ASSERT_EQ(j["rows"].size(), 3u);
  for (const auto& row : j["rows"]) {
    EXPECT_EQ(row["kv_bytes_per_token"], 524288u);
    ASSERT_EQ(row["points"].size(), 4u);
    // KV: batch × context × 512 KiB.
    EXPECT_EQ(row["points"][3]["kv_bytes"], 2ull * 4096 * 524288);
    EXPECT_GT(row["max_context_batch1"].get<long long>(), 0);
  }
  EXPECT_EQ(j["rows"][0]["weights_bytes"], 2ull * 6738415616ull + 256);
  EXPECT_TRUE(j["device"].is_null());
}

TEST(LlmCli, Llama70bAt16GiBSaysWhatWouldBeNeeded) {
  const Result r = run("llm -m llama-70b --vram-limit 16GiB --no-run");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* q : {"fp16", "int8", "int4"})
    EXPECT_NE(r.out.find(std::string("- ") + q + " does not fit: weights alone need"), std::string::npos) << q << r.out;
  EXPECT_NE(r.out.find("context 512 at batch 1 needs 34.16 GiB"), std::string::npos) << r.out;
}

TEST(LlmCli, CsvOneLinePerPoint) {
  const Result r = run("llm -m qwen2.5-0.5b -q int4,fp32 -c 1024 -b 1,3 --no-run -o csv", false);
  ASSERT_EQ(r.status, 0) << r.out;
  std::size_t lines = 0;
  for (char ch : r.out) lines += ch == '\n';
  EXPECT_EQ(lines, 1u + 2u + 1u) << r.out;  // header, int4 × 2 batches, fp32 unsupported
  EXPECT_NE(r.out.find("qwen2.5-0.5b,fp32,unsupported"), std::string::npos) << r.out;
}

TEST(LlmCli, ConfigFileAndBadInput) {
  const std::string dir = ::testing::TempDir() + "/vramfit_llm_cli";
  ASSERT_EQ(std::system(("mkdir -p " + dir).c_str()), 0);
  FILE* f = std::fopen((dir + "/config.json").c_str(), "w");
  ASSERT_TRUE(f);
  std::fputs(R"({"model_type":"llama","hidden_size":256,"intermediate_size":512,"num_hidden_layers":2,
    "num_attention_heads":4,"num_key_value_heads":1,"vocab_size":1000,"max_position_embeddings":128})", f);
  std::fclose(f);
  const Result ok = run("llm --config " + dir + " -c 128 --no-run -o json", false);
  ASSERT_EQ(ok.status, 0) << ok.out;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["config"]["num_key_value_heads"], 1);
  EXPECT_EQ(run("llm -m resnet50 --no-run").status, 2);
  EXPECT_EQ(run("llm -m llama-9b --no-run").status, 2);
  EXPECT_EQ(run("llm -m llama-7b -c 8192 --no-run").status, 2);  // beyond max_position_embeddings
  EXPECT_EQ(run("llm -m llama-7b -q int3 --no-run").status, 2);
  EXPECT_EQ(run("llm --no-run").status, 2);
  const Result missing = run("llm --weights " + dir + "/nothing.safetensors --no-run");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.out.find("nothing.safetensors"), std::string::npos) << missing.out;
  // `plan` and `models` know LLMs too.
  const Result plan = run("plan -m llama-7b --json", false);
  ASSERT_EQ(plan.status, 0) << plan.out;
  EXPECT_EQ(nlohmann::json::parse(plan.out)["rows"][0]["status"], "unsupported");
  const Result models = run("models -m llama-7b --json", false);
  ASSERT_EQ(models.status, 0) << models.out;
  EXPECT_EQ(nlohmann::json::parse(models.out)["models"][0]["parameters"], 6738415616ull);
}

TEST(LlmCli, GgufPrecisionsReportSizeAndBitsPerWeight) {
  // Llama-2-7B Q4_K_M: about 3.80 GiB and 4.84 bits per weight (llama.cpp's report of the file).
  const Result r = run("llm -m llama-7b -q q4_k_m,q8_0,q4_0 -c 512 --vram-limit 8GiB --no-run");
  ASSERT_EQ(r.status, 0) << r.out;
  const std::size_t row = r.out.find("| q4_k_m | ok");
  ASSERT_NE(row, std::string::npos) << r.out;
  const std::string line = r.out.substr(row, r.out.find('\n', row) - row);
  EXPECT_NE(line.find("| 3.80 GiB |"), std::string::npos) << line;
  EXPECT_NE(line.find("|        4.84 |"), std::string::npos) << line;
  EXPECT_NE(r.out.find("| q8_0   |"), std::string::npos) << r.out;
  const Result j = run("llm -m llama-7b -q q4_k_m -c 512 --no-run -o json", false);
  ASSERT_EQ(j.status, 0) << j.out;
  EXPECT_NEAR(nlohmann::json::parse(j.out)["rows"][0]["bits_per_weight"].get<double>(), 4.84, 0.01);
}

TEST(LlmCli, GgufFileRunsAsItIs) {
  const std::string golden = std::string(VRAMFIT_SOURCE_DIR) + "/tests/golden/llama_tiny_q4_k_m.gguf";
  const Result r = run("llm --gguf " + golden + " -c 128 --no-run -o json", false);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["model"], "llama-tiny-q4_k_m");  // general.name
  ASSERT_EQ(j["rows"].size(), 1u);
  EXPECT_EQ(j["rows"][0]["precision"], "q4_k_m");
  EXPECT_EQ(j["config"]["num_key_value_heads"], 2);
  EXPECT_NE(j["weights_source"].get<std::string>().find("as it is"), std::string::npos) << j["weights_source"];
  // Another quantization of a file would mean requantizing; --weights/--config conflict; a bad file.
  const Result q = run("llm --gguf " + golden + " -q int8 --no-run");
  EXPECT_EQ(q.status, 2);
  EXPECT_NE(q.out.find("requantizing"), std::string::npos) << q.out;
  EXPECT_EQ(run("llm --gguf " + golden + " --config " + golden + " --no-run").status, 2);
  const std::string bad = ::testing::TempDir() + "/vramfit_bad.gguf";
  FILE* f = std::fopen(bad.c_str(), "wb");
  ASSERT_TRUE(f);
  std::fputs("GGUF\x03", f);  // magic and one byte of the version: truncated
  std::fclose(f);
  const Result b = run("llm --gguf " + bad + " --no-run");
  EXPECT_EQ(b.status, 2) << b.out;
  EXPECT_NE(b.out.find("vramfit_bad.gguf"), std::string::npos) << b.out;
}

TEST(LlmCli, GpuPlansForACardNotAtHandWithEstimatedSpeeds) {
  const Result r = run("llm -m llama-7b -q fp16,int4 -c 512 --gpu \"RTX 3070 Ti\" -o json", false);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["budget_note"].get<std::string>().find("RTX 3070 Ti"), std::string::npos) << j["budget_note"];
  EXPECT_EQ(j["estimate"]["card"], "RTX 3070 Ti");
  // The shipped calibration (data/calibration/) names its card, driver and commit.
  EXPECT_NE(j["estimate"]["source"].get<std::string>().find("driver"), std::string::npos) << j["estimate"];
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["status"], "does not fit");  // fp16 on 8 GiB
  EXPECT_FALSE(j["rows"][0].contains("estimated"));
  const auto& e = j["rows"][1]["estimated"];
  ASSERT_TRUE(e.is_object()) << j["rows"][1];
  // 3.6 GiB of int4 weights over 608 GB/s: at most ~160 tokens/s, and the fixed cost takes some.
  EXPECT_GT(e["decode_tokens_per_s_batch1"].get<double>(), 60.0);
  EXPECT_LT(e["decode_tokens_per_s_batch1"].get<double>(), 165.0);
  const Result md = run("llm -m llama-7b -q int4 -c 512 --gpu \"RTX 3070 Ti\"");
  EXPECT_NE(md.out.find("≈ decode tok/s b1"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("| ≈ "), std::string::npos) << md.out;
  // 'none': no calibration, no estimate; --calibrate without --gpu and --gpu with --vram-limit are errors.
  const Result none = run("llm -m llama-7b -q int4 -c 512 --gpu \"RTX 3070 Ti\" --calibrate none -o json", false);
  ASSERT_EQ(none.status, 0) << none.out;
  EXPECT_FALSE(nlohmann::json::parse(none.out)["rows"][0].contains("estimated"));
  EXPECT_EQ(run("llm -m llama-7b --calibrate data/calibration/h200.json --no-run").status, 2);
  EXPECT_EQ(run("llm -m llama-7b --gpu H200 --vram-limit 8GiB").status, 2);
  EXPECT_EQ(run("llm -m llama-7b --gpu \"RTX 3070 Tii\"").status, 2);
}

TEST(LlmCli, DevicesPlansOneGpusShare) {
  const Result r = run("llm -m llama-70b -q fp16 -c 4096 --vram-limit 80GiB --devices 2 --no-run -o json", false);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tensor_parallel_ranks"], 2);
  EXPECT_EQ(j["rows"][0]["status"], "ok");  // one 80 GiB card would not hold it
  EXPECT_NE(j["speed_note"].get<std::string>().find("not implemented"), std::string::npos) << j["speed_note"];
  EXPECT_NEAR(j["rows"][0]["bits_per_weight"].get<double>(), 16.0, 0.01);
  const Result one = run("llm -m llama-70b -q fp16 -c 4096 --vram-limit 80GiB --no-run -o json", false);
  EXPECT_EQ(nlohmann::json::parse(one.out)["rows"][0]["status"], "does not fit");
  EXPECT_EQ(run("llm -m llama-70b --devices 3 --no-run").status, 2);  // 8 KV heads do not split 3 ways
  EXPECT_EQ(run("llm -m llama-70b --devices 0 --no-run").status, 2);
}

}  // namespace
