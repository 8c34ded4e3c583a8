// `vramfit profile` as a user meets it where no GPU exists (the CPU-only build, or a machine without
// one), and its hidden worker mode, which answers without a GPU when a fault is injected.
#include <gtest/gtest.h>

#include "run_binary.h"
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

using cli_test::Result;
using cli_test::sh;

Result vramfit(const std::string& args) { return cli_test::run_vramfit(args, true); }

bool gpu_here() { return vramfit("devices").status == 0; }

}  // namespace

TEST(ProfileCli, WithoutAGpuOneClearLineAndExit2) {
  if (gpu_here()) GTEST_SKIP() << "a GPU is visible: this test is for machines and builds without one";
  const Result r = vramfit("profile --models resnet50 --precisions fp16");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_EQ(r.out,
            "vramfit: no CUDA GPU here: `vramfit profile` measures on a GPU; use `vramfit plan` "
            "(e.g. vramfit plan -m resnet50 -p fp16 --vram-limit 8GiB)\n");
}

TEST(ProfileCli, BadModelOrSizeIsAnInputError) {
  Result r = vramfit("profile --models resnet50 nonsense");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("nonsense"), std::string::npos) << r.out;
  r = vramfit("profile --vram-limit 8GB?");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("8GB?"), std::string::npos) << r.out;
}

TEST(ProfileCli, HelpListsTheFlagsButNotTheWorker) {
  const Result r = vramfit("profile --help");
  EXPECT_EQ(r.status, 0);
  for (const char* f : {"--models", "--precisions", "--device", "--output", "--system-id", "--vram-limit", "--reserve", "--max-batch",
                        "--quick", "--resume", "--timeout"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f;
  EXPECT_EQ(r.out.find("--worker"), std::string::npos);
  // The default matrix and each family's default precisions are stated.
  EXPECT_NE(r.out.find("resnet50 vit-b16 yolo11n-pose llama-7b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fp16,int8,int4,q8_0,q4_0,q4_k_m"), std::string::npos) << r.out;
}

TEST(ProfileCli, DeviceAllChecksTheFlagsBeforeLookingForGpus) {
  // A typo is the answer whether or not a GPU is here (it used to be "no GPU" first for --device all).
  Result r = vramfit("profile --device all --models resnet5O");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("resnet5O"), std::string::npos) << r.out;
  r = vramfit("profile --device all --vram-limit 8GB?");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("8GB?"), std::string::npos) << r.out;
}

TEST(ProfileCli, LlmModelsAndPrecisionsAreCheckedBeforeAnythingRuns) {
  // LLM precisions and decoder models parse like the others (aliases included); a typo is an input error.
  Result r = vramfit("profile --models llama_7b resnet50 --precisions int4,q4_k_m");
  if (!gpu_here()) {
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("no CUDA GPU here"), std::string::npos) << r.out;
  }
  r = vramfit("profile --models llama-7b --precisions q4_k");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("q4_k"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("q4_k_m"), std::string::npos) << r.out;  // the valid ids are listed
}

TEST(ProfileCli, WorkerAnswersAnLlmConfigurationWithOneJsonLine) {
  const std::string cfg =
      R"({"kind":"llm","measure":"speed","model":"llama-7b","precision":"int4","context":512,"batch":1,"vram_limit":8589934592,)"
      R"("reserve":0,"device":0,"seed":1,"prefill_chunk":512,"workspace":33554432,"decode_steps":32,"prefill_tokens":511,"worker_index":2})";
  Result r = sh("echo '" + cfg + "' | VRAMFIT_FAULT=oom@2 " + std::string(VRAMFIT_BINARY) + " profile --worker 2>/dev/null");
  EXPECT_EQ(r.status, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "oom") << j.dump();
  if (gpu_here()) return;
  // Without a GPU (or without CUDA in this build) the worker says why, as one JSON result.
  r = sh("echo '" + cfg + "' | " + std::string(VRAMFIT_BINARY) + " profile --worker 2>/dev/null");
  EXPECT_EQ(r.status, 0);
  j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["status"] == "unsupported" || j["status"] == "error") << j.dump();
  EXPECT_FALSE(j.value("reason", "").empty()) << j.dump();
}

TEST(ProfileCli, WorkerAnswersOneJsonLine) {
  const std::string cfg =
      R"({"kind":"probe","model":"resnet50","precision":"fp16","batch":4,"vram_limit":null,"reserve":0,"device":0,"worker_index":3})";
  Result r = sh("echo '" + cfg + "' | VRAMFIT_FAULT=oom@3 " + std::string(VRAMFIT_BINARY) + " profile --worker 2>/dev/null");
  EXPECT_EQ(r.status, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["status"], "oom");
  // A fault for another worker does not apply; without a GPU the answer is still one JSON result.
  r = sh("echo '" + cfg + "' | VRAMFIT_FAULT=oom@2 " + std::string(VRAMFIT_BINARY) + " profile --worker 2>/dev/null");
  EXPECT_EQ(r.status, 0);
  j = nlohmann::json::parse(r.out);
  if (!gpu_here()) {
    EXPECT_NE(j["status"], "ok") << j.dump();
    EXPECT_NE(j["status"], "oom") << j.dump();
  }
}
