// report/summary.h — the constraints summary across a team's machines (`vramfit report`).
//
// In: the systems file (predict/systems.h), the GPU database, profiles (report/profile_reader.h): a
// system's own (`profile = "…"` in systems.toml) and those given on the command line, matched to a
// system by their system_id. Out: a Summary — plain data — that the printers turn into Markdown,
// HTML (inline SVG), JSON (schema/summary.schema.json) and CSV (report/summary_printers.h).
//
// Every cell is one system × model × precision and says where its numbers come from:
//   profiled   measured on that machine (`vramfit profile` without --vram-limit);
//   emulated   measured on another GPU with `--vram-limit` set to this card's size: max batch and VRAM
//              are the emulated card's; latency is the planner's estimate for this card, calibrated
//              with the emulating GPU's measurements (latency does not transfer between cards);
//   predicted  from the planner (memory exact for vramfit's engine) and the spec database (latency a
//              roofline estimate), as `vramfit plan --system` computes it.
// Several profiles for one system merge per model × precision: the newest (profile date) wins; the
// summary lists which file each system's cells came from and which were superseded.
//
// The document's sections, in order: overview, per system (table, sources, prediction checks,
// recommendations), what breaks on the smallest card, how to reproduce. Decoder LLMs (ModelFamily::
// DecoderLLM) are not in the batch tables: they have their own section, one LlmSummaryCell per system ×
// model × precision at batch 1 — the max context, VRAM at context 512 and tokens/s from a profile's LLM
// rows (profile/llm_matrix.h), else the max context from the exact plan (predict/llm_fit.h) for the
// card's budget, with no speed (an LLM's tokens/s is not estimated). The section exists when an LLM is
// asked for (--models) or a profile holds LLM rows.
#pragma once

#include <functional>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/outcome.h"
#include "predict/gpu_spec.h"
#include "predict/latency.h"
#include "predict/llm_fit.h"
#include "predict/memory.h"
#include "predict/systems.h"
#include "report/profile_reader.h"
#include "result/mark.h"

namespace vramfit {

constexpr int kSummarySchemaVersion = 1;

enum class CellSource { profiled, emulated, predicted };
std::string to_string(CellSource s);

// "The predicted max batch for a budget equals the emulated one": the planner asked today for the
// profile's budget, against what the GPU confirmed under that budget.
struct PredictionCheck {
  std::uint64_t budget_bytes = 0;
  std::uint64_t workspace_bytes = 0;  // the profile's workspace, recovered from its own plan
  std::int64_t ceiling = 0;
  std::int64_t planner_max_batch = 0;  // max_batch_under(model, precision, budget) now
  std::int64_t profile_predicted = 0;  // what the planner said while profiling
  std::int64_t gpu_max_batch = 0;      // what the GPU ran (one more did not fit)
  bool agrees = false;                 // planner_max_batch == gpu_max_batch
  std::string note;
};

// Nullopt when the cell cannot be checked (a status other than ok/oom, a model or precision this build
// does not know).
std::optional<PredictionCheck> check_prediction(const ProfiledCell& c);

struct VramPoint {
  std::int64_t batch = 0;
  std::uint64_t bytes = 0;  // process total: weights + arena + workspace + CUDA context and handles
};

struct SummaryCell {
  std::string model;
  std::string precision;  // id
  CellSource source = CellSource::predicted;
  std::string profile_path;  // profiled/emulated: the file the numbers come from
  std::string date;          // profiled/emulated: the profile's date
  Outcome status = Outcome::ok;  // oom: does not fit (not even batch 1); unsupported: by this card, or by
  bool applicable = true;        // vramfit's engine when not applicable (the printers' "not applicable")
  std::string reason;
  std::int64_t max_batch = 0;
  bool capped = false;         // max batch is the search ceiling: more may fit
  std::string limited_by;      // memory | engine | ceiling (predicted); empty for measured cells
  std::optional<std::uint64_t> vram_at_max_bytes;
  std::optional<std::uint64_t> vram_at_batch1_bytes;
  std::optional<double> latency_ms_batch1, latency_ms_max;
  bool latency_measured = false;  // false: an estimate for this card
  std::string latency_source;
  std::optional<double> items_per_s_max;
  std::optional<double> relative_l2, top1_agreement;
  Mark mark = Mark::fits;  // printed ✅ ⚠️ ❌ n/a (result/mark.h)
  std::string mark_note;
  std::optional<PredictionCheck> check;  // profiled/emulated cells
  std::vector<VramPoint> vram_curve;     // for the charts
};

// A decoder LLM × precision on one system, at batch 1.
struct LlmSummaryCell {
  std::string model;
  std::string precision;  // id
  CellSource source = CellSource::predicted;
  std::string profile_path;  // profiled/emulated
  std::string date;
  Outcome status = Outcome::ok;  // as SummaryCell's: oom does not fit, unsupported by the card or (not
  bool applicable = true;        // applicable) by vramfit's engine
  std::string reason;
  std::int64_t context = 0;  // the speed context (512, or the model's maximum when smaller)
  std::uint64_t weights_bytes = 0, kv_bytes_per_token = 0;
  std::int64_t max_context = 0;  // at batch 1 under the budget
  bool max_context_is_model_limit = false;
  bool max_context_confirmed = false;  // measured: it ran and one token more did not (or the model's limit)
  std::optional<std::uint64_t> vram_at_context_bytes;  // process total at (context, batch 1); predicted: plan + context
  std::optional<double> prefill_tokens_per_s, decode_tokens_per_s, decode_tokens_per_s_max_context;
  bool speed_measured = false;  // false: the time model's estimate for this card (printed ≈)
  std::string speed_source;  // where the tokens/s were measured or estimated from, or why there are none
  Mark mark = Mark::fits;
  std::string mark_note;
};

struct ProfileUse {
  std::string path;
  std::string date;
  std::string device;     // where it was measured
  std::string vram_limit;  // emulated card; empty: the real card
  std::vector<std::string> cells_used;        // "resnet50 fp16"
  std::vector<std::string> cells_superseded;  // by a newer profile
};

struct SystemSummary {
  std::string id;
  GpuSpec gpu;  // resolved (VRAM override applied)
  bool vram_overridden = false;
  std::string primary_use;
  std::string status;  // "predicted", "profiled 2026-11-28", "emulated 2026-11-28 + predicted", …
  std::size_t profiled_cells = 0, emulated_cells = 0, predicted_cells = 0;
  std::string newest_date;
  std::uint64_t context_bytes = 0;  // subtracted from VRAM for predicted cells
  std::string context_source;
  std::uint64_t predicted_budget_bytes = 0;
  std::string latency_calibration;  // how estimates were calibrated
  std::optional<Calibration> calibration;  // the one estimates used (own profile, the fleet's, or the shipped file)
  std::vector<ProfileUse> profiles;
  std::vector<SummaryCell> cells;
  std::vector<LlmSummaryCell> llm_cells;  // decoder LLMs, at batch 1
  std::vector<std::string> recommendations;
  std::vector<std::string> warnings;

  const SummaryCell* find(const std::string& model, const std::string& precision) const;
  const LlmSummaryCell* find_llm(const std::string& model, const std::string& precision) const;
};

struct Breakage {
  std::string category;  // will not work | works with constraints | safe | not applicable
  std::string model, precision;
  std::string text;  // the numbers
};

struct ReproduceStep {
  std::string system_id;
  std::string comment;
  std::vector<std::string> commands;
};

// Training on one system (predict/train_plan.h): the largest batch of a training step with AdamW at the
// budget predicted cells use. PLANNED from stated rules — vramfit's CUDA training step is not
// implemented, so nothing here ran; the document says so.
struct TrainSummaryCell {
  std::string system_id, model, precision, optimizer;
  Outcome status = Outcome::ok;  // ok (max_batch may be 0: does not fit) | unsupported
  std::string reason;
  std::int64_t max_batch = 0;
  std::uint64_t bytes_at_max = 0;  // the plan's total at max_batch (at batch 1 when 0)
};

struct Summary {
  int schema_version = kSummarySchemaVersion;
  std::string vramfit_version;
  std::string generated;  // UTC ISO 8601
  std::string systems_file;
  std::string command_line;
  std::vector<std::string> models;
  std::vector<std::string> precisions;
  std::vector<std::string> llm_models;      // decoder LLMs (their own section); empty: no section
  std::vector<std::string> llm_precisions;
  std::int64_t min_batch = 8;
  std::int64_t ceiling = 4096;
  std::uint64_t workspace_bytes = kDefaultWorkspaceBytes;
  std::vector<SystemSummary> systems;
  std::string smallest_system;  // the system with the least VRAM
  std::vector<Breakage> smallest;
  std::vector<ReproduceStep> reproduce;
  std::vector<std::string> warnings;
  std::vector<std::string> left_out;  // models in no table, with why
  std::vector<TrainSummaryCell> training;  // per system × classifier × {fp32, bf16 or fp16}
};

struct SummaryOptions {
  std::vector<std::string> models{"resnet50", "vit-b16"};  // profiles add theirs
  std::vector<Precision> precisions{Precision::fp32, Precision::fp16, Precision::bf16};
  std::vector<Precision> llm_precisions = default_llm_precisions();  // for decoder LLMs (profiles add theirs)
  std::int64_t min_batch = 8;     // ✅ needs at least this batch; fewer is ⚠️
  std::int64_t ceiling = 4096;    // largest batch searched for predicted cells (profile's default)
  std::uint64_t workspace = kDefaultWorkspaceBytes;
  std::string vramfit_version;
  std::string generated;
  std::string command_line;  // recorded in the document
  // Called as each system starts (index 1-based, count, system id): cli/ draws its progress line.
  std::function<void(std::size_t index, std::size_t count, const std::string& system)> progress;
  // The calibration vramfit ships (data/calibration/), used where no profile of a database GPU exists.
  std::optional<Calibration> shipped;
  // `vramfit fleet`: systems it tried to profile and could not, with why ("ssh: connection timed out
  // after 10 s"); their status line and warnings say so, their cells stay predicted.
  std::map<std::string, std::string> not_profiled;
};

// A cell's status as the summary's JSON, CSV and tables spell it: ok, "does not fit" (oom), unsupported,
// "not applicable" (the engine cannot), error, limit.
std::string status_text(Outcome status, bool applicable);
template <class Cell> std::string status_text(const Cell& c) { return status_text(c.status, c.applicable); }

// The mark rules, as the document states them (one rule per mark, for every printer).
std::vector<std::pair<Mark, std::string>> mark_rules(std::int64_t min_batch);

// Reads each system's own profile (systems.toml `profile`), matches `extra` to systems by system_id
// (an unmatched profile is an InvalidInput naming the file, its system_id and the ids in the systems
// file), merges newest-wins per model × precision and fills every cell. Bad profiles throw
// InvalidInput naming the file (report/profile_reader.h).
Summary build_summary(const SystemsFile& systems, const GpuDatabase& db, const std::vector<ProfileFile>& extra,
                      const SummaryOptions& o);

// "the time model calibrated on H100 SXM (…): 63 latencies, 5 LLM rows; its cross-card check, …"
std::string calibration_text(const Calibration& c);
// A latency calibration (predict/latency.h) from a profile's measurements on its own card; nullopt
// when the card is not in the database or no measurement is usable (why goes to *why).
std::optional<Calibration> calibration_from_profile(const ProfileFile& p, const GpuDatabase& db, std::string* why = nullptr);

}  // namespace vramfit
