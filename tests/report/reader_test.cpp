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
  EXPECT_EQ(r.status, Outcome::ok);
  EXPECT_EQ(r.max_batch, d.results[0].max_batch.found);
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
  EXPECT_EQ(r.mark, Mark::fits);
  EXPECT_EQ(f.cells[1].status, Outcome::oom);
  EXPECT_EQ(f.cells[1].mark, Mark::fails);
}

TEST(ProfileReader, ReadsLlmRowsBesideVisionRows) {
  TempDir t;
  auto d = sample();
  const std::uint64_t budget = d.budget_bytes;
  d.llm_results.push_back(llm_cell("llama-7b", Precision::fp16, budget, d.context_bytes));  // does not fit
  d.llm_results.push_back(llm_cell("llama-7b", Precision::int8, budget, d.context_bytes));
  d.llm_results.push_back(llm_cell("llama-7b", Precision::int4, budget, d.context_bytes));
  d.llm_results.push_back(llm_cell("llama-7b", Precision::fp32, budget, d.context_bytes));  // unsupported
  const ProfileFile f = read_profile(write_profile(t, "p.json", d));
  ASSERT_EQ(f.cells.size(), 2u);
  ASSERT_EQ(f.llm_cells.size(), 4u);
  const ProfiledLlmCell& fp16 = f.llm_cells[0];
  EXPECT_EQ(fp16.status, Outcome::oom);
  EXPECT_NE(fp16.reason.find("weights alone need"), std::string::npos);
  EXPECT_EQ(fp16.max_context, 0);
  EXPECT_FALSE(fp16.prefill_tokens_per_s);
  const ProfiledLlmCell& int8 = f.llm_cells[1];
  EXPECT_EQ(int8.model, "llama-7b");
  ASSERT_TRUE(int8.precision);
  EXPECT_EQ(*int8.precision, Precision::int8);
  EXPECT_EQ(int8.status, Outcome::ok);
  EXPECT_EQ(int8.context, 512);
  EXPECT_EQ(int8.model_max_context, 4096);
  EXPECT_EQ(int8.kv_bytes_per_token, 512u * 1024u);
  EXPECT_EQ(int8.weights_bytes, d.llm_results[1].weights_bytes);
  EXPECT_EQ(int8.max_context, d.llm_results[1].max_context.found);
  EXPECT_EQ(int8.predicted_max_context, int8.max_context);
  EXPECT_TRUE(int8.prediction_confirmed);
  EXPECT_FALSE(int8.capped);
  EXPECT_EQ(int8.prefill_tokens.value_or(0), 511);
  EXPECT_DOUBLE_EQ(int8.prefill_tokens_per_s.value_or(0), 20000.0);
  EXPECT_DOUBLE_EQ(int8.decode_tokens_per_s.value_or(0), 300.0);
  EXPECT_DOUBLE_EQ(int8.decode_tokens_per_s_max_context.value_or(0), 300.0);
  EXPECT_TRUE(int8.vram_at_context_bytes);
  EXPECT_EQ(int8.mark, Mark::fits);
  EXPECT_TRUE(f.llm_cells[2].capped);
  EXPECT_EQ(f.llm_cells[2].max_context, 4096);
  EXPECT_EQ(f.llm_cells[3].status, Outcome::unsupported);
}

TEST(ProfileReader, VersionOneFilesWithoutKindAreVisionRows) {
  TempDir t;
  nlohmann::json j = profile::to_json(sample());
  j["schema_version"] = 1;
  for (auto& r : j["results"]) r.erase("kind");
  const ProfileFile f = read_profile(t.write("v1.json", j.dump()));
  EXPECT_EQ(f.cells.size(), 2u);
  EXPECT_TRUE(f.llm_cells.empty());
  // Version 2 names every row's kind.
  j["schema_version"] = 2;
  EXPECT_NE(error_of(t.write("v2.json", j.dump())).find("results[0]: missing field 'kind'"), std::string::npos);
  j["results"][0]["kind"] = "audio";
  EXPECT_NE(error_of(t.write("v2k.json", j.dump())).find("results[0].kind: unknown kind 'audio'"), std::string::npos);
}

TEST(ProfileReader, LlmRowMissingFieldNamesItsPath) {
  TempDir t;
  auto d = sample();
  d.llm_results.push_back(llm_cell("llama-7b", Precision::int4, d.budget_bytes, d.context_bytes));
  nlohmann::json j = profile::to_json(d);
  j["results"][2]["max_context"].erase("prediction_confirmed");
  const std::string e = error_of(t.write("m.json", j.dump()));
  EXPECT_NE(e.find("results[2].max_context: missing field 'prediction_confirmed'"), std::string::npos) << e;
  j = profile::to_json(d);
  j["results"][2]["decode_tokens_per_s"] = "fast";
  const std::string e2 = error_of(t.write("m2.json", j.dump()));
  EXPECT_NE(e2.find("results[2].decode_tokens_per_s: expected a number or null"), std::string::npos) << e2;
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
  j["schema_version"] = 3;
  const fs::path p = t.write("v3.json", j.dump());
  const std::string e = error_of(p);
  EXPECT_NE(e.find(p.string()), std::string::npos) << e;
  EXPECT_NE(e.find("schema_version 3"), std::string::npos) << e;
  EXPECT_NE(e.find("reads schema_version 1 to 2"), std::string::npos) << e;
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
  EXPECT_NE(error_of(none).find(none.string() + ": no such file (expected a profile.json"), std::string::npos) << error_of(none);
  const fs::path arr = t.write("arr.json", "[1, 2]");
  EXPECT_NE(error_of(arr).find("expected a JSON object"), std::string::npos) << error_of(arr);
}

}  // namespace
