// report/summary: a fleet with a profiled system, an emulated one and a predicted one; merging
// several profiles (newest wins); the planner-against-GPU check; every printer.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "fixtures.h"
#include "predict/systems.h"
#include "report/summary.h"
#include "report/summary_printers.h"

using namespace vramfit;
using namespace vramfit::test;

namespace {

constexpr std::uint64_t kCtx = 540 * MiB;  // the H200's context and handles in the fixtures

const std::string kFleet = R"(
[[system]]
id = "lab-h200"
gpu = "H200"
primary_use = "training"
profile = "lab/profile.json"

[[system]]
id = "desk-3070ti"
gpu = "RTX 3070 Ti"
primary_use = "edge classification"

[[system]]
id = "laptop-4080"
gpu = "RTX 4080 Laptop"
vram = "12GiB"
primary_use = "development"
)";

struct Fleet {
  TempDir t;
  GpuDatabase db = load_gpu_database(gpus_toml());
  SystemsFile systems;
  fs::path emulated;
  Fleet() {
    // lab-h200: profiled on itself (its own systems-file profile).
    auto lab = doc("lab-h200", "2026-11-27T09:00:00Z", "NVIDIA H200", std::nullopt, 20 * GiB, kCtx);
    lab.results.push_back(cell("resnet50", Precision::fp16, lab.budget_bytes, kCtx));
    lab.results.push_back(cell("vit-b16", Precision::fp32, lab.budget_bytes, kCtx));
    write_profile(t, "lab/profile.json", lab);
    // desk-3070ti: emulated on the H200 (--vram-limit 8GiB), given on the command line.
    auto em = doc("desk-3070ti", "2026-11-28T10:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - kCtx, kCtx);
    em.results.push_back(cell("resnet50", Precision::fp32, em.budget_bytes, kCtx));
    const std::int64_t planner = max_batch_under(find_model("resnet50"), Precision::fp16, em.budget_bytes, 4096).max_batch;
    em.results.push_back(cell("resnet50", Precision::fp16, em.budget_bytes, kCtx, planner - 7));  // the GPU disagrees
    em.results.push_back(cell("vit-b16", Precision::fp16, em.budget_bytes, kCtx));
    em.results.push_back(cell("vit-b16", Precision::fp32, em.budget_bytes, kCtx, 0));  // oom
    emulated = write_profile(t, "em/profile.json", em);
    systems = load_systems(t.write("systems.toml", kFleet), db);
  }
  Summary build(const std::vector<fs::path>& extra, SummaryOptions o = {}) const {
    std::vector<ProfileFile> ps;
    for (const auto& p : extra) ps.push_back(read_profile(p));
    o.generated = "2026-11-28T12:00:00Z";
    o.vramfit_version = "test";
    return build_summary(systems, db, ps, o);
  }
};

const SystemSummary& sys(const Summary& s, const std::string& id) {
  for (const auto& x : s.systems)
    if (x.id == id) return x;
  throw std::runtime_error("no system " + id);
}

const SummaryCell& at(const Summary& s, const std::string& id, const std::string& model, const std::string& p) {
  const SummaryCell* c = sys(s, id).find(model, p);
  if (!c) throw std::runtime_error("no cell " + id + " " + model + " " + p);
  return *c;
}

TEST(Summary, EachCellSaysWhereItsNumbersComeFrom) {
  Fleet f;
  const Summary s = f.build({f.emulated});
  ASSERT_EQ(s.systems.size(), 3u);
  EXPECT_EQ(s.models, (std::vector<std::string>{"resnet50", "vit-b16"}));
  EXPECT_EQ(s.precisions, (std::vector<std::string>{"fp32", "fp16", "bf16"}));

  // Profiled on the machine: measured latency and VRAM straight from the profile.
  const ProfileFile lab = read_profile(f.t.path() / "lab" / "profile.json");
  const SummaryCell& lr = at(s, "lab-h200", "resnet50", "fp16");
  EXPECT_EQ(lr.source, CellSource::profiled);
  EXPECT_EQ(lr.profile_path, (f.t.path() / "lab" / "profile.json").string());
  EXPECT_TRUE(lr.latency_measured);
  EXPECT_EQ(lr.max_batch, lab.cells[0].max_batch);
  ASSERT_TRUE(lr.latency_ms_max && lr.vram_at_max_bytes);
  EXPECT_DOUBLE_EQ(*lr.latency_ms_max, lab.cells[0].points.back().median_ms);
  EXPECT_EQ(*lr.vram_at_max_bytes, lab.cells[0].points.back().process_total_bytes);
  EXPECT_EQ(lr.mark, Mark::fits);
  EXPECT_EQ(at(s, "lab-h200", "resnet50", "fp32").source, CellSource::predicted);  // not in its profile
  EXPECT_EQ(sys(s, "lab-h200").context_bytes, kCtx);  // measured by its own profile
  EXPECT_EQ(sys(s, "lab-h200").status, "profiled (2 cells) + predicted (4 cells), 2026-11-27");

  // Emulated: memory from the profile, latency an estimate for the RTX 3070 Ti.
  const ProfileFile em = read_profile(f.emulated);
  const SummaryCell& er = at(s, "desk-3070ti", "resnet50", "fp32");
  EXPECT_EQ(er.source, CellSource::emulated);
  EXPECT_EQ(er.max_batch, em.cells[0].max_batch);
  EXPECT_EQ(*er.vram_at_max_bytes, em.cells[0].points.back().process_total_bytes);
  EXPECT_FALSE(er.latency_measured);
  EXPECT_NE(er.latency_source.find("RTX 3070 Ti"), std::string::npos) << er.latency_source;
  ASSERT_TRUE(er.latency_ms_max);
  EXPECT_NE(*er.latency_ms_max, em.cells[0].points.back().median_ms);  // not the H200's time
  ASSERT_TRUE(er.check);
  EXPECT_TRUE(er.check->agrees);
  EXPECT_EQ(er.mark, Mark::fits);
  const SummaryCell& oom = at(s, "desk-3070ti", "vit-b16", "fp32");
  EXPECT_EQ(oom.status, Outcome::oom);
  EXPECT_EQ(oom.mark, Mark::fails);
  EXPECT_EQ(at(s, "desk-3070ti", "vit-b16", "bf16").source, CellSource::predicted);
  EXPECT_EQ(sys(s, "desk-3070ti").status, "emulated (4 cells) + predicted (2 cells), 2026-11-28");

  // Predicted: exactly what the planner says for VRAM − the default context.
  const SummaryCell& pr = at(s, "laptop-4080", "resnet50", "fp16");
  EXPECT_EQ(pr.source, CellSource::predicted);
  const SystemSummary& lap = sys(s, "laptop-4080");
  EXPECT_EQ(lap.predicted_budget_bytes, 12 * GiB - default_context_overhead("ada").bytes);
  const BudgetFit fit = max_batch_under(find_model("resnet50"), Precision::fp16, lap.predicted_budget_bytes, 4096);
  EXPECT_EQ(pr.max_batch, fit.max_batch);
  EXPECT_EQ(*pr.vram_at_max_bytes, fit.at_max.total_bytes() + default_context_overhead("ada").bytes);
  EXPECT_EQ(lap.status, "predicted");
  // The laptop has no profile: its estimates are calibrated with the newest profile of a database GPU.
  EXPECT_NE(lap.latency_calibration.find(f.emulated.string()), std::string::npos) << lap.latency_calibration;
}

TEST(Summary, PlannerAgainstGpuDisagreementIsFlagged) {
  Fleet f;
  const Summary s = f.build({f.emulated});
  const SummaryCell& c = at(s, "desk-3070ti", "resnet50", "fp16");
  ASSERT_TRUE(c.check);
  EXPECT_FALSE(c.check->agrees);
  EXPECT_EQ(c.check->gpu_max_batch + 7, c.check->planner_max_batch);
  EXPECT_EQ(c.mark, Mark::constrained);
  EXPECT_NE(c.mark_note.find("the planner predicts max batch"), std::string::npos) << c.mark_note;
  const auto& recs = sys(s, "desk-3070ti").recommendations;
  EXPECT_TRUE(std::any_of(recs.begin(), recs.end(), [](const std::string& r) { return r.find("trust the GPU") != std::string::npos; }));
  EXPECT_NE(summary_markdown(s).find("| **no**"), std::string::npos);
}

TEST(Summary, TheH200EmulatedProfileAgreesWithThePlanner) {
  // bench/results/2026-11-28-h200: vit-b16 fp16 on an H200 emulating 8 GiB, max batch 3,646 confirmed.
  const ProfileFile f = read_profile(h200_emulated_profile());
  const auto k = check_prediction(f.cells.at(0));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->gpu_max_batch, 3646);
  EXPECT_EQ(k->planner_max_batch, 3646);
  EXPECT_EQ(k->workspace_bytes, kDefaultWorkspaceBytes);
  EXPECT_TRUE(k->agrees) << k->note;
}

TEST(Summary, NewestProfileWinsPerConfiguration) {
  Fleet f;
  auto older = doc("desk-3070ti", "2026-11-01T08:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - kCtx, kCtx);
  older.results.push_back(cell("resnet50", Precision::fp32, older.budget_bytes, kCtx));
  older.results.push_back(cell("vit-b16", Precision::bf16, older.budget_bytes, kCtx));
  auto newer = doc("desk-3070ti", "2026-11-20T08:00:00Z", "NVIDIA H200", 8 * GiB, 6 * GiB, kCtx);
  newer.results.push_back(cell("resnet50", Precision::fp32, newer.budget_bytes, kCtx));
  const fs::path po = write_profile(f.t, "older.json", older), pn = write_profile(f.t, "newer.json", newer);
  const std::int64_t newer_max = max_batch_under(find_model("resnet50"), Precision::fp32, 6 * GiB, 4096).max_batch;
  ASSERT_NE(newer_max, max_batch_under(find_model("resnet50"), Precision::fp32, 8 * GiB - kCtx, 4096).max_batch);
  for (const auto& order : {std::vector<fs::path>{po, pn}, std::vector<fs::path>{pn, po}}) {
    const Summary s = f.build(order);
    EXPECT_EQ(at(s, "desk-3070ti", "resnet50", "fp32").max_batch, newer_max);
    EXPECT_EQ(at(s, "desk-3070ti", "resnet50", "fp32").profile_path, pn.string());
    EXPECT_EQ(at(s, "desk-3070ti", "vit-b16", "bf16").profile_path, po.string());  // only the older has it
    const auto& uses = sys(s, "desk-3070ti").profiles;
    ASSERT_EQ(uses.size(), 2u);
    EXPECT_EQ(uses[0].path, po.string());  // listed oldest first
    EXPECT_EQ(uses[0].cells_used, std::vector<std::string>{"vit-b16 bf16"});
    ASSERT_EQ(uses[0].cells_superseded.size(), 1u);
    EXPECT_NE(uses[0].cells_superseded[0].find("resnet50 fp32 (by " + pn.string()), std::string::npos);
    EXPECT_EQ(uses[1].cells_used, std::vector<std::string>{"resnet50 fp32"});
    const std::string md = summary_markdown(s);
    EXPECT_NE(md.find("superseded by a newer profile: resnet50 fp32"), std::string::npos);
  }
}

TEST(Summary, AProfileOfNoSystemIsAnErrorNamingIt) {
  Fleet f;
  auto stray = doc("somewhere-else", "2026-11-28T10:00:00Z", "NVIDIA H200", std::nullopt, 8 * GiB, kCtx);
  const fs::path p = write_profile(f.t, "stray.json", stray);
  try {
    f.build({p});
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(p.string()), std::string::npos) << m;
    EXPECT_NE(m.find("'somewhere-else'"), std::string::npos) << m;
    EXPECT_NE(m.find("lab-h200, desk-3070ti, laptop-4080"), std::string::npos) << m;
  }
}

TEST(Summary, ExampleFleetWithoutProfilesFillsEveryCellOrSaysWhyNot) {
  const GpuDatabase db = load_gpu_database(gpus_toml());
  const SystemsFile systems = load_systems(source_dir() / "data" / "systems.example.toml", db);
  SummaryOptions o;
  o.precisions = {Precision::fp32, Precision::fp16, Precision::bf16, Precision::fp8, Precision::int8};
  const Summary s = build_summary(systems, db, {}, o);
  ASSERT_EQ(s.systems.size(), 3u);
  for (const auto& sy : s.systems) {
    EXPECT_EQ(sy.status, "predicted");
    ASSERT_EQ(sy.cells.size(), 2u * 5u);
    for (const auto& c : sy.cells) {
      SCOPED_TRACE(sy.id + " " + c.model + " " + c.precision);
      EXPECT_EQ(c.source, CellSource::predicted);
      if (c.status == Outcome::ok) {
        EXPECT_GT(c.max_batch, 0);
        EXPECT_TRUE(c.vram_at_max_bytes && c.latency_ms_batch1 && c.latency_ms_max);
        EXPECT_LE(*c.vram_at_max_bytes, sy.gpu.vram_bytes);
        EXPECT_TRUE(c.mark == Mark::fits || c.mark == Mark::constrained);
      } else {
        EXPECT_FALSE(c.reason.empty());
        EXPECT_TRUE(c.mark == Mark::fails || c.mark == Mark::not_applicable);
      }
    }
  }
  // fp8: the card's gate on sm_86 (❌), the engine's on sm_89/sm_120 (n/a: not implemented).
  EXPECT_EQ(at(s, "desk-3070ti", "resnet50", "fp8").mark, Mark::fails);
  EXPECT_NE(at(s, "desk-3070ti", "resnet50", "fp8").reason.find("sm_89"), std::string::npos);
  EXPECT_EQ(at(s, "desk-5070ti", "resnet50", "fp8").mark, Mark::not_applicable);
  EXPECT_EQ(s.smallest_system, "desk-3070ti");
  EXPECT_EQ(s.smallest.size(), 10u);
  // The engine's 2^31-element convolution limit binds resnet50 fp16 on 16 GB: said, not hidden.
  EXPECT_EQ(at(s, "desk-5070ti", "resnet50", "fp16").limited_by, "engine");
}

TEST(Summary, SmallestCardAndReproduce) {
  Fleet f;
  SummaryOptions o;
  o.min_batch = 2000;  // a deployment that needs batch 2,000: several cells become ⚠️
  const Summary s = f.build({f.emulated}, o);
  EXPECT_EQ(s.smallest_system, "desk-3070ti");
  auto count = [&](const std::string& cat) {
    return std::count_if(s.smallest.begin(), s.smallest.end(), [&](const Breakage& b) { return b.category == cat; });
  };
  EXPECT_EQ(count("will not work"), 1);  // vit-b16 fp32 (emulated oom)
  EXPECT_GE(count("works with constraints"), 2);
  for (const auto& b : s.smallest) EXPECT_FALSE(b.text.empty());
  const ReproduceStep& r = s.reproduce.at(1);
  EXPECT_EQ(r.system_id, "desk-3070ti");
  EXPECT_NE(r.commands.at(0).find("vramfit profile --system-id desk-3070ti -m resnet50,vit-b16 -p fp32,fp16,bf16"), std::string::npos);
  EXPECT_NE(r.commands.at(1).find("--vram-limit 8GiB"), std::string::npos);
  EXPECT_NE(r.commands.at(2).find("vramfit plan --system desk-3070ti --systems " + f.systems.path), std::string::npos);
}

TEST(SummaryPrinters, CsvJsonMarkdownHtml) {
  Fleet f;
  const Summary s = f.build({f.emulated});
  // CSV: a header, one row per system × model × precision, then the training rows (per system ×
  // classifier × {fp32, bf16 or fp16}: kind "train"), every row as wide as the header.
  const std::string csv = summary_csv(s);
  std::vector<std::string> lines;
  for (std::size_t a = 0, b; (b = csv.find('\n', a)) != std::string::npos; a = b + 1) lines.push_back(csv.substr(a, b - a));
  ASSERT_EQ(lines.size(), 1u + 3u * 2u * 3u + 3u * 2u * 2u);
  ASSERT_EQ(s.training.size(), 3u * 2u * 2u);
  for (const auto& t : s.training) {
    EXPECT_EQ(t.status, Outcome::ok) << t.system_id << " " << t.model << " " << t.reason;
    EXPECT_GT(t.max_batch, 0) << t.system_id << " " << t.model;  // every classifier trains at some batch on these cards
  }
  EXPECT_NE(csv.find(",train,"), std::string::npos);
  EXPECT_NE(summary_markdown(s).find("## Training (planned, not confirmed)"), std::string::npos);
  EXPECT_TRUE(to_json(s).contains("training"));
  EXPECT_EQ(lines[0].substr(0, 30), "system_id,gpu,vram_bytes,compu");
  auto fields = [](const std::string& line) {
    std::size_t n = 1;
    bool q = false;
    for (char c : line) {
      if (c == '"') q = !q;
      else if (c == ',' && !q) ++n;
    }
    return n;
  };
  for (const auto& l : lines) EXPECT_EQ(fields(l), summary_csv_columns().size()) << l;
  EXPECT_NE(csv.find("desk-3070ti,RTX 3070 Ti,8589934592,8.6,resnet50,fp32,emulated," + f.emulated.string()), std::string::npos);

  // JSON: the keys schema/summary.schema.json requires, at every level it names.
  const nlohmann::json j = to_json(s);
  const nlohmann::json schema = nlohmann::json::parse(read_text(source_dir() / "schema" / "summary.schema.json"));
  EXPECT_EQ(j["schema_version"], schema["properties"]["schema_version"]["const"]);
  for (const auto& k : schema["required"]) EXPECT_TRUE(j.contains(k.get<std::string>())) << k;
  for (const auto& sy : j["systems"]) {
    for (const auto& k : schema["$defs"]["system"]["required"]) EXPECT_TRUE(sy.contains(k.get<std::string>())) << k;
    for (const auto& c : sy["cells"])
      for (const auto& k : schema["$defs"]["cell"]["required"]) EXPECT_TRUE(c.contains(k.get<std::string>())) << k;
  }
  EXPECT_EQ(j["systems"][1]["cells"][0]["source"], "emulated");

  // Markdown: every section, sources named, no LLM section (no decoder LLM exists yet).
  const std::string md = summary_markdown(s);
  for (const char* h : {"## Systems", "## How to read the tables", "## desk-3070ti — RTX 3070 Ti", "## What breaks on the smallest card: desk-3070ti",
                        "### Will not work", "## How to reproduce", "Recommendations:"})
    EXPECT_NE(md.find(h), std::string::npos) << h;
  EXPECT_NE(md.find("emulated 2026-11-28"), std::string::npos);
  EXPECT_NE(md.find("`" + f.emulated.string() + "` — 2026-11-28T10:00:00Z"), std::string::npos);
  EXPECT_EQ(md.find("## LLM"), std::string::npos);

  // HTML: self-contained — inline SVG charts and the fit grid, no scripts, no external resources.
  const std::string html = summary_html(s);
  EXPECT_NE(html.find("<svg class=\"matrix\""), std::string::npos);
  EXPECT_EQ(std::count(html.begin(), html.end(), '\n') > 50, true);
  std::size_t charts = 0;
  for (std::size_t p = html.find("<svg class=\"chart\""); p != std::string::npos; p = html.find("<svg class=\"chart\"", p + 1)) ++charts;
  EXPECT_EQ(charts, 2u);  // one per model
  std::size_t vram_lines = 0;
  for (std::size_t p = html.find("class=\"card-vram\""); p != std::string::npos; p = html.find("class=\"card-vram\"", p + 1)) ++vram_lines;
  EXPECT_EQ(vram_lines, 2u * 3u);  // every card's VRAM on every chart
  for (const char* bad : {"<script", "src=", "href=", "@import", "url("}) EXPECT_EQ(html.find(bad), std::string::npos) << bad;
}

// --- decoder LLMs ----------------------------------------------------------------------------------

// desk-3070ti emulated at 8 GiB and lab-h200 profiled, each with llama-7b rows; laptop-4080 predicted.
struct LlmFleet : Fleet {
  fs::path em_llm, lab_llm;
  LlmFleet() {
    auto em = doc("desk-3070ti", "2026-11-29T10:00:00Z", "NVIDIA H200", 8 * GiB, 8 * GiB - kCtx, kCtx);
    for (Precision p : default_llm_precisions()) em.llm_results.push_back(llm_cell("llama-7b", p, em.budget_bytes, kCtx));
    em_llm = write_profile(t, "em-llm/profile.json", em);
    auto lab = doc("lab-h200", "2026-11-29T11:00:00Z", "NVIDIA H200", std::nullopt, 130 * GiB, kCtx);
    lab.llm_results.push_back(llm_cell("llama-7b", Precision::int4, lab.budget_bytes, kCtx, std::nullopt, 323.0));
    lab_llm = write_profile(t, "lab-llm/profile.json", lab);
  }
};

const LlmSummaryCell& llm_at(const Summary& s, const std::string& id, const std::string& p) {
  const LlmSummaryCell* c = sys(s, id).find_llm("llama-7b", p);
  if (!c) throw std::runtime_error("no LLM cell " + id + " " + p);
  return *c;
}

TEST(SummaryLlm, ProfilesBringTheLlmSectionMeasuredEmulatedOrPlanned) {
  LlmFleet f;
  const Summary s = f.build({f.emulated, f.em_llm, f.lab_llm});
  EXPECT_EQ(s.llm_models, (std::vector<std::string>{"llama-7b"}));
  ASSERT_EQ(s.llm_precisions.size(), default_llm_precisions().size());
  // LLMs stay out of the batch tables.
  EXPECT_EQ(std::find(s.models.begin(), s.models.end(), "llama-7b"), s.models.end());
  for (const auto& sy : s.systems) {
    EXPECT_EQ(sy.find("llama-7b", "int8"), nullptr);
    EXPECT_EQ(sy.llm_cells.size(), default_llm_precisions().size()) << sy.id;
  }
  const auto c = find_model("llama-7b").decoder();
  // Emulated on the H200 at 8 GiB: memory transfers; speed is the time model's estimate for the 3070 Ti,
  // calibrated with what the H200 measured (the fleet's profile).
  const LlmSummaryCell& e8 = llm_at(s, "desk-3070ti", "int8");
  EXPECT_EQ(e8.source, CellSource::emulated);
  EXPECT_EQ(e8.status, Outcome::ok);
  EXPECT_EQ(e8.max_context, max_context_under(c, Precision::int8, 8 * GiB - kCtx, 1));
  EXPECT_TRUE(e8.max_context_confirmed);
  ASSERT_TRUE(e8.decode_tokens_per_s);
  EXPECT_FALSE(e8.speed_measured);
  EXPECT_NE(e8.speed_source.find("estimate for RTX 3070 Ti"), std::string::npos) << e8.speed_source;
  // A 608 GB/s card streams int8 llama-7b (6.5 GiB) at most ~90 times a second.
  EXPECT_LT(*e8.decode_tokens_per_s, 95.0);
  EXPECT_EQ(e8.mark, Mark::fits);
  const LlmSummaryCell& e16 = llm_at(s, "desk-3070ti", "fp16");
  EXPECT_EQ(e16.status, Outcome::oom);
  EXPECT_EQ(e16.mark, Mark::fails);
  EXPECT_NE(e16.reason.find("weights alone need"), std::string::npos) << e16.reason;
  // Profiled on the machine: its tokens/s.
  const LlmSummaryCell& l4 = llm_at(s, "lab-h200", "int4");
  EXPECT_EQ(l4.source, CellSource::profiled);
  EXPECT_EQ(l4.max_context, 4096);
  EXPECT_TRUE(l4.max_context_is_model_limit);
  EXPECT_DOUBLE_EQ(l4.decode_tokens_per_s.value_or(0), 323.0);
  EXPECT_TRUE(l4.speed_measured);
  EXPECT_DOUBLE_EQ(l4.prefill_tokens_per_s.value_or(0), 20000.0);
  // Predicted for the 12 GiB laptop: the exact plan for VRAM − context, the estimated speed.
  const SystemSummary& lap = sys(s, "laptop-4080");
  const LlmSummaryCell& p8 = llm_at(s, "laptop-4080", "int8");
  EXPECT_EQ(p8.source, CellSource::predicted);
  EXPECT_EQ(p8.max_context, max_context_under(c, Precision::int8, lap.predicted_budget_bytes, 1));
  EXPECT_FALSE(p8.max_context_confirmed);
  ASSERT_TRUE(p8.decode_tokens_per_s);
  EXPECT_FALSE(p8.speed_measured);
  EXPECT_NE(p8.speed_source.find("estimate for RTX 4080 Laptop"), std::string::npos) << p8.speed_source;
  ASSERT_TRUE(p8.vram_at_context_bytes);
  EXPECT_EQ(*p8.vram_at_context_bytes, plan_llm_memory(c, Precision::int8, 512, 1).total_bytes() + lap.context_bytes);
  EXPECT_EQ(llm_at(s, "laptop-4080", "fp16").status, Outcome::oom);
  // Precisions the engine does not run (today the GGUF types) are n/a, never ❌, wherever they come from.
  for (const char* id : {"q8_0", "q4_0", "q4_k_m"})
    if (llm_unsupported_reason(c, parse_precision(id))) {
      EXPECT_EQ(llm_at(s, "desk-3070ti", id).mark, Mark::not_applicable) << id;
      EXPECT_EQ(llm_at(s, "laptop-4080", id).mark, Mark::not_applicable) << id;
    }
  // Recommendation: the least quantization (the largest weights) that runs context 512 — int8 today; a
  // GGUF type with larger weights once the engine runs it.
  const LlmSummaryCell* least = nullptr;
  for (const auto& x : sys(s, "desk-3070ti").llm_cells)
    if (x.status == Outcome::ok && x.max_context >= 512 && (!least || x.weights_bytes > least->weights_bytes)) least = &x;
  ASSERT_NE(least, nullptr);
  if (llm_unsupported_reason(c, Precision::q8_0)) {
    EXPECT_EQ(least->precision, "int8");
  }
  const auto& recs = sys(s, "desk-3070ti").recommendations;
  EXPECT_TRUE(std::any_of(recs.begin(), recs.end(), [&](const std::string& r) {
    return r.find("**llama-7b**: the least quantization that runs context 512 at batch 1 is **" + least->precision + "**") != std::string::npos;
  })) << ::testing::PrintToString(recs);
  // The smallest card lists what breaks for the LLM too.
  EXPECT_TRUE(std::any_of(s.smallest.begin(), s.smallest.end(), [](const Breakage& b) {
    return b.model == "llama-7b" && b.precision == "fp16" && b.category == "will not work";
  }));
  // Reproduce: an LLM profile and a plan-only `vramfit llm` per system.
  const auto& cmds = s.reproduce.at(1).commands;
  EXPECT_TRUE(std::any_of(cmds.begin(), cmds.end(), [](const std::string& x) {
    return x.find("vramfit profile --system-id desk-3070ti -m llama-7b -p fp16,int8,int4") != std::string::npos;
  })) << ::testing::PrintToString(cmds);
  const std::string reserve = "--vram-limit 8GiB --reserve " + format_bytes_exact(sys(s, "desk-3070ti").context_bytes) + " --no-run";
  EXPECT_TRUE(std::any_of(cmds.begin(), cmds.end(), [&](const std::string& x) {
    return x.find("vramfit llm -m llama-7b -q fp16,int8,int4") != std::string::npos && x.find(reserve) != std::string::npos;
  })) << ::testing::PrintToString(cmds);
}

TEST(SummaryLlm, AskingForAnLlmPlansItForEveryCardWithoutProfiles) {
  const GpuDatabase db = load_gpu_database(gpus_toml());
  const SystemsFile systems = load_systems(source_dir() / "data" / "systems.example.toml", db);
  SummaryOptions o;
  o.models = {"resnet50", "llama-7b"};
  const Summary s = build_summary(systems, db, {}, o);
  EXPECT_TRUE(s.left_out.empty());
  EXPECT_EQ(s.models, (std::vector<std::string>{"resnet50"}));
  for (const auto& sy : s.systems) {
    ASSERT_EQ(sy.llm_cells.size(), default_llm_precisions().size());
    for (const auto& c : sy.llm_cells) {
      SCOPED_TRACE(sy.id + " " + c.precision);
      EXPECT_EQ(c.source, CellSource::predicted);
      EXPECT_FALSE(c.prefill_tokens_per_s || c.decode_tokens_per_s);
      if (c.status == Outcome::ok) {
        EXPECT_GT(c.max_context, 0);
        if (c.vram_at_context_bytes) {
          EXPECT_LE(*c.vram_at_context_bytes, sy.gpu.vram_bytes);
        }
      } else {
        EXPECT_FALSE(c.reason.empty());
      }
    }
  }
  // 16 GB fits fp16 llama-7b; 8 GB does not.
  EXPECT_EQ(llm_at(s, "desk-5070ti", "fp16").status, Outcome::ok);
  EXPECT_EQ(llm_at(s, "desk-3070ti", "fp16").status, Outcome::oom);
  EXPECT_EQ(llm_at(s, "desk-3070ti", "int4").max_context, 4096);
}

TEST(SummaryLlm, PrintersShowTheLlmTable) {
  LlmFleet f;
  const Summary s = f.build({f.emulated, f.em_llm, f.lab_llm});
  const std::size_t n = 3 * default_llm_precisions().size();
  const std::string md = summary_markdown(s);
  const std::size_t sec = md.find("## LLM: decoder models at batch 1");
  ASSERT_NE(sec, std::string::npos);
  std::size_t rows = 0;
  for (std::size_t p = md.find("\n| ", sec); p != std::string::npos && p < md.find("\n## ", sec + 1); p = md.find("\n| ", p + 1))
    rows += md.compare(p, 5, "\n| sy") != 0;
  EXPECT_EQ(rows, n);
  // The lab's int4 row (columns are padded): profiled, at the model's limit, with its decode speed.
  std::string lab_row;
  for (std::size_t p = md.find("\n| lab-h200 ", sec); p != std::string::npos; p = md.find("\n| lab-h200 ", p + 1)) {
    const std::string l = md.substr(p + 1, md.find('\n', p + 1) - p - 1);
    if (l.find("| int4 ") != std::string::npos) lab_row = l;
  }
  for (const char* x : {"| 3.60 GiB ", "| 512.0 KiB ", "| 4,096 (model max) ✓ ", "| 20000.0 ", "| 323.0 ", "| profiled 2026-11-29 ", "| ✅ "})
    EXPECT_NE(lab_row.find(x), std::string::npos) << x << " in " << lab_row;
  const std::string html = summary_html(s);
  std::size_t tr = 0;
  for (std::size_t p = html.find("<tr class=\"llm\">"); p != std::string::npos; p = html.find("<tr class=\"llm\">", p + 1)) ++tr;
  EXPECT_EQ(tr, n);
  // CSV: LLM rows after the batch rows, as wide as the header, kind "llm".
  const std::string csv = summary_csv(s);
  std::size_t llm_lines = 0;
  for (std::size_t a = 0, b; (b = csv.find('\n', a)) != std::string::npos; a = b + 1) {
    const std::string l = csv.substr(a, b - a);
    std::size_t fields = 1;
    bool q = false;
    for (char ch : l) {
      if (ch == '"') q = !q;
      else if (ch == ',' && !q) ++fields;
    }
    EXPECT_EQ(fields, summary_csv_columns().size()) << l;
    llm_lines += l.find(",llm,") != std::string::npos;
  }
  EXPECT_EQ(llm_lines, n);
  // JSON: the "llm" section with the fields the schema requires.
  const nlohmann::json j = to_json(s);
  const nlohmann::json schema = nlohmann::json::parse(read_text(source_dir() / "schema" / "summary.schema.json"));
  ASSERT_TRUE(j.contains("llm"));
  EXPECT_EQ(j["llm"]["cells"].size(), n);
  for (const auto& cell : j["llm"]["cells"])
    for (const auto& k : schema["$defs"]["llm_cell"]["required"]) EXPECT_TRUE(cell.contains(k.get<std::string>())) << k;
  const auto& lab = *std::find_if(j["llm"]["cells"].begin(), j["llm"]["cells"].end(),
                                  [](const nlohmann::json& x) { return x["system_id"] == "lab-h200" && x["precision"] == "int4"; });
  EXPECT_EQ(lab["decode_tokens_per_s"], 323.0);
  EXPECT_EQ(lab["max_context_batch1"], 4096);
  EXPECT_EQ(lab["source"], "profiled");
  // And against the schema itself where Python's jsonschema exists.
  std::string python;
  for (const std::string& cand : {std::string(std::getenv("VRAMFIT_PYTHON") ? std::getenv("VRAMFIT_PYTHON") : ""),
                                 (source_dir() / ".venv" / "bin" / "python").string(), std::string("python3")})
    if (!cand.empty() && std::system(("'" + cand + "' -c 'import jsonschema' >/dev/null 2>&1").c_str()) == 0) {
      python = cand;
      break;
    }
  if (python.empty()) GTEST_SKIP() << "no Python with jsonschema: the structural checks above ran";
  TempDir t;
  const fs::path out = t.write("S.json", j.dump());
  const std::string script = "import json,sys,jsonschema; s=json.load(open(sys.argv[1])); jsonschema.Draft202012Validator.check_schema(s); "
                             "jsonschema.Draft202012Validator(s).validate(json.load(open(sys.argv[2])))";
  EXPECT_EQ(std::system(("'" + python + "' -c \"" + script + "\" '" + (source_dir() / "schema" / "summary.schema.json").string() + "' '" +
                         out.string() + "'").c_str()),
            0);
}

}  // namespace
