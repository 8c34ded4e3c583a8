// Decoder-LLM rows of the profile matrix without a GPU: the "run a worker" seam faked as a card that
// holds every context up to a known capacity, the plan's numbers from models/decoder_plan.h, and the
// rows through the journal, the JSON (and its schema), constraints.md and report.html.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sstream>

#include "core/atomic_file.h"
#include "core/bytes.h"
#include "predict/llm_fit.h"
#include "profile/profile.h"
#include "report/profile_printers.h"

using namespace vramfit;
using namespace vramfit::profile;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// An 8 GiB card less a 540 MiB CUDA context: the budget of `--vram-limit 8GiB` on the H200.
constexpr std::uint64_t kBudget8 = 8 * GiB - 540 * MiB;

// A fake card for LLM configurations: every context ≤ capacity fits.
struct FakeLlmGpu {
  std::int64_t capacity = 0;
  std::string fail_with;  // non-empty: every answer has this status ("unsupported", "error")
  std::vector<nlohmann::json> configs;
  WorkerFn fn() {
    return [this](const nlohmann::json& c) -> nlohmann::json {
      configs.push_back(c);
      if (!fail_with.empty()) return {{"status", fail_with}, {"reason", "fake: " + fail_with}};
      EXPECT_EQ(c.at("kind"), "llm");
      const std::int64_t ctx = c.at("context").get<std::int64_t>();
      if (ctx > capacity) return {{"status", "oom"}, {"reason", "fake: device arena needs more than the budget"}};
      nlohmann::json j{{"status", "ok"}, {"context", ctx}, {"batch", 1}, {"vram_bytes", {{"process_total", 1000 + ctx}}},
                       {"process_vram_bytes", 1002 + ctx}, {"setup_s", {{"total", 1.2}}}};
      if (c.at("measure") == "speed") {
        j["prefill_tokens"] = c.at("prefill_tokens");
        j["prefill_tokens_per_s"] = 21000.0;
      }
      if (c.value("decode_steps", 0) > 0) {
        j["decode_steps"] = c["decode_steps"];
        j["decode_tokens_per_s"] = ctx > 1000 ? 250.0 : 320.0;
      }
      return j;
    };
  }
  std::vector<nlohmann::json> of(const std::string& measure) const {
    std::vector<nlohmann::json> v;
    for (const auto& c : configs)
      if (c.value("measure", "") == measure) v.push_back(c);
    return v;
  }
};

std::int64_t planned_max_context(const char* model, Precision p, std::uint64_t budget) {
  return max_context_under(find_model(model).decoder(), p, budget, 1, LlmPlanOptions{});
}

}  // namespace

TEST(LlmMatrix, PredictionConfirmedByFitAndOneMoreThenSpeedAt512) {
  const auto& m = find_model("llama-7b");
  MatrixOptions o;
  const std::int64_t predicted = planned_max_context("llama-7b", Precision::int8, kBudget8);
  ASSERT_GT(predicted, 512);
  ASSERT_LT(predicted, 4096);  // memory-bound, not the model's limit
  FakeLlmGpu gpu{predicted, "", {}};
  const auto r = profile_llm_precision(m, Precision::int8, o, kBudget8, gpu.fn());
  EXPECT_EQ(r.outcome, Outcome::ok) << r.reason;
  EXPECT_EQ(r.max_context.predicted, predicted);
  EXPECT_EQ(r.max_context.found, predicted);
  EXPECT_TRUE(r.max_context.prediction_confirmed);
  EXPECT_FALSE(r.max_context.capped);
  // Three workers: the predicted max (fits, decode timed there), one token more (oom, no timing), speed.
  ASSERT_EQ(gpu.configs.size(), 3u);
  EXPECT_EQ(gpu.configs[0]["measure"], "fit");
  EXPECT_EQ(gpu.configs[0]["context"], predicted);
  EXPECT_EQ(gpu.configs[0]["decode_steps"], o.llm_fit_decode_steps());
  EXPECT_EQ(gpu.configs[1]["measure"], "fit");
  EXPECT_EQ(gpu.configs[1]["context"], predicted + 1);
  EXPECT_EQ(gpu.configs[1]["decode_steps"], 0);
  EXPECT_EQ(gpu.configs[2]["measure"], "speed");
  EXPECT_EQ(gpu.configs[2]["context"], 512);
  EXPECT_EQ(gpu.configs[2]["prefill_tokens"], 511);  // a 512-position session keeps one to decode
  EXPECT_EQ(gpu.configs[2]["decode_steps"], o.llm_decode_steps());
  for (const auto& c : gpu.configs) {
    EXPECT_EQ(c["model"], "llama-7b");
    EXPECT_EQ(c["precision"], "int8");
    EXPECT_EQ(c["batch"], 1);
    for (const char* k : {"vram_limit", "reserve", "device", "seed", "prefill_chunk", "workspace"}) EXPECT_TRUE(c.contains(k)) << k;
  }
  ASSERT_TRUE(r.speed && r.at_max);
  EXPECT_EQ((*r.at_max)["context"], predicted);
  // The plan's numbers: llama-7b's KV cache is 2 · 32 layers · 4096 · 2 bytes per token.
  EXPECT_EQ(r.kv_bytes_per_token, 512u * 1024u);
  EXPECT_GT(r.weights_bytes, 6 * GiB);
  EXPECT_LE(r.predicted_bytes_at_max, kBudget8);
  EXPECT_EQ(status_mark(r).mark, "✅");
}

TEST(LlmMatrix, ModelLimitNeedsOneFitOnly) {
  const auto& m = find_model("llama-7b");
  MatrixOptions o;
  o.quick = true;
  ASSERT_EQ(planned_max_context("llama-7b", Precision::int4, kBudget8), 4096);
  FakeLlmGpu gpu{1 << 20, "", {}};
  const auto r = profile_llm_precision(m, Precision::int4, o, kBudget8, gpu.fn());
  EXPECT_EQ(r.outcome, Outcome::ok);
  EXPECT_EQ(r.max_context.found, 4096);
  EXPECT_TRUE(r.max_context.capped);
  EXPECT_TRUE(r.max_context.prediction_confirmed);
  ASSERT_EQ(gpu.configs.size(), 2u);
  EXPECT_EQ(gpu.of("fit").front()["context"], 4096);
  EXPECT_EQ(gpu.of("speed").front()["decode_steps"], 32);  // --quick
  EXPECT_EQ(status_mark(r).mark, "✅");
}

TEST(LlmMatrix, DoesNotFitIsOomWithThePlannersReasonAndOneCheapProbe) {
  const auto& m = find_model("llama-7b");
  FakeLlmGpu gpu{0, "", {}};
  const auto r = profile_llm_precision(m, Precision::fp16, MatrixOptions{}, kBudget8, gpu.fn());
  EXPECT_EQ(r.outcome, Outcome::oom);
  EXPECT_NE(r.reason.find("weights alone need 12.5"), std::string::npos) << r.reason;
  EXPECT_EQ(r.max_context.found, 0);
  EXPECT_TRUE(r.max_context.prediction_confirmed);
  // One worker at context 1 (its session fails allocating, before any weight exists); no speed run.
  ASSERT_EQ(gpu.configs.size(), 1u);
  EXPECT_EQ(gpu.configs[0]["context"], 1);
  EXPECT_FALSE(r.speed);
  EXPECT_FALSE(r.at_max);
  const StatusMark sm = status_mark(r);
  EXPECT_EQ(sm.mark, "❌");
  EXPECT_NE(sm.note.find("weights alone need"), std::string::npos) << sm.note;
}

TEST(LlmMatrix, DisagreementIsSearchedTimedAtTheTruthAndReported) {
  const auto& m = find_model("llama-7b");
  MatrixOptions o;
  const std::int64_t predicted = planned_max_context("llama-7b", Precision::int8, kBudget8);
  for (const std::int64_t truth : {predicted - 37, predicted + 50}) {
    FakeLlmGpu gpu{truth, "", {}};
    const auto r = profile_llm_precision(m, Precision::int8, o, kBudget8, gpu.fn());
    EXPECT_EQ(r.outcome, Outcome::ok);
    EXPECT_EQ(r.max_context.found, truth);
    EXPECT_EQ(r.max_context.predicted, predicted);
    EXPECT_FALSE(r.max_context.prediction_confirmed);
    ASSERT_TRUE(r.at_max);
    EXPECT_EQ((*r.at_max)["context"], truth);
    EXPECT_EQ((*r.at_max)["status"], "ok");
    EXPECT_GT((*r.at_max).value("decode_tokens_per_s", 0.0), 0.0);
    // Search probes are untimed; only the first probe and the final one at the truth time decode.
    std::size_t timed = 0;
    for (const auto& c : gpu.of("fit")) timed += c["decode_steps"].get<std::int64_t>() > 0;
    EXPECT_EQ(timed, 2u);
    const StatusMark sm = status_mark(r);
    EXPECT_EQ(sm.mark, "⚠️");
    EXPECT_NE(sm.note.find(fmt::format("planner predicted max context {}, the GPU ran {}", predicted, truth)), std::string::npos) << sm.note;
  }
}

TEST(LlmMatrix, MaxContextBelowTheSpeedContextSkipsSpeedWithAReason) {
  const auto& m = find_model("llama-7b");
  const auto c = m.decoder();
  // A budget that holds the int4 weights and about 300 tokens.
  const std::uint64_t budget = plan_llm_memory(c, Precision::int4, 300, 1).total_bytes();
  const std::int64_t predicted = max_context_under(c, Precision::int4, budget, 1);
  ASSERT_GE(predicted, 300);
  ASSERT_LT(predicted, 512);
  FakeLlmGpu gpu{predicted, "", {}};
  const auto r = profile_llm_precision(m, Precision::int4, MatrixOptions{}, budget, gpu.fn());
  EXPECT_EQ(r.outcome, Outcome::ok);
  EXPECT_FALSE(r.speed);
  EXPECT_TRUE(gpu.of("speed").empty());
  EXPECT_NE(r.speed_note.find("context 512 does not fit"), std::string::npos) << r.speed_note;
  EXPECT_EQ(status_mark(r).mark, "⚠️");
}

TEST(LlmMatrix, UnsupportedPrecisionsAreRowsWithTheReasonAndNoWorker) {
  const auto& m = find_model("llama-7b");
  const auto c = m.decoder();
  // Data-driven: whatever llm_unsupported_reason says today (the GGUF types join when the engine runs them).
  std::vector<Precision> ps = default_llm_precisions();
  ps.push_back(Precision::fp32);
  for (Precision p : ps) {
    FakeLlmGpu gpu{1 << 20, "", {}};
    const auto r = profile_llm_precision(m, p, MatrixOptions{}, 64 * GiB, gpu.fn());
    if (const auto why = llm_unsupported_reason(c, p)) {
      EXPECT_EQ(r.outcome, Outcome::unsupported) << to_string(p);
      EXPECT_EQ(r.reason, *why);
      EXPECT_TRUE(gpu.configs.empty()) << to_string(p);
      EXPECT_EQ(status_mark(r).mark, "❌");
      const auto j = to_json(r);
      EXPECT_EQ(j["max_context"]["status"], "unsupported");
      EXPECT_EQ(j["max_context_batch1"], 0);
    } else {
      EXPECT_EQ(r.outcome, Outcome::ok) << to_string(p) << ": " << r.reason;
      EXPECT_FALSE(gpu.configs.empty());
    }
  }
  EXPECT_TRUE(llm_unsupported_reason(c, Precision::fp32).has_value());
}

TEST(LlmMatrix, AWorkerThatFailsEndsTheRowWithItsStatus) {
  const auto& m = find_model("llama-7b");
  for (const char* st : {"unsupported", "error"}) {
    FakeLlmGpu gpu{0, st, {}};
    const auto r = profile_llm_precision(m, Precision::int4, MatrixOptions{}, kBudget8, gpu.fn());
    EXPECT_EQ(to_string(r.outcome), st);
    EXPECT_NE(r.reason.find("fake: "), std::string::npos) << r.reason;
    EXPECT_EQ(gpu.configs.size(), 1u);
    EXPECT_EQ(status_mark(r).mark, "❌");
  }
}

TEST(LlmMatrix, PrecisionsPerFamilyAndTheFlagFiltersBoth) {
  const auto& llama = find_model("llama-7b");
  const auto& resnet = find_model("resnet50");
  EXPECT_EQ(precisions_for(llama, {}, 90), default_llm_precisions());
  EXPECT_EQ(default_llm_precisions(), (std::vector<Precision>{Precision::fp16, Precision::int8, Precision::int4, Precision::q8_0,
                                                              Precision::q4_0, Precision::q4_k_m}));
  EXPECT_EQ(precisions_for(resnet, {}, 90), (std::vector<Precision>{Precision::fp32, Precision::fp16, Precision::bf16}));
  EXPECT_EQ(precisions_for(resnet, {}, 75), (std::vector<Precision>{Precision::fp32, Precision::fp16}));
  const std::vector<Precision> asked{Precision::fp16, Precision::int4};
  EXPECT_EQ(precisions_for(llama, asked, 90), asked);
  EXPECT_EQ(precisions_for(resnet, asked, 90), asked);
}

namespace {

// llama-7b at 8 GiB as `vramfit llm` found it on the H200 (fp16 does not fit, int8 memory-bound, int4 at
// the model's limit), through fake worker processes (a card that holds what the plan says) and the journal.
ProfileDoc llm_doc(const fs::path& dir, int* started, bool resume) {
  ProfileDoc d;
  d.system_id = "fake-llm-host";
  d.date = "2026-11-29T12:00:00Z";
  d.vramfit_version = "0.1.0";
  d.device = {{"name", "Fake GPU"}, {"summary", "Fake GPU (sm_90, test)"}, {"compute_capability", "9.0"}};
  d.vram_limit = "8GiB";
  d.vram_limit_bytes = 8 * GiB;
  d.budget_bytes = kBudget8;
  d.context_bytes = 540 * MiB;
  MatrixOptions o;
  o.vram_limit = 8 * GiB;
  o.quick = true;
  Journal journal((dir / "journal.jsonl").string(), resume);
  const WorkerFn run = journaled_worker_fn(journal, process_worker_fn(WorkerCommand{VRAMFIT_FAKE_WORKER, {}}, 20s, started));
  ::unsetenv("VRAMFIT_FAKE_MAX_CONTEXT");  // the fake card holds what the plan says (helper/fake_worker.cpp)
  for (Precision p : precisions_for(find_model("llama-7b"), {}, 90))
    d.llm_results.push_back(profile_llm_precision(find_model("llama-7b"), p, o, d.budget_bytes, run));
  return d;
}

class LlmRows : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vramfit_llm_rows_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    doc_ = llm_doc(dir_, &started_, false);
  }
  void TearDown() override { fs::remove_all(dir_); }
  const LlmPrecisionResult& row(Precision p) const {
    for (const auto& r : doc_.llm_results)
      if (r.precision == p) return r;
    throw std::runtime_error("no row");
  }
  fs::path dir_;
  ProfileDoc doc_;
  int started_ = 0;
};

std::string python_with_jsonschema() {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("VRAMFIT_PYTHON")) candidates.push_back(p);
  candidates.push_back(std::string(VRAMFIT_SOURCE_DIR) + "/.venv/bin/python");
  candidates.push_back("python3");
  for (const auto& c : candidates)
    if (std::system(("'" + c + "' -c 'import jsonschema' >/dev/null 2>&1").c_str()) == 0) return c;
  return "";
}

}  // namespace

TEST_F(LlmRows, ThroughWorkerProcessesEachPrecisionGetsItsRow) {
  ASSERT_EQ(doc_.llm_results.size(), default_llm_precisions().size());
  EXPECT_EQ(row(Precision::fp16).outcome, Outcome::oom);
  EXPECT_EQ(row(Precision::int8).outcome, Outcome::ok);
  EXPECT_TRUE(row(Precision::int8).max_context.prediction_confirmed);
  EXPECT_EQ(row(Precision::int4).max_context.found, 4096);
  // fp16: 1 probe; int8: fit, fit + 1, speed; int4: fit at the model's limit, speed; the others as the
  // engine says (unsupported: none; supported: at least a fit).
  int expected = 1 + 3 + 2;
  const auto c = find_model("llama-7b").decoder();
  for (Precision p : {Precision::q8_0, Precision::q4_0, Precision::q4_k_m})
    if (!llm_unsupported_reason(c, p)) expected += 1;
  EXPECT_GE(started_, expected);
  if (llm_unsupported_reason(c, Precision::q8_0)) {
    EXPECT_EQ(started_, expected);
    EXPECT_EQ(row(Precision::q8_0).outcome, Outcome::unsupported);
  }
}

TEST_F(LlmRows, ResumeRunsNothingAgainAndGivesTheSameRows) {
  nlohmann::json first = to_json(doc_);
  int again = 0;
  const ProfileDoc second = llm_doc(dir_, &again, true);
  EXPECT_EQ(again, 0);
  nlohmann::json b = to_json(second);
  EXPECT_EQ(b["results"], first["results"]);
}

TEST_F(LlmRows, JsonFieldsOfAnLlmRow) {
  const auto j = to_json(doc_);
  EXPECT_EQ(j["schema_version"], kProfileSchemaVersion);
  ASSERT_EQ(j["results"].size(), doc_.llm_results.size());
  const auto& r = j["results"][1];  // int8
  ASSERT_EQ(r["precision"], "int8");
  std::set<std::string> keys;
  for (auto it = r.begin(); it != r.end(); ++it) keys.insert(it.key());
  EXPECT_EQ(keys, (std::set<std::string>{"kind", "model", "precision", "status", "budget_bytes", "context", "batch", "model_max_context",
                                         "weights_bytes", "kv_bytes_per_token", "predicted_bytes", "max_context_batch1", "max_context",
                                         "prefill_tokens", "prefill_tokens_per_s", "decode_tokens_per_s", "decode_tokens_per_s_max_context",
                                         "vram_at_context_bytes", "measurements", "mark"}));
  const std::int64_t mc = planned_max_context("llama-7b", Precision::int8, kBudget8);
  EXPECT_EQ(r["kind"], "llm");
  EXPECT_EQ(r["context"], 512);
  EXPECT_EQ(r["batch"], 1);
  EXPECT_EQ(r["model_max_context"], 4096);
  EXPECT_EQ(r["kv_bytes_per_token"], 524288);
  EXPECT_EQ(r["max_context_batch1"], mc);
  EXPECT_EQ(r["prefill_tokens"], 511);
  EXPECT_EQ(r["prefill_tokens_per_s"], 20000.0);
  EXPECT_GT(r["decode_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(r["decode_tokens_per_s_max_context"].get<double>(), 0);
  EXPECT_EQ(r["mark"], "✅");
  const auto& m = r["max_context"];
  EXPECT_EQ(m["predicted"], mc);
  EXPECT_EQ(m["max_context"], mc);
  EXPECT_EQ(m["model_limit"], 4096);
  EXPECT_EQ(m["prediction_confirmed"], true);
  EXPECT_EQ(m["capped"], false);
  ASSERT_EQ(m["probes"].size(), 2u);
  EXPECT_EQ(m["probes"][0], (nlohmann::json{{"context", mc}, {"status", "ok"}}));
  EXPECT_EQ(m["probes"][1]["context"], mc + 1);
  EXPECT_EQ(m["probes"][1]["status"], "oom");
  ASSERT_EQ(r["measurements"].size(), 2u);
  EXPECT_EQ(r["measurements"][0]["measure"], "speed");
  EXPECT_EQ(r["measurements"][0]["context"], 512);
  EXPECT_EQ(r["measurements"][1]["measure"], "fit");
  EXPECT_EQ(r["measurements"][1]["context"], mc);
  for (const auto& x : r["measurements"]) {
    EXPECT_EQ(x["kind"], "llm");
    EXPECT_EQ(x["model"], "llama-7b");
    EXPECT_GT(x["process_vram_bytes"].get<std::uint64_t>(), 0u);
    EXPECT_TRUE(x.contains("worker_wall_s"));
  }
  const auto& f = j["results"][0];  // fp16: does not fit
  EXPECT_EQ(f["status"], "oom");
  EXPECT_EQ(f["max_context_batch1"], 0);
  EXPECT_EQ(f["prefill_tokens_per_s"], nullptr);
  EXPECT_TRUE(f["measurements"].empty());
  EXPECT_EQ(f["mark"], "❌");
}

TEST_F(LlmRows, JsonValidatesAgainstTheSchemaWithVisionRowsBeside) {
  const std::string python = python_with_jsonschema();
  if (python.empty()) GTEST_SKIP() << "no Python with jsonschema (set VRAMFIT_PYTHON); the field test above still ran";
  ModelPrecisionResult v;  // a vision row beside the LLM rows
  v.model = "resnet50";
  v.precision = Precision::bf16;
  v.outcome = Outcome::unsupported;
  v.reason = "bf16 needs compute capability 8.0";
  v.max_batch.outcome = Outcome::unsupported;
  v.max_batch.ceiling = 4096;
  doc_.results.push_back(v);
  const std::string path = (dir_ / "profile.json").string();
  const std::string schema = std::string(VRAMFIT_SOURCE_DIR) + "/schema/profile.schema.json";
  const std::string script = "import json,sys,jsonschema; s=json.load(open(sys.argv[1])); jsonschema.Draft202012Validator.check_schema(s); "
                             "jsonschema.Draft202012Validator(s).validate(json.load(open(sys.argv[2])))";
  auto valid = [&](const nlohmann::json& j) {
    write_file_atomic(path, j.dump(2));
    return std::system(("'" + python + "' -c \"" + script + "\" '" + schema + "' '" + path + "' 2>/dev/null").c_str()) == 0;
  };
  const auto j = to_json(doc_);
  EXPECT_TRUE(valid(j));
  // Not vacuous: an LLM row without its max context, or with a vision-only field missing its kind, fails.
  auto bad = j;
  bad["results"][1].erase("max_context");
  EXPECT_FALSE(valid(bad));
  bad = j;
  bad["results"][1]["max_context"]["probes"][0].erase("context");
  EXPECT_FALSE(valid(bad));
  bad = j;
  bad["results"][1]["kind"] = "vision";  // then it must have max_batch, measurements of kind "measure", …
  EXPECT_FALSE(valid(bad));
}

TEST_F(LlmRows, ConstraintsAndHtmlHaveTheLlmTable) {
  const std::string md = profile_markdown(doc_);
  const std::size_t sec = md.find("## Decoder LLMs (batch 1)");
  ASSERT_NE(sec, std::string::npos) << md;
  const std::int64_t mc = planned_max_context("llama-7b", Precision::int8, kBudget8);
  EXPECT_NE(md.find(fmt::format("| llama-7b | int8 | 6.5"), sec), std::string::npos) << md;
  EXPECT_NE(md.find(fmt::format("| {} ✓ |", mc), sec), std::string::npos) << md;
  EXPECT_NE(md.find("| 4096 (model max) ✓ |", sec), std::string::npos) << md;
  EXPECT_NE(md.find("| 512.0 KiB |", sec), std::string::npos) << md;
  EXPECT_NE(md.find("| 20000.0 |", sec), std::string::npos) << md;
  const std::size_t why = md.find("## What does not fit, and why");
  ASSERT_NE(why, std::string::npos);
  EXPECT_GT(why, sec);
  EXPECT_NE(md.find("**llama-7b fp16** (oom): weights alone need", why), std::string::npos) << md;
  EXPECT_NE(md.find(fmt::format("**llama-7b int8**: context {} at batch 1 does not fit", mc + 1), why), std::string::npos) << md;
  // Every row of the LLM table has the header's 10 columns.
  std::istringstream lines(md.substr(sec));
  std::string line;
  int rows = 0;
  while (std::getline(lines, line) && (line.empty() || line[0] == '|' || line[0] == '#')) {
    if (line.rfind("| llama-7b", 0) == 0) {
      ++rows;
      std::size_t bars = 0;
      for (std::size_t i = 0; i < line.size(); ++i) bars += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
      EXPECT_EQ(bars, 11u) << line;
    }
  }
  EXPECT_EQ(rows, static_cast<int>(doc_.llm_results.size()));
  EXPECT_EQ(md.find("| max batch |"), std::string::npos) << "no vision table in a profile of LLMs only";
  const std::string html = profile_html(doc_);
  EXPECT_EQ(html.find("<svg"), std::string::npos) << "no batch charts in a profile of LLMs only";
  EXPECT_NE(html.find("<h2>Decoder LLMs (batch 1)</h2>"), std::string::npos);
  std::size_t n = 0;
  for (std::size_t p = html.find("<tr class=\"llm\">"); p != std::string::npos; p = html.find("<tr class=\"llm\">", p + 1)) ++n;
  EXPECT_EQ(n, doc_.llm_results.size());
  EXPECT_EQ(html.find("<script"), std::string::npos);
}
