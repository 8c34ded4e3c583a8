// The CLI as a user meets it: run the real binary, check exit codes and what it prints.
#include <gtest/gtest.h>

#include "run_binary.h"
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

using cli_test::Result;  // stdout and stderr together

Result run(const std::string& args) { return cli_test::run_vramfit(args, true); }

TEST(Cli, ModelsJsonHasTorchvisionCountsAndMacs) {
  const Result r = run("models --json -m resnet50 vit_base");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema_version"], 1);
  ASSERT_EQ(j["models"].size(), 2u);
  EXPECT_EQ(j["models"][0]["id"], "resnet50");
  EXPECT_EQ(j["models"][0]["parameters"], 25557032u);
  EXPECT_EQ(j["models"][0]["macs"], 4089184256u);
  EXPECT_EQ(j["models"][1]["id"], "vit-b16");
  EXPECT_EQ(j["models"][1]["parameters"], 86567656u);
  EXPECT_EQ(j["models"][1]["macs"], 17563828224u);
  EXPECT_EQ(j["models"][1]["weight_bytes"]["fp16"].get<std::uint64_t>() * 2, j["models"][1]["weight_bytes"]["fp32"].get<std::uint64_t>());
}

TEST(Cli, PlanJsonArenaNearLowerBoundAndAffine) {
  const Result r = run("plan -m resnet50,vit-b16 -p fp16 -b 1,7,256 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["rows"].size(), 6u);
  for (std::size_t m = 0; m < 2; ++m) {
    const auto& b1 = j["rows"][3 * m];
    const auto& b7 = j["rows"][3 * m + 1];
    const auto& b256 = j["rows"][3 * m + 2];
    const auto a256 = b256["activation_arena_bytes"].get<double>();
    EXPECT_LE(a256, 1.10 * b256["activation_lower_bound_bytes"].get<double>()) << b256.dump();
    // arena(b) = b · k: the batch-7 and batch-256 arenas follow from batch 1's
    EXPECT_EQ(b7["activation_arena_bytes"].get<std::uint64_t>(), 7 * b1["activation_arena_bytes"].get<std::uint64_t>());
    EXPECT_EQ(b256["activation_arena_bytes"].get<std::uint64_t>(), 256 * b1["activation_arena_bytes"].get<std::uint64_t>());
    EXPECT_EQ(b256["weights_bytes"], b1["weights_bytes"]);
  }
}

TEST(Cli, VramLimitGivesLargestBatchThatFits) {
  // vit-b16 is memory-bound under 8 GiB: one more sample would not fit.
  const Result r = run("plan -m vit-b16 -p fp16 --vram-limit 8GiB --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const auto& fit = j["fits"][0];
  EXPECT_EQ(fit["budget_bytes"], 8ull << 30);
  EXPECT_EQ(fit["limited_by"], "memory");
  const auto max_batch = fit["max_batch"].get<long long>();
  EXPECT_GT(max_batch, 1000);
  EXPECT_LE(fit["at_max_batch"]["total_bytes"].get<std::uint64_t>(), 8ull << 30);
  const Result more = run("plan -m vit-b16 -p fp16 --json -b " + std::to_string(max_batch + 1));
  const auto jm = nlohmann::json::parse(more.out);
  EXPECT_GT(jm["rows"][0]["total_bytes"].get<std::uint64_t>(), 8ull << 30);
}

TEST(Cli, EngineTensorLimitCapsTheBatch) {
  // resnet50 fp16 would fit 2,887 images in 8 GiB, but conv1's output at batch 2,675 has
  // 2675·64·112·112 ≥ 2^31 elements, beyond cuDNN's int-indexed convolution API (seen on the H200).
  const Result r = run("plan -m resnet50 -p fp16 --vram-limit 8GiB --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto fit = nlohmann::json::parse(r.out)["fits"][0];
  EXPECT_EQ(fit["limited_by"], "engine");
  EXPECT_EQ(fit["max_batch"], 2147483647LL / (64LL * 112 * 112));
  EXPECT_NE(fit["limit_note"].get<std::string>().find("2^31"), std::string::npos);
}

TEST(Cli, UnknownModelIsExit2WithValidIds) {
  const Result r = run("plan -m nosuchmodel");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("unknown model 'nosuchmodel'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("resnet50"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;  // no crash, no trace
}

TEST(Cli, MalformedSizeIsExit2) {
  const Result r = run("plan -m resnet50 --vram-limit 8GB?");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("invalid size '8GB?'"), std::string::npos) << r.out;
}

TEST(Cli, UnknownPrecisionAndBadBatchAreExit2) {
  Result r = run("plan -m resnet50 -p fp12");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("fp12"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("q4_k_m"), std::string::npos) << r.out;  // lists valid ids
  r = run("plan -m resnet50 -b 0");
  EXPECT_EQ(r.status, 2) << r.out;
  r = run("plan -m resnet50 -b eight");
  EXPECT_EQ(r.status, 2) << r.out;
}

TEST(Cli, UnsupportedPrecisionIsARowNotACrash) {
  const Result r = run("plan -m resnet50 -p int8 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["rows"][0]["status"], "unsupported");
  EXPECT_FALSE(j["rows"][0]["reason"].get<std::string>().empty());
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"models", "plan", "run", "devices"}) {
    const Result r = run(std::string(sub) + " --help");
    EXPECT_EQ(r.status, 0) << sub << ": " << r.out;
    EXPECT_NE(r.out.find("--"), std::string::npos) << sub;
  }
  const Result top = run("--help");
  EXPECT_EQ(top.status, 0);
  EXPECT_NE(top.out.find("plan"), std::string::npos);
  EXPECT_EQ(run("").status, 2);  // a subcommand is required
  EXPECT_EQ(run("nosuchcommand").status, 2);
}

}  // namespace
