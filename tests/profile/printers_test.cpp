// The whole pipeline without a GPU — fake worker processes → journal → matrix → ProfileDoc — and its
// views: profile.json (structure, and the JSON Schema where Python's jsonschema exists),
// constraints.md and report.html.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/bytes.h"
#include "profile/profile.h"
#include "report/profile_printers.h"

using namespace vramfit;
using namespace vramfit::profile;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + what.size())) ++n;
  return n;
}

// resnet50 at fp16 (fits, prediction confirmed by a fake card of exactly the planner's capacity),
// vit-b16 at fp32 (the card holds 7 fewer than predicted), and two that do not run.
ProfileDoc sample_doc(const fs::path& dir) {
  ProfileDoc d;
  d.system_id = sanitize_system_id("Test Host/NVIDIA Fake GPU");
  d.date = "2026-11-28T12:00:00Z";
  d.vramfit_version = "0.1.0";
  d.device = {{"name", "Fake GPU"}, {"summary", "Fake GPU (sm_90, test)"}, {"compute_capability", "9.0"}, {"total_bytes", 8 * GiB}};
  d.software = {{"cudnn", "cuDNN test"}, {"cublaslt", "cuBLASLt test"}, {"cuda", "CUDA test"}};
  d.vram_limit = "2GiB";
  d.vram_limit_bytes = 2 * GiB;
  d.budget_bytes = 1536 * MiB;
  d.context_bytes = 512 * MiB;
  d.max_batch_ceiling = 4096;
  MatrixOptions o;
  o.vram_limit = 2 * GiB;
  o.quick = true;
  Journal journal((dir / "journal.jsonl").string(), false);
  int started = 0;
  const WorkerFn spawn = process_worker_fn(WorkerCommand{VRAMFIT_FAKE_WORKER, {}}, 20s, &started);
  const WorkerFn run = journaled_worker_fn(journal, spawn);

  const auto& r50 = find_model("resnet50");
  const auto cap16 = max_batch_under(r50, Precision::fp16, d.budget_bytes, o.max_batch_ceiling, o.workspace).max_batch;
  ::setenv("VRAMFIT_FAKE_MAX_BATCH", std::to_string(cap16).c_str(), 1);
  d.results.push_back(profile_model_precision(r50, Precision::fp16, o, d.budget_bytes, run));
  const auto& vit = find_model("vit-b16");
  const auto cap32 = max_batch_under(vit, Precision::fp32, d.budget_bytes, o.max_batch_ceiling, o.workspace).max_batch;
  ::setenv("VRAMFIT_FAKE_MAX_BATCH", std::to_string(cap32 - 7).c_str(), 1);
  d.results.push_back(profile_model_precision(vit, Precision::fp32, o, d.budget_bytes, run));
  ::unsetenv("VRAMFIT_FAKE_MAX_BATCH");

  ModelPrecisionResult u;
  u.model = "resnet50";
  u.precision = Precision::bf16;
  u.outcome = Outcome::unsupported;
  u.reason = "bf16 needs compute capability 8.0; Fake GPU is 7.5";
  u.max_batch.outcome = Outcome::unsupported;
  u.max_batch.ceiling = 4096;
  u.max_batch.probes.push_back({1, Outcome::unsupported, u.reason});
  d.results.push_back(u);
  ModelPrecisionResult e = u;
  e.precision = Precision::fp32;
  e.outcome = Outcome::error;
  e.reason = "batch 1: worker crashed: signal 11 (Segmentation fault)";
  e.max_batch.outcome = Outcome::error;
  d.results.push_back(e);
  return d;
}

class Printers : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vramfit_printers_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    doc_ = sample_doc(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  ProfileDoc doc_;
};

}  // namespace

TEST_F(Printers, MatrixThroughFakeWorkersFindsEachCardsMaxBatch) {
  ASSERT_EQ(doc_.results.size(), 4u);
  const auto& a = doc_.results[0];
  EXPECT_EQ(a.outcome, Outcome::ok);
  EXPECT_TRUE(a.max_batch.prediction_confirmed);
  ASSERT_TRUE(a.fidelity);
  EXPECT_EQ((*a.fidelity)["status"], "ok");
  const auto& b = doc_.results[1];
  EXPECT_EQ(b.max_batch.found, b.max_batch.predicted - 7);
  EXPECT_FALSE(b.max_batch.prediction_confirmed);
  EXPECT_EQ(status_mark(a).mark, "✅");
  EXPECT_EQ(status_mark(b).mark, "⚠️");
  EXPECT_NE(status_mark(b).note.find("planner predicted"), std::string::npos);
  EXPECT_EQ(status_mark(doc_.results[2]).mark, "❌");
}

TEST_F(Printers, JsonHasTheDocumentedStructure) {
  const auto j = to_json(doc_);
  EXPECT_EQ(j["schema_version"], kProfileSchemaVersion);
  EXPECT_EQ(j["schema_version"], 2);
  EXPECT_EQ(j["command"], "profile");
  EXPECT_EQ(j["system_id"], "test-host-nvidia-fake-gpu");
  EXPECT_EQ(j["vram_limit_bytes"], 2 * GiB);
  ASSERT_EQ(j["results"].size(), 4u);
  for (const auto& r : j["results"]) {
    for (const char* k : {"kind", "model", "precision", "status", "max_batch", "measurements", "fidelity", "mark"}) EXPECT_TRUE(r.contains(k)) << k;
    EXPECT_EQ(r["kind"], "vision");
    for (const char* k : {"predicted", "max_batch", "prediction_confirmed", "probes"}) EXPECT_TRUE(r["max_batch"].contains(k)) << k;
    for (const auto& m : r["measurements"]) {
      EXPECT_EQ(m["status"], "ok");
      EXPECT_GT(m["latency_ms"]["median"].get<double>(), 0);
      EXPECT_GT(m["vram_bytes"]["process_total"].get<std::uint64_t>(), 0u);
    }
  }
  EXPECT_EQ(j["results"][1]["max_batch"]["prediction_confirmed"], false);
  EXPECT_EQ(j["results"][1]["fidelity"], nullptr);
}

TEST_F(Printers, JsonValidatesAgainstTheSchema) {
  // VRAMFIT_PYTHON names the interpreter (scripts/test sets it to the venv's); else .venv, else python3.
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("VRAMFIT_PYTHON")) candidates.push_back(p);
  candidates.push_back(std::string(VRAMFIT_SOURCE_DIR) + "/.venv/bin/python");
  candidates.push_back("python3");
  std::string python;
  for (const auto& c : candidates)
    if (std::system(("'" + c + "' -c 'import jsonschema' >/dev/null 2>&1").c_str()) == 0) {
      python = c;
      break;
    }
  if (python.empty()) GTEST_SKIP() << "no Python with jsonschema (set VRAMFIT_PYTHON); the structural test above still ran";
  const std::string path = (dir_ / "profile.json").string();
  write_file_atomic(path, to_json(doc_).dump(2));
  const std::string schema = std::string(VRAMFIT_SOURCE_DIR) + "/schema/profile.schema.json";
  const std::string script = "import json,sys,jsonschema; s=json.load(open(sys.argv[1])); jsonschema.Draft202012Validator.check_schema(s); "
                             "jsonschema.Draft202012Validator(s).validate(json.load(open(sys.argv[2])))";
  EXPECT_EQ(std::system(("'" + python + "' -c \"" + script + "\" '" + schema + "' '" + path + "'").c_str()), 0);
  // …and the schema is not vacuous: a broken document fails.
  auto bad = to_json(doc_);
  bad["results"][0]["max_batch"]["prediction_confirmed"] = "yes";
  write_file_atomic(path, bad.dump());
  EXPECT_NE(std::system(("'" + python + "' -c \"" + script + "\" '" + schema + "' '" + path + "' 2>/dev/null").c_str()), 0);
}

TEST_F(Printers, ConstraintsTableOneRowPerResultWithTheRuleAndWhatDoesNotFit) {
  const std::string md = profile_markdown(doc_);
  EXPECT_EQ(md.rfind("# GPU constraints: test-host-nvidia-fake-gpu", 0), 0u);
  EXPECT_NE(md.find("Device: Fake GPU (sm_90, test)"), std::string::npos);
  EXPECT_NE(md.find("emulated card of 2GiB"), std::string::npos);
  EXPECT_EQ(count(md, "\n| resnet50 |"), 3u);
  EXPECT_EQ(count(md, "\n| vit-b16 |"), 1u);
  EXPECT_NE(md.find("| resnet50 | fp16 | " + std::to_string(doc_.results[0].max_batch.found) + " |"), std::string::npos) << md;
  EXPECT_EQ(count(md, "✅"), 2u);  // one row + the rule
  EXPECT_NE(md.find("\nStatus: ✅ runs"), std::string::npos);
  EXPECT_NE(md.find("⚠️ runs"), std::string::npos);
  EXPECT_NE(md.find("❌ does not run"), std::string::npos);
  const std::size_t why = md.find("## What does not fit, and why");
  ASSERT_NE(why, std::string::npos);
  EXPECT_NE(md.find("**resnet50 bf16** (unsupported): bf16 needs compute capability 8.0", why), std::string::npos) << md;
  EXPECT_NE(md.find("batch " + std::to_string(doc_.results[0].max_batch.found + 1) + " does not fit", why), std::string::npos) << md;
  // Every table row has the header's column count.
  std::istringstream lines(md);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind("| ", 0) == 0 || line.rfind("|---", 0) == 0) {
      EXPECT_EQ(count(line, "|") - count(line, "\\|"), 10u) << line;
    }
}

TEST_F(Printers, HtmlIsSelfContainedWithThreeCharts) {
  const std::string html = profile_html(doc_);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(html, "<svg "), 3u);
  EXPECT_EQ(count(html, "</svg>"), 3u);
  EXPECT_EQ(count(html, "class=\"budget\""), 1u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(count(html, "http"), count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_NE(html.find("resnet50 fp16"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  // One point per ok measurement in each chart.
  std::size_t points = 0;
  for (const auto& r : doc_.results) points += r.measurements.size();
  EXPECT_EQ(count(html, "<circle "), 3 * points);
}

TEST(SystemId, Sanitised) {
  EXPECT_EQ(sanitize_system_id("gpu-box-01-NVIDIA GeForce RTX 3070 Ti"), "gpu-box-01-nvidia-geforce-rtx-3070-ti");
  EXPECT_EQ(sanitize_system_id("a//b  c_d"), "a-b-c_d");
  EXPECT_EQ(sanitize_system_id("***"), "unknown-system");
}

TEST_F(Printers, CsvHasOneLinePerMeasurementAndTheSameColumnsEverywhere) {
  const std::string csv = profile_csv(doc_);
  std::vector<std::string> lines;
  for (std::size_t at = 0, nl; (nl = csv.find('\n', at)) != std::string::npos; at = nl + 1) lines.push_back(csv.substr(at, nl - at));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].rfind("system,kind,model,precision,batch,context,status,median_ms", 0), 0u) << lines[0];
  std::size_t expected = 1;  // the header
  for (const auto& r : doc_.results) expected += std::max<std::size_t>(1, r.measurements.size());
  EXPECT_EQ(lines.size(), expected) << csv;
  const auto commas = [](const std::string& l) { return std::count(l.begin(), l.end(), ','); };
  for (const auto& l : lines) EXPECT_EQ(commas(l), commas(lines[0])) << l;  // no field here holds a comma
  EXPECT_NE(csv.find(",vision,resnet50,"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",unsupported,"), std::string::npos) << csv;
}
