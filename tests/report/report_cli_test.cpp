// `vramfit report` through the built binary: the four outputs, and bad inputs — each an exit status 2
// with a message naming the file and the problem.
#include <gtest/gtest.h>

#include "fixtures.h"

using namespace vramfit;
using namespace vramfit::test;

namespace {

class ReportCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(VRAMFIT_BINARY)) GTEST_FAIL() << "vramfit binary not built: " << VRAMFIT_BINARY;
  }
  std::string gpus = "--gpus \"" + gpus_toml().string() + "\"";
  TempDir t;
  fs::path systems(const std::string& body) { return t.write("systems.toml", body); }
  fs::path good_profile() {
    auto d = doc("edge", "2026-11-28T10:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - 540 * MiB, 540 * MiB);
    d.results.push_back(cell("resnet50", Precision::fp16, d.budget_bytes, d.context_bytes));
    return write_profile(t, "edge/profile.json", d);
  }
  CliRun report(const fs::path& sys, const std::string& profiles) {
    return run_vramfit("report --systems \"" + sys.string() + "\" " + profiles + " -o \"" + (t.path() / "out" / "S.md").string() + "\" " + gpus);
  }
};

const char* kEdge = "[[system]]\nid = \"edge\"\ngpu = \"RTX 3070 Ti\"\nprimary_use = \"classification\"\n";

TEST_F(ReportCli, WritesMarkdownHtmlJsonCsv) {
  const fs::path s = systems(kEdge), p = good_profile();
  const fs::path out = t.path() / "out";
  const CliRun r = run_vramfit("report --systems \"" + s.string() + "\" \"" + p.string() + "\" -o \"" + (out / "S.md").string() + "\" --html \"" +
                           (out / "S.html").string() + "\" --json \"" + (out / "S.json").string() + "\" --csv \"" + (out / "S.csv").string() +
                           "\" " + gpus);
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* f : {"S.md", "S.html", "S.json", "S.csv"}) EXPECT_TRUE(fs::exists(out / f)) << f;
  const auto j = nlohmann::json::parse(read_text(out / "S.json"));
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["systems"][0]["id"], "edge");
  EXPECT_EQ(j["systems"][0]["cells"][1]["source"], "emulated");  // resnet50 fp16 (rows: fp32, fp16, bf16)
  EXPECT_NE(read_text(out / "S.md").find("emulated 2026-11-28"), std::string::npos);
}

TEST_F(ReportCli, LlmRowsOfAProfileGetTheLlmSection) {
  auto d = doc("edge", "2026-11-29T10:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - 540 * MiB, 540 * MiB);
  d.results.push_back(cell("resnet50", Precision::fp16, d.budget_bytes, d.context_bytes));
  for (Precision p : {Precision::fp16, Precision::int8, Precision::int4}) d.llm_results.push_back(llm_cell("llama-7b", p, d.budget_bytes, 540 * MiB));
  const fs::path s = systems(kEdge), p = write_profile(t, "edge-llm/profile.json", d);
  const fs::path out = t.path() / "out";
  const CliRun r = run_vramfit("report --systems \"" + s.string() + "\" \"" + p.string() + "\" -o \"" + (out / "S.md").string() + "\" --json \"" +
                               (out / "S.json").string() + "\" --csv \"" + (out / "S.csv").string() + "\" " + gpus);
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string md = read_text(out / "S.md");
  EXPECT_NE(md.find("## LLM: decoder models at batch 1"), std::string::npos) << md;
  EXPECT_NE(md.find("**llama-7b**: the least quantization that runs context 512 at batch 1 is **"), std::string::npos) << md;
  const auto j = nlohmann::json::parse(read_text(out / "S.json"));
  ASSERT_TRUE(j.contains("llm"));
  EXPECT_EQ(j["llm"]["models"], nlohmann::json::array({"llama-7b"}));
  const std::string csv = read_text(out / "S.csv");
  EXPECT_NE(csv.find(",llm,512,"), std::string::npos) << csv;
}

TEST_F(ReportCli, UnknownGpuListsCloseMatches) {
  const fs::path s = systems("[[system]]\nid = \"edge\"\ngpu = \"RTX 3070 Tie\"\nprimary_use = \"x\"\n");
  const CliRun r = report(s, "");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(s.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown GPU 'RTX 3070 Tie'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'RTX 3070 Ti'"), std::string::npos) << r.out;  // a close match
}

TEST_F(ReportCli, MissingFieldIsNamed) {
  const fs::path s = systems("[[system]]\nid = \"edge\"\ngpu = \"RTX 3070 Ti\"\n");
  const CliRun r = report(s, "");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(s.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing field 'primary_use'"), std::string::npos) << r.out;
}

TEST_F(ReportCli, ProfileWithAnotherSchemaVersion) {
  const fs::path s = systems(kEdge);
  nlohmann::json j = nlohmann::json::parse(read_text(good_profile()));
  j["schema_version"] = 7;
  const fs::path p = t.write("v7.json", j.dump());
  const CliRun r = report(s, "\"" + p.string() + "\"");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(p.string() + ": schema_version: the profile has schema_version 7"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(t.path() / "out" / "S.md"));  // nothing written on a bad input
}

TEST_F(ReportCli, TruncatedProfile) {
  const fs::path s = systems(kEdge);
  const std::string text = read_text(good_profile());
  const fs::path p = t.write("cut.json", text.substr(0, text.size() - 40));
  const CliRun r = report(s, "\"" + p.string() + "\"");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find(p.string() + ": not valid JSON (truncated"), std::string::npos) << r.out;
}

TEST_F(ReportCli, ProfileOfAnotherSystemAndSystemsFileProfile) {
  const fs::path p = good_profile();
  const CliRun r = report(systems("[[system]]\nid = \"other\"\ngpu = \"RTX 3070 Ti\"\nprimary_use = \"x\"\n"), "\"" + p.string() + "\"");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("system_id 'edge' is not a system of"), std::string::npos) << r.out;
  // ID=PROFILE.json assigns it to a system whatever system_id it was recorded with.
  const CliRun assigned = report(systems("[[system]]\nid = \"other\"\ngpu = \"RTX 3070 Ti\"\nprimary_use = \"x\"\n"),
                                 "\"other=" + p.string() + "\"");
  ASSERT_EQ(assigned.status, 0) << assigned.out;
  EXPECT_NE(read_text(t.path() / "out" / "S.md").find("| resnet50 | fp16      |"), std::string::npos);
  EXPECT_NE(read_text(t.path() / "out" / "S.md").find("used for resnet50 fp16"), std::string::npos);
  // The same profile named by the systems file (relative to it) is used without a command-line argument.
  const CliRun ok = report(systems(std::string(kEdge) + "profile = \"edge/profile.json\"\n"), "");
  ASSERT_EQ(ok.status, 0) << ok.out;
  EXPECT_NE(read_text(t.path() / "out" / "S.md").find("emulated 2026-11-28"), std::string::npos);
  // A systems-file profile that is missing is named too.
  const CliRun missing = report(systems(std::string(kEdge) + "profile = \"gone/profile.json\"\n"), "");
  EXPECT_EQ(missing.status, 2) << missing.out;
  EXPECT_NE(missing.out.find("gone/profile.json: no such file (expected a profile.json"), std::string::npos) << missing.out;
}

TEST_F(ReportCli, SystemsFlagIsRequired) {
  const CliRun r = run_vramfit("report -o x.md");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--systems"), std::string::npos) << r.out;
}

}  // namespace
