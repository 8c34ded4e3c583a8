// End-to-end: `vramfit plan --gpu/--system/--calibrate` through the built binary, JSON checked against
// the library it prints from.
#include <array>
#include <cstdio>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "predict/latency.h"
#include "test_files.h"

namespace vramfit {
namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

CliRun vramfit(const std::string& args) {
  CliRun r;
  const std::string cmd = std::string("\"") + VRAMFIT_BINARY + "\" " + args + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return r;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), f)) r.out.append(buf.data(), n);
  const int st = ::pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class PlanCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(VRAMFIT_BINARY)) GTEST_SKIP() << "vramfit binary not built: " << VRAMFIT_BINARY;
  }
  const std::string gpus = "--gpus \"" + test::gpus_toml().string() + "\"";
};

TEST_F(PlanCli, GpuBudgetIsVramMinusContextAndPrecisionsTheCardLacksAreUnsupported) {
  const CliRun r = vramfit("plan -m resnet50 -p fp16,bf16,fp8 --gpu \"geforce rtx 3070 ti\" --json " + gpus);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const auto& g = j.at("gpu_plan");
  EXPECT_EQ(g["gpu"]["name"], "RTX 3070 Ti");
  EXPECT_EQ(g["budget_bytes"].get<std::uint64_t>(), (8ull << 30) - default_context_overhead("ampere").bytes);
  EXPECT_EQ(g["latency_status"], "estimate");
  ASSERT_EQ(g["rows"].size(), 3u);
  EXPECT_EQ(g["rows"][0]["status"], "ok");
  EXPECT_EQ(g["rows"][0]["max_batch"].get<std::int64_t>(),
            max_batch_under(find_model("resnet50"), Precision::fp16, g["budget_bytes"].get<std::uint64_t>()).max_batch);
  EXPECT_LE(g["rows"][0]["vram_at_max_batch_bytes"].get<std::uint64_t>(), g["budget_bytes"].get<std::uint64_t>());
  EXPECT_GT(g["rows"][0]["latency_estimate_max_batch"]["ms"].get<double>(), g["rows"][0]["latency_estimate_batch_1"]["ms"].get<double>());
  EXPECT_EQ(g["rows"][1]["status"], "ok");  // bf16 on sm_86
  EXPECT_EQ(g["rows"][2]["status"], "unsupported");
  EXPECT_NE(g["rows"][2]["reason"].get<std::string>().find("sm_89"), std::string::npos);
}

TEST_F(PlanCli, SystemFromTheExampleFileAndCalibration) {
  const std::string systems = "--systems \"" + (test::source_dir() / "data" / "systems.example.toml").string() + "\"";
  const CliRun r = vramfit("plan -m resnet50 -p fp16 --system laptop-4080 " + systems + " --calibrate \"" +
                        test::h200_run_json().string() + "\" " + gpus);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("System laptop-4080"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RTX 4080 Laptop (sm_89)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("resnet50 fp16: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("fitted over 4 batches (1–256) on H200"), std::string::npos) << r.out;
  // Every batch asked for gets its estimate, marked ≈.
  EXPECT_NE(r.out.find("Estimated latency on RTX 4080 Laptop at each batch asked for"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| resnet50 | fp16      |     1 | ≈ "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ESTIMATE"), std::string::npos) << r.out;
}

TEST_F(PlanCli, BadInputIsExit2WithTheReason) {
  CliRun r = vramfit("plan -m resnet50 --gpu \"RTX 3070 Tii\" " + gpus);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("closest: 'RTX 3070 Ti'"), std::string::npos) << r.out;
  r = vramfit("plan -m resnet50 --gpu H200 --vram-limit 8GiB " + gpus);
  EXPECT_NE(r.status, 0) << r.out;
  r = vramfit("plan -m resnet50 --calibrate x.json " + gpus);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--calibrate needs --gpu or --system"), std::string::npos) << r.out;
  // Without --gpu the plan is what it was: no gpu_plan in the JSON.
  r = vramfit("plan -m resnet50 -p fp16 -b 1,8 --vram-limit 8GiB --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.contains("gpu_plan"));
  EXPECT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["fits"].size(), 1u);
}

}  // namespace
}  // namespace vramfit

namespace vramfit {
namespace {

TEST_F(PlanCli, ASystemsProfileOfTheSameCardCalibratesAndGivesTheMeasuredContext) {
  test::TempDir t;
  std::filesystem::create_directories(t.path() / "profiles");
  std::filesystem::copy_file(test::h200_run_json(), t.path() / "profiles" / "h200.json");
  const auto sys = t.write("systems.toml", "[[system]]\nid = \"big\"\ngpu = \"H200\"\nprimary_use = \"serving\"\nprofile = \"profiles/h200.json\"\n");
  const CliRun r = vramfit("plan -m resnet50 -p fp16 --system big --systems \"" + sys.string() + "\" --json " + gpus);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto g = nlohmann::json::parse(r.out).at("gpu_plan");
  EXPECT_NE(g["context_overhead_source"].get<std::string>().find("measured in"), std::string::npos) << g["context_overhead_source"];
  EXPECT_EQ(g["budget_bytes"].get<std::uint64_t>(), g["vram_bytes"].get<std::uint64_t>() - g["context_overhead_bytes"].get<std::uint64_t>());
  // Batch 1 was measured on this very card: the estimate is the measurement, and says so.
  EXPECT_NE(g["rows"][0]["latency_estimate_batch_1"]["efficiency_source"].get<std::string>().find("measured on H200"), std::string::npos)
      << g["rows"][0]["latency_estimate_batch_1"]["efficiency_source"];
}

TEST_F(PlanCli, TrainPlansSayTheyAreNotConfirmedAndFindTheLargestBatch) {
  const CliRun r = vramfit("plan --train -m resnet50 -p fp32,bf16 -b 8 --vram-limit 8GiB --optimizer sgd -o json " + gpus);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_NE(j["status"].get<std::string>().find("not yet confirmed by running"), std::string::npos);
  ASSERT_EQ(j["plans"].size(), 2u);
  EXPECT_EQ(j["plans"][0]["optimizer"], "sgd");
  EXPECT_EQ(j["plans"][0]["bytes"]["optimizer"].get<std::uint64_t>(), 4 * j["plans"][0]["parameters"].get<std::uint64_t>());
  ASSERT_EQ(j["max_batch"].size(), 2u);
  EXPECT_GT(j["max_batch"][1]["max_batch"].get<std::int64_t>(), j["max_batch"][0]["max_batch"].get<std::int64_t>());  // bf16 fits more
  EXPECT_LE(j["max_batch"][0]["bytes"]["total"].get<std::uint64_t>(), 8ull << 30);
  const CliRun md = vramfit("plan --train -m resnet50 -b 1 " + gpus);
  EXPECT_NE(md.out.find("saved activations"), std::string::npos) << md.out;
  EXPECT_EQ(vramfit("plan --train -m resnet50 --optimizer adam " + gpus).status, 2);
}

}  // namespace
}  // namespace vramfit
