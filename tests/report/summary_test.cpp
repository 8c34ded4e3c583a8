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
  EXPECT_EQ(lr.mark, "✅");
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
  EXPECT_EQ(er.mark, "✅");
  const SummaryCell& oom = at(s, "desk-3070ti", "vit-b16", "fp32");
  EXPECT_EQ(oom.status, "does not fit");
  EXPECT_EQ(oom.mark, "❌");
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
  EXPECT_EQ(c.mark, "⚠️");
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
      if (c.status == "ok") {
        EXPECT_GT(c.max_batch, 0);
        EXPECT_TRUE(c.vram_at_max_bytes && c.latency_ms_batch1 && c.latency_ms_max);
        EXPECT_LE(*c.vram_at_max_bytes, sy.gpu.vram_bytes);
        EXPECT_TRUE(c.mark == "✅" || c.mark == "⚠️");
      } else {
        EXPECT_FALSE(c.reason.empty());
        EXPECT_TRUE(c.mark == "❌" || c.mark == "n/a");
      }
    }
  }
  // fp8: the card's gate on sm_86 (❌), the engine's on sm_89/sm_120 (n/a: not implemented).
  EXPECT_EQ(at(s, "desk-3070ti", "resnet50", "fp8").mark, "❌");
  EXPECT_NE(at(s, "desk-3070ti", "resnet50", "fp8").reason.find("sm_89"), std::string::npos);
  EXPECT_EQ(at(s, "desk-5070ti", "resnet50", "fp8").mark, "n/a");
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
  // CSV: a header and one row per system × model × precision, every row as wide as the header.
  const std::string csv = summary_csv(s);
  std::vector<std::string> lines;
  for (std::size_t a = 0, b; (b = csv.find('\n', a)) != std::string::npos; a = b + 1) lines.push_back(csv.substr(a, b - a));
  ASSERT_EQ(lines.size(), 1u + 3u * 2u * 3u);
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

}  // namespace
