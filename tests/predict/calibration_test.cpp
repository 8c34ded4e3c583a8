// Calibration files (predict/calibration.h): the shipped ones load and fit, a broken one says which
// field, and the default is the newest file of data/calibration/.
#include "predict/calibration.h"

#include <cstdlib>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "predict/latency.h"
#include "test_files.h"

namespace vramfit {
namespace {

using test::TempDir;

const GpuDatabase& db() {
  static const GpuDatabase d = load_gpu_database(test::gpus_toml());
  return d;
}

std::filesystem::path shipped(const char* name) { return test::source_dir() / "data" / "calibration" / name; }

TEST(Calibration, TheShippedFilesLoadWithTheirProvenance) {
  for (const char* name : {"h100-80gb-hbm3.json", "h200.json"}) {
    const Calibration c = load_calibration(shipped(name), db());
    EXPECT_TRUE(c.model) << name;
    EXPECT_GT(c.points.size(), 20u) << name;
    EXPECT_GE(c.llm.size(), 5u) << name;
    EXPECT_FALSE(c.gemv.empty()) << name;
    EXPECT_FALSE(c.driver.empty()) << name;
    EXPECT_FALSE(c.commit.empty()) << name;
    EXPECT_EQ(c.date.size() >= 10, true) << name;
    EXPECT_NE(c.provenance().find(c.gpu.name), std::string::npos);
    EXPECT_NE(c.provenance().find("driver 580"), std::string::npos) << c.provenance();
    // Every LLM precision measured has a decode fit; LLM speed is estimated for a card not at hand.
    const auto e = llm_speed(*c.model, find_model("llama-7b").decoder(), Precision::q4_k_m, 512, 1, db().find("RTX 3070 Ti"));
    ASSERT_TRUE(e) << name;
    EXPECT_GT(e->decode_tokens_per_s, 20);
    EXPECT_LT(e->decode_tokens_per_s, 400);  // a 608 GB/s card cannot stream 3.8 GiB faster than ~160 times a second
  }
  EXPECT_EQ(load_calibration(shipped("h200.json"), db()).gpu.name, "H200");
  EXPECT_EQ(load_calibration(shipped("h100-80gb-hbm3.json"), db()).gpu.name, "H100 SXM");
}

nlohmann::json minimal() {
  return nlohmann::json{{"schema", "vramfit-calibration"},
                        {"version", 1},
                        {"device", "NVIDIA H200"},
                        {"date", "2026-12-01T00:00:00Z"},
                        {"vision", {{{"model", "resnet50"}, {"precision", "fp16"}, {"batch", 8}, {"median_ms", 1.5}},
                                    {{"model", "resnet50"}, {"precision", "fp16"}, {"batch", 64}, {"median_ms", 4.0}}}}};
}

void expect_invalid(const nlohmann::json& j, const std::string& needle) {
  TempDir t;
  const auto p = t.write("c.json", j.dump());
  try {
    (void)load_calibration(p, db());
    ADD_FAILURE() << "expected InvalidInput mentioning " << needle;
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
}

TEST(Calibration, ABrokenFileNamesTheField) {
  {
    TempDir t;
    const Calibration c = load_calibration(t.write("ok.json", minimal().dump()), db());
    EXPECT_EQ(c.points.size(), 2u);
    EXPECT_TRUE(c.model);
  }
  auto j = minimal();
  j["version"] = 2;
  expect_invalid(j, "'version'");
  j = minimal();
  j["vision"][0]["median_ms"] = -1;
  expect_invalid(j, "'median_ms'");
  j = minimal();
  j["vision"][1]["batch"] = "eight";
  expect_invalid(j, "'batch'");
  j = minimal();
  j["device"] = "NVIDIA B300";
  expect_invalid(j, "field 'device'");
  j = minimal();
  j["llm"] = {{{"model", "resnet50"}, {"precision", "int8"}, {"context", 512}, {"decode_tokens_per_s", 300}}};
  expect_invalid(j, "not a decoder LLM");
  j = minimal();
  j["vision"] = nlohmann::json::array();
  expect_invalid(j, "no usable row");
  j = minimal();
  j["gemv"] = "fast";
  expect_invalid(j, "field 'gemv' must be an array");
}

TEST(Calibration, TheCrossCardCheckIsReadAndWordedForTheSummary) {
  auto j = minimal();
  j["cross_card_check"] = {{{"predicted_card", "NVIDIA H100 80GB HBM3"},
                            {"date", "2026-12-08"},
                            {"vision_median", 0.081},
                            {"vision_worst", 1.07},
                            {"vision_batch1_median", 0.027},
                            {"llm_median", 0.071}}};
  TempDir t;
  const Calibration c = load_calibration(t.write("c.json", j.dump()), db());
  ASSERT_EQ(c.checks.size(), 1u);
  const std::string text = c.checks[0].text();
  EXPECT_NE(text.find("predicting NVIDIA H100 80GB HBM3 (2026-12-08)"), std::string::npos) << text;
  EXPECT_NE(text.find("median 8 % (worst 107 %)"), std::string::npos) << text;
  EXPECT_NE(text.find("batch 1 median 3 %"), std::string::npos) << text;
  EXPECT_NE(text.find("LLM tokens/s median 7 %"), std::string::npos) << text;
}

TEST(Calibration, TheDefaultIsTheNewestFileOrTheEnvironmentsChoice) {
  TempDir t;
  std::filesystem::create_directories(t.path() / "calibration");
  auto a = minimal(), b = minimal();
  b["date"] = "2026-12-09T00:00:00Z";
  t.write("calibration/a.json", a.dump());
  t.write("calibration/b.json", b.dump());
  t.write("calibration/broken.json", "{");
  t.write("calibration/notes.txt", "not a calibration");
  ::unsetenv("VRAMFIT_CALIBRATION");
  const auto found = default_calibration_file(t.path());
  ASSERT_TRUE(found);
  EXPECT_EQ(found->filename(), "b.json");
  EXPECT_FALSE(default_calibration_file(t.path() / "nowhere"));
  ::setenv("VRAMFIT_CALIBRATION", "none", 1);
  EXPECT_FALSE(default_calibration_file(t.path()));
  ::setenv("VRAMFIT_CALIBRATION", "/x/y.json", 1);
  EXPECT_EQ(default_calibration_file(t.path())->string(), "/x/y.json");
  ::unsetenv("VRAMFIT_CALIBRATION");
}

}  // namespace
}  // namespace vramfit
