// report/profile_reader: what `vramfit profile` writes reads back field by field; broken files are
// InvalidInput errors that name the file and the problem.
#include <gtest/gtest.h>

#include "core/error.h"
#include "fixtures.h"
#include "report/profile_reader.h"

using namespace vramfit;
using namespace vramfit::test;

namespace {

std::string error_of(const fs::path& p) {
  try {
    read_profile(p);
  } catch (const InvalidInput& e) {
    return e.what();
  }
  return "(no InvalidInput thrown)";
}

profile::ProfileDoc sample() {
  auto d = doc("desk-3070ti", "2026-11-28T10:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - 540 * MiB, 540 * MiB);
  d.results.push_back(cell("resnet50", Precision::fp16, d.budget_bytes, d.context_bytes));
  d.results.push_back(cell("vit-b16", Precision::fp32, d.budget_bytes, d.context_bytes, 0));
  return d;
}

TEST(ProfileReader, ReadsWhatTheProfileWriterWrites) {
  TempDir t;
  const auto d = sample();
  const ProfileFile f = read_profile(write_profile(t, "p.json", d));
  EXPECT_EQ(f.schema_version, kReadableProfileSchemaVersion);
  EXPECT_EQ(f.schema_version, profile::kProfileSchemaVersion);  // reader and writer agree on the version
  EXPECT_EQ(f.system_id, "desk-3070ti");
  EXPECT_EQ(f.date, "2026-11-28T10:00:00Z");
  EXPECT_EQ(f.device_name, "NVIDIA H200");
  ASSERT_TRUE(f.emulated());
  EXPECT_EQ(*f.vram_limit_bytes, 8 * GiB);
  EXPECT_EQ(*f.vram_limit, "8GiB");
  EXPECT_EQ(f.budget_bytes, 8 * GiB - 540 * MiB);
  EXPECT_EQ(f.context_bytes, 540 * MiB);
  ASSERT_EQ(f.cells.size(), 2u);
  const ProfiledCell& r = f.cells[0];
  EXPECT_EQ(r.model, "resnet50");
  ASSERT_TRUE(r.precision);
  EXPECT_EQ(*r.precision, Precision::fp16);
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.max_batch, d.results[0].max_batch.max_batch);
  EXPECT_EQ(r.predicted, d.results[0].max_batch.predicted);
  EXPECT_TRUE(r.prediction_confirmed);
  EXPECT_EQ(r.predicted_bytes_at_max, d.results[0].predicted_bytes_at_max);
  ASSERT_EQ(r.points.size(), 3u);
  EXPECT_EQ(r.points[0].batch, 1);
  EXPECT_EQ(r.points.back().batch, r.max_batch);
  EXPECT_EQ(r.points.back().process_total_bytes, d.results[0].measurements.back()["vram_bytes"]["process_total"].get<std::uint64_t>());
  EXPECT_DOUBLE_EQ(r.points[0].median_ms, d.results[0].measurements[0]["latency_ms"]["median"].get<double>());
  ASSERT_TRUE(r.top1_agreement);
  EXPECT_DOUBLE_EQ(*r.top1_agreement, 1.0);
  EXPECT_EQ(r.mark, "✅");
  EXPECT_EQ(f.cells[1].status, "oom");
  EXPECT_EQ(f.cells[1].mark, "❌");
}

TEST(ProfileReader, ReadsTheH200BenchProfile) {
  const ProfileFile f = read_profile(h200_emulated_profile());
  EXPECT_EQ(f.device_name, "NVIDIA H200");
  EXPECT_EQ(f.vram_limit.value_or(""), "8GiB");
  ASSERT_EQ(f.cells.size(), 1u);
  EXPECT_EQ(f.cells[0].model, "vit-b16");
  EXPECT_EQ(f.cells[0].max_batch, 3646);
  EXPECT_TRUE(f.cells[0].prediction_confirmed);
}

TEST(ProfileReader, TruncatedJsonNamesTheFileAndTheByte) {
  TempDir t;
  const std::string text = profile::to_json(sample()).dump(2);
  const fs::path p = t.write("cut.json", text.substr(0, text.size() / 2));
  const std::string e = error_of(p);
  EXPECT_NE(e.find(p.string()), std::string::npos) << e;
  EXPECT_NE(e.find("not valid JSON"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
}

TEST(ProfileReader, AnotherSchemaVersionIsAnErrorNamingTheFile) {
  TempDir t;
  nlohmann::json j = profile::to_json(sample());
  j["schema_version"] = 2;
  const fs::path p = t.write("v2.json", j.dump());
  const std::string e = error_of(p);
  EXPECT_NE(e.find(p.string()), std::string::npos) << e;
  EXPECT_NE(e.find("schema_version 2"), std::string::npos) << e;
  EXPECT_NE(e.find("reads schema_version 1"), std::string::npos) << e;
}

TEST(ProfileReader, MissingFieldNamesItsPath) {
  TempDir t;
  nlohmann::json j = profile::to_json(sample());
  j["results"][1]["max_batch"].erase("predicted");
  const fs::path p = t.write("missing.json", j.dump());
  const std::string e = error_of(p);
  EXPECT_NE(e.find(p.string()), std::string::npos) << e;
  EXPECT_NE(e.find("results[1].max_batch"), std::string::npos) << e;
  EXPECT_NE(e.find("'predicted'"), std::string::npos) << e;

  j = profile::to_json(sample());
  j["results"][0]["measurements"][0]["vram_bytes"]["process_total"] = "a lot";
  const std::string e2 = error_of(t.write("mistyped.json", j.dump()));
  EXPECT_NE(e2.find("results[0].measurements[0].vram_bytes.process_total"), std::string::npos) << e2;
}

TEST(ProfileReader, RunJsonAndMissingFilesAreNamed) {
  TempDir t;
  const fs::path run = t.write("run.json", R"({"schema_version": 1, "command": "run", "device": "x", "rows": []})");
  EXPECT_NE(error_of(run).find("`vramfit run` result, not a profile"), std::string::npos) << error_of(run);
  const fs::path none = t.path() / "nope" / "profile.json";
  EXPECT_NE(error_of(none).find(none.string() + ": no such profile"), std::string::npos) << error_of(none);
  const fs::path arr = t.write("arr.json", "[1, 2]");
  EXPECT_NE(error_of(arr).find("expected a JSON object"), std::string::npos) << error_of(arr);
}

}  // namespace
