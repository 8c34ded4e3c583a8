// report/summary.cpp — systems + profiles + planner → Summary (report/summary.h).
#include "report/summary.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <type_traits>
#include <set>

#include "core/bytes.h"
#include "core/error.h"
#include "core/text_escape.h"
#include "predict/train_plan.h"
#include "models/registry.h"
#include "report/summary_format.h"
#include "report/summary_internal.h"

namespace vramfit {

namespace {

using summary_detail::measured_llm_cell;
using summary_detail::predicted_llm_cell;
using summary_detail::recommend;
using summary_detail::runs;
using summary_detail::recommend_llm;
using summary_detail::not_applicable;
using summary_detail::reproduce_steps;
using summary_detail::set_mark;
using summary_detail::smallest_card;
using summary_detail::TableRows;
using summary_format::gpu_line;
using summary_format::ms;
using summary_format::throughput;

// systems.toml ids and profile system_ids (which `vramfit profile` sanitises: lower case, [a-z0-9_-])
// compare in the same form.
std::string id_key(const std::string& s) {
  std::string o;
  for (unsigned char c : s) o += std::isalnum(c) || c == '_' || c == '-' ? static_cast<char>(std::tolower(c)) : '-';
  return o;
}

const ModelInfo* try_model(const std::string& id) {
  try {
    return &find_model(id);
  } catch (const InvalidInput&) {
    return nullptr;
  }
}

std::string date_only(const std::string& iso) { return iso.substr(0, std::min<std::size_t>(10, iso.size())); }

void apply_mark(SummaryCell& c, std::int64_t min_batch, const std::vector<std::string>& caveats) {
  set_mark(c, [&] {
    std::vector<std::string> notes;
    if (c.max_batch < min_batch)
      notes.push_back(fmt::format("at most batch {} fits (fewer than the {} asked for with --min-batch)", thousands(c.max_batch), min_batch));
    notes.insert(notes.end(), caveats.begin(), caveats.end());
    if (c.check && !c.check->agrees) notes.push_back(c.check->note);
    return notes;
  });
}

// Max batch, memory and latency of a cell the planner predicts for the system's card.
SummaryCell predicted_cell(const ModelInfo* m, const std::string& model, const std::string& precision_id,
                           const std::optional<Precision>& p, const SystemSummary& s, const Calibration* calib, const SummaryOptions& o) {
  SummaryCell c;
  c.model = model;
  c.precision = precision_id;
  c.source = CellSource::predicted;
  if (!m || !p) {
    not_applicable(c);
    c.reason = !m ? fmt::format("model '{}' is not in this vramfit's zoo", model)
                  : fmt::format("precision '{}' is not known to this vramfit", precision_id);
    apply_mark(c, o.min_batch, {});
    return c;
  }
  GpuFit fit;
  bool engine_threw = false;
  try {
    fit = fit_on_gpu(*m, *p, s.gpu, s.predicted_budget_bytes, calib, o.ceiling, o.workspace);
  } catch (const Unsupported& e) {
    engine_threw = true;
    fit.reason = e.what();
  }
  // predict/latency.h's GpuFit spells its status ok | unsupported | does not fit.
  const bool card_cannot = precision_unsupported_reason(s.gpu, *p).has_value();
  if (engine_threw || fit.status == Outcome::unsupported) {
    // The card's gate (bf16 before sm_80, …) or the engine's (a precision not implemented yet).
    c.status = Outcome::unsupported;
    c.applicable = card_cannot && !engine_threw;
    c.reason = c.applicable ? fit.reason : "the engine does not run it yet: " + fit.reason;
  } else {
    const MemoryEstimate& e = fit.fit.at_max;
    const std::uint64_t at1 = e.weights_bytes + e.arena_bytes_per_sample + e.workspace_bytes + s.context_bytes;
    c.vram_at_batch1_bytes = at1;
    if (fit.status == Outcome::oom) {
      c.status = Outcome::oom;
      c.reason = fmt::format("not even batch 1 fits: it needs {} with the CUDA context, the card has {}", mib_text(at1), mib_text(s.gpu.vram_bytes));
      c.vram_curve.push_back({1, at1});
    } else {
      c.max_batch = fit.fit.max_batch;
      c.limited_by = fit.fit.limited_by;
      c.capped = fit.fit.limited_by == "ceiling";
      if (fit.fit.limited_by == "engine") c.reason = "limited by the engine, not memory: " + fit.fit.limit_note;
      c.vram_at_max_bytes = e.total_bytes() + s.context_bytes;
      c.latency_ms_batch1 = fit.latency_batch1->ms;
      c.latency_ms_max = fit.latency_max_batch->ms;
      c.latency_source = "estimate: " + fit.latency_max_batch->efficiency.source;
      for (std::int64_t b = 1; b < c.max_batch; b *= 2)
        c.vram_curve.push_back({b, e.weights_bytes + e.workspace_bytes + s.context_bytes + static_cast<std::uint64_t>(b) * e.arena_bytes_per_sample});
      c.vram_curve.push_back({c.max_batch, *c.vram_at_max_bytes});
    }
  }
  apply_mark(c, o.min_batch, {});
  return c;
}

// A cell from a profile (profiled on this machine, or emulated on another GPU).
SummaryCell measured_cell(const ModelInfo* m, const ProfiledCell& pc, const ProfileFile& f, const SystemSummary& s,
                          const Calibration* calib, const SummaryOptions& o) {
  SummaryCell c;
  c.model = pc.model;
  c.precision = pc.precision_id;
  c.source = f.emulated() ? CellSource::emulated : CellSource::profiled;
  c.profile_path = f.path;
  c.date = f.date;
  c.check = check_prediction(pc);
  std::vector<std::string> caveats;
  if (pc.mark == Mark::constrained && !pc.mark_note.empty()) caveats.push_back(pc.mark_note);
  const std::optional<std::string> card_cannot = pc.precision ? precision_unsupported_reason(s.gpu, *pc.precision) : std::nullopt;
  if (card_cannot && c.source == CellSource::emulated) {
    // The emulating GPU ran it; this card cannot, whatever its memory.
    c.status = Outcome::unsupported;
    c.reason = *card_cannot + fmt::format(" (the emulation on {} does not apply)", f.device_name);
    apply_mark(c, o.min_batch, {});
    return c;
  }
  c.status = pc.status;
  if (pc.status == Outcome::oom) c.reason = "not even batch 1 fits: " + pc.reason;
  else if (pc.status != Outcome::ok) c.reason = pc.reason;
  c.relative_l2 = pc.relative_l2;
  c.top1_agreement = pc.top1_agreement;
  if (c.status == Outcome::ok) {
    c.max_batch = pc.max_batch;
    c.capped = pc.capped;
    if (c.max_batch == 0) {
      c.status = Outcome::oom;
      c.reason = "not even batch 1 fits the budget of " + mib_text(pc.budget_bytes);
    }
    const MeasuredPoint* at_max = pc.at(pc.max_batch);
    const MeasuredPoint* at_1 = pc.at(1);
    const bool max_ran = at_max && at_max->status == Outcome::ok, one_ran = at_1 && at_1->status == Outcome::ok;
    if (max_ran) c.vram_at_max_bytes = at_max->process_total_bytes;
    if (one_ran) c.vram_at_batch1_bytes = at_1->process_total_bytes;
    if (c.source == CellSource::profiled) {
      c.latency_measured = true;
      c.latency_source = "measured on " + f.device_name;
      if (max_ran) {
        c.latency_ms_max = at_max->median_ms;
        c.items_per_s_max = at_max->items_per_s;
      }
      if (one_ran) c.latency_ms_batch1 = at_1->median_ms;
    } else if (m && pc.precision && c.max_batch > 0) {
      // Latency measured on the emulating GPU says nothing about this card: estimate it for this card,
      // calibrated with what the emulating GPU measured.
      const LatencyEstimate l1 = estimate_latency(*m, *pc.precision, 1, s.gpu, calib);
      const LatencyEstimate lm = estimate_latency(*m, *pc.precision, c.max_batch, s.gpu, calib);
      c.latency_ms_batch1 = l1.ms;
      c.latency_ms_max = lm.ms;
      c.latency_source = "estimate for " + s.gpu.name + ": " + lm.efficiency.source;
    }
    for (const auto& pt : pc.points)
      if (pt.status == Outcome::ok) c.vram_curve.push_back({pt.batch, pt.process_total_bytes});
    if (pc.max_batch > 0 && !c.vram_at_max_bytes)
      caveats.push_back(fmt::format("no measurement at the max batch {} in the profile", thousands(pc.max_batch)));
  }
  apply_mark(c, o.min_batch, caveats);
  return c;
}


// --- decoder LLMs ---------------------------------------------------------------------------------

}  // namespace

std::string to_string(CellSource s) {
  switch (s) {
    case CellSource::profiled: return "profiled";
    case CellSource::emulated: return "emulated";
    case CellSource::predicted: return "predicted";
  }
  return "predicted";
}

const SummaryCell* SystemSummary::find(const std::string& model, const std::string& precision) const {
  for (const auto& c : cells)
    if (c.model == model && c.precision == precision) return &c;
  return nullptr;
}

const LlmSummaryCell* SystemSummary::find_llm(const std::string& model, const std::string& precision) const {
  for (const auto& c : llm_cells)
    if (c.model == model && c.precision == precision) return &c;
  return nullptr;
}

std::string status_text(Outcome status, bool applicable) {
  if (!applicable) return "not applicable";
  return std::string(fit_text(status));
}

std::vector<std::pair<Mark, std::string>> mark_rules(std::int64_t min_batch) {
  return {
      {Mark::fits, fmt::format("runs with a max batch of at least {} (--min-batch) and no caveat", min_batch)},
      {Mark::constrained, fmt::format("runs with constraints: a max batch below {}, or a caveat the note names (the planner's prediction "
                         "not confirmed on the GPU, a measurement that failed, timing not trusted, top-1 agreement with fp32 "
                         "below 99 %)",
                         min_batch)},
      {Mark::fails, "does not run: not even batch 1 fits, the card cannot run the precision (bf16 before sm_80, fp8 before sm_89), "
             "or the measurement failed"},
      {Mark::not_applicable, "not applicable: vramfit's engine does not run this model or precision yet (the reason is given)"},
  };
}

std::optional<PredictionCheck> check_prediction(const ProfiledCell& c) {
  if (c.status != Outcome::ok && c.status != Outcome::oom) return std::nullopt;
  const ModelInfo* m = try_model(c.model);
  if (!m || !c.precision) return std::nullopt;
  PredictionCheck k;
  k.budget_bytes = c.budget_bytes;
  k.ceiling = c.ceiling > 0 ? c.ceiling : 4096;
  k.profile_predicted = c.predicted;
  k.gpu_max_batch = c.status == Outcome::oom ? 0 : c.max_batch;
  // The profile planned weights + arena + workspace at its prediction; the workspace it used is what is
  // left after today's weights and arena (the planner is deterministic), else the default.
  k.workspace_bytes = kDefaultWorkspaceBytes;
  if (c.predicted > 0 && c.predicted_bytes_at_max > 0) {
    const MemoryEstimate e = estimate_memory(*m, *c.precision, c.predicted, 0);
    if (e.status == Outcome::ok && c.predicted_bytes_at_max >= e.total_bytes()) k.workspace_bytes = c.predicted_bytes_at_max - e.total_bytes();
  }
  const BudgetFit fit = max_batch_under(*m, *c.precision, c.budget_bytes, k.ceiling, k.workspace_bytes);
  k.planner_max_batch = fit.max_batch;
  k.agrees = k.planner_max_batch == k.gpu_max_batch;
  if (k.agrees)
    k.note = fmt::format("planner {} = GPU {} under {}", thousands(k.planner_max_batch), thousands(k.gpu_max_batch), mib_text(k.budget_bytes));
  else
    k.note = fmt::format("the planner predicts max batch {} under {} but the GPU ran {}{}", thousands(k.planner_max_batch), mib_text(k.budget_bytes),
                         thousands(k.gpu_max_batch),
                         k.planner_max_batch != k.profile_predicted ? fmt::format(" (while profiling it predicted {})", thousands(k.profile_predicted))
                                                                    : "");
  return k;
}

std::string calibration_text(const Calibration& c) {
  std::string t = fmt::format("the time model calibrated on {} ({}: {} latencies, {} LLM rows)", c.provenance(), c.profile_path, c.points.size(),
                              c.llm.size());
  for (const auto& k : c.checks) t += "; its cross-card check, " + k.text();
  if (c.checks.empty()) t += "; no cross-card check recorded for it";
  return t;
}

std::optional<Calibration> calibration_from_profile(const ProfileFile& p, const GpuDatabase& db, std::string* why) {
  const GpuSpec* g = db.try_find(p.device_name);
  if (!g) {
    if (why) *why = fmt::format("{}: GPU '{}' is not in {}", p.path, p.device_name, db.path);
    return std::nullopt;
  }
  Calibration c;
  c.profile_path = p.path;
  c.device = p.device_summary;
  c.gpu = *g;
  c.date = p.date;
  if (p.context_bytes > 0) c.context_bytes = p.context_bytes;
  for (const auto& cell : p.cells) {
    const ModelInfo* m = try_model(cell.model);
    if (!m || !cell.precision) continue;
    for (const auto& pt : cell.points) {
      if (pt.status != Outcome::ok || !(pt.median_ms > 0)) continue;
      CalibrationPoint cp;
      cp.model = m->id;
      cp.precision = *cell.precision;
      cp.batch = pt.batch;
      cp.measured_ms = pt.median_ms;
      c.points.push_back(cp);
    }
  }
  for (const auto& cell : p.llm_cells) {
    const ModelInfo* m = try_model(cell.model);
    if (!m || !cell.precision || cell.status != Outcome::ok || !cell.decode_tokens_per_s || !(*cell.decode_tokens_per_s > 0)) continue;
    LlmSample s;
    s.model = m->id;
    s.precision = *cell.precision;
    s.context = cell.context;
    s.decode_tokens_per_s = *cell.decode_tokens_per_s;
    if (cell.decode_tokens_per_s_max_context && *cell.decode_tokens_per_s_max_context > 0 && cell.max_context > cell.context)
      s.max_context = cell.max_context, s.decode_tokens_per_s_max_context = *cell.decode_tokens_per_s_max_context;
    if (cell.prefill_tokens && cell.prefill_tokens_per_s && *cell.prefill_tokens > 0 && *cell.prefill_tokens_per_s > 0)
      s.prefill_tokens = *cell.prefill_tokens, s.prefill_tokens_per_s = *cell.prefill_tokens_per_s;
    c.llm.push_back(s);
  }
  if (c.points.empty() && c.llm.empty()) {
    if (why) *why = fmt::format("{}: no ok measurement to calibrate with", p.path);
    return std::nullopt;
  }
  try {
    fit_calibration(c);
  } catch (const InvalidInput& e) {
    if (why) *why = e.what();
    return std::nullopt;
  }
  return c;
}

namespace {

// 1. Profiles per system, in order: the systems file's own, then the command line's (matched by id).
std::vector<std::vector<ProfileFile>> profiles_per_system(const SystemsFile& systems, const std::vector<ProfileFile>& extra) {
  std::vector<std::vector<ProfileFile>> per_system(systems.systems.size());
  for (std::size_t i = 0; i < systems.systems.size(); ++i)
    if (const auto& p = systems.systems[i].profile) per_system[i].push_back(read_profile(*p));
  for (const auto& f : extra) {
    std::size_t hit = systems.systems.size();
    for (std::size_t i = 0; i < systems.systems.size(); ++i)
      if (id_key(systems.systems[i].id) == id_key(f.system_id)) hit = i;
    if (hit == systems.systems.size()) {
      std::vector<std::string> ids;
      for (const auto& s : systems.systems) ids.push_back(s.id);
      throw InvalidInput(fmt::format("{}: system_id '{}' is not a system of {} (systems: {}); profile with `vramfit profile --system-id ID` "
                                     "or add `profile = \"{}\"` to that system",
                                     f.path, f.system_id, systems.path, join(ids, ", "), f.path));
    }
    bool dup = false;
    for (const auto& g : per_system[hit]) dup = dup || std::filesystem::path(g.path).lexically_normal() == std::filesystem::path(f.path).lexically_normal();
    if (!dup) per_system[hit].push_back(f);
  }
  return per_system;
}

// 2. The rows every system table has: the models and precisions asked for, plus any a profile holds.
TableRows table_rows(const SummaryOptions& o, const std::vector<std::vector<ProfileFile>>& per_system) {
  auto add = [](std::vector<std::string>& v, const std::string& x) {
    if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
  };
  TableRows t;
  for (const auto& id : o.models) {
    const ModelInfo* m = try_model(id);
    add(m && m->family == ModelFamily::DecoderLLM ? t.llm_models : t.models, m ? m->id : id);
  }
  for (Precision p : o.precisions) add(t.precisions, std::string(to_string(p)));
  for (Precision p : o.llm_precisions) add(t.llm_precisions, std::string(to_string(p)));
  for (const auto& list : per_system)
    for (const auto& f : list) {
      for (const auto& c : f.cells) {
        add(t.models, c.model);
        add(t.precisions, c.precision_id);
      }
      for (const auto& c : f.llm_cells) {
        add(t.llm_models, c.model);
        add(t.llm_precisions, c.precision_id);
      }
    }
  return t;
}

// A calibration for systems without a profile of their own: the newest profile of a database GPU.
std::optional<Calibration> fleet_calibration(const std::vector<std::vector<ProfileFile>>& per_system, const GpuDatabase& db,
                                             std::vector<std::string>& warnings) {
  std::vector<const ProfileFile*> all;
  for (const auto& list : per_system)
    for (const auto& f : list) all.push_back(&f);
  std::stable_sort(all.begin(), all.end(), [](const ProfileFile* a, const ProfileFile* b) { return a->date > b->date; });
  for (const auto* f : all) {
    std::string why;
    if (auto c = calibration_from_profile(*f, db, &why)) return c;
    warnings.push_back("latency calibration: " + why);
  }
  return std::nullopt;
}

// Context for predicted cells: measured by the newest real profile of this machine, else the default;
// with a warning for each profile measured on another card than the system's.
void context_from_profiles(SystemSummary& s, const std::vector<const ProfileFile*>& profs, const GpuDatabase& db) {
  const ContextAllowance def = default_context_overhead(s.gpu.architecture);
  s.context_bytes = def.bytes;
  s.context_source = def.source;
  for (const auto* f : profs) {
    if (f->emulated()) {
      if (f->vram_limit_bytes && *f->vram_limit_bytes != s.gpu.vram_bytes)
        s.warnings.push_back(fmt::format("{} emulates a card of {} but {} has {}", f->path, format_bytes(*f->vram_limit_bytes), s.id,
                                         format_bytes(s.gpu.vram_bytes)));
      continue;
    }
    if (normalize_gpu_name(f->device_name) != normalize_gpu_name(s.gpu.name) && !db.try_find(f->device_name))
      s.warnings.push_back(fmt::format("{} was measured on '{}', which is not in {}; {} is listed with {}", f->path, f->device_name, db.path,
                                       s.id, s.gpu.name));
    else if (const GpuSpec* g = db.try_find(f->device_name); g && normalize_gpu_name(g->name) != normalize_gpu_name(s.gpu.name))
      s.warnings.push_back(fmt::format("{} was measured on {} but {} is listed with {}", f->path, g->name, s.id, s.gpu.name));
    if (f->context_bytes > 0) {
      s.context_bytes = f->context_bytes;
      s.context_source = "measured in " + f->path;
    }
    for (const auto& w : f->warnings) s.warnings.push_back(f->path + ": " + w);
  }
  s.predicted_budget_bytes = s.gpu.vram_bytes > s.context_bytes ? s.gpu.vram_bytes - s.context_bytes : 0;
}

// Rows of the profiles merged newest-wins per model × precision (vision or LLM rows, by `rows_of`):
// (model, precision) → (the row, the index of its profile). Each profile's use says which of its rows
// were used and which a newer one superseded.
template <class RowsOf> auto merge_rows(const std::vector<const ProfileFile*>& profs, std::vector<ProfileUse>& uses, RowsOf rows_of) {
  using Row = std::remove_cvref_t<decltype(rows_of(*profs[0])[0])>;
  std::map<std::pair<std::string, std::string>, std::pair<const Row*, std::size_t>> merged;
  for (std::size_t k = 0; k < profs.size(); ++k)
    for (const auto& c : rows_of(*profs[k])) merged[{c.model, c.precision_id}] = {&c, k};
  for (std::size_t k = 0; k < profs.size(); ++k)
    for (const auto& c : rows_of(*profs[k])) {
      const auto& win = merged[{c.model, c.precision_id}];
      const std::string label = c.model + " " + c.precision_id;
      if (win.first == &c) uses[k].cells_used.push_back(label);
      else uses[k].cells_superseded.push_back(fmt::format("{} (by {})", label, profs[win.second]->path));
    }
  return merged;
}

// Every model × precision of a table: measured where a merged profile row has it, else predicted;
// counted by source.
template <class Merged, class Cells, class Measured, class Predicted>
void place_cells(SystemSummary& s, const std::vector<const ProfileFile*>& profs, const std::vector<std::string>& models,
                 const std::vector<std::string>& precisions, const Merged& rows, Cells& cells, Measured measured, Predicted predicted) {
  for (const auto& model : models) {
    const ModelInfo* m = try_model(model);
    for (const auto& pid : precisions) {
      std::optional<Precision> p;
      try {
        p = parse_precision(pid);
      } catch (const InvalidInput&) {
      }
      auto it = rows.find({model, pid});
      if (it != rows.end()) {
        const ProfileFile& f = *profs[it->second.second];
        cells.push_back(measured(m, *it->second.first, f));
        s.newest_date = std::max(s.newest_date, f.date);
      } else {
        cells.push_back(predicted(m, model, pid, p));
      }
      const auto& c = cells.back();
      (c.source == CellSource::profiled ? s.profiled_cells : c.source == CellSource::emulated ? s.emulated_cells : s.predicted_cells)++;
    }
  }
}

// "profiled (2 cells) + predicted (4 cells), 2026-11-27": where the system's numbers come from.
std::string status_line(const SystemSummary& s) {
  auto part = [](const char* name, std::size_t n, bool others) {
    return fmt::format("{}{}", name, others ? fmt::format(" ({} cell{})", n, n == 1 ? "" : "s") : "");
  };
  std::vector<std::string> parts;
  if (s.profiled_cells) parts.push_back(part("profiled", s.profiled_cells, s.predicted_cells || s.emulated_cells));
  if (s.emulated_cells) parts.push_back(part("emulated", s.emulated_cells, s.predicted_cells || s.profiled_cells));
  if (s.predicted_cells) parts.push_back(part("predicted", s.predicted_cells, s.profiled_cells || s.emulated_cells));
  std::string line = join(parts, " + ");
  if (!s.newest_date.empty()) line += ", " + date_only(s.newest_date);
  return line;
}

// One system: its profiles merged, every cell measured or predicted, its recommendations.
SystemSummary system_summary(const SystemSpec& spec, const std::vector<ProfileFile>& own, const GpuDatabase& db,
                             const std::optional<Calibration>& fleet, const TableRows& t, const SummaryOptions& o) {
  SystemSummary s;
  s.id = spec.id;
  s.gpu = spec.gpu;
  s.vram_overridden = spec.vram_overridden;
  s.primary_use = spec.primary_use;
  // Oldest first, so that later (newer) cells replace earlier ones; equal dates keep input order.
  std::vector<const ProfileFile*> profs;
  for (const auto& f : own) profs.push_back(&f);
  std::stable_sort(profs.begin(), profs.end(), [](const ProfileFile* a, const ProfileFile* b) { return a->date < b->date; });
  context_from_profiles(s, profs, db);

  // Latency calibration: this system's newest profile of a database GPU, else the fleet's.
  std::optional<Calibration> mine;
  for (auto it = profs.rbegin(); it != profs.rend() && !mine; ++it) mine = calibration_from_profile(**it, db);
  const Calibration* calib = mine ? &*mine : fleet ? &*fleet : o.shipped ? &*o.shipped : nullptr;
  s.latency_calibration = calib ? calibration_text(*calib)
                                : fmt::format("no profile of a database GPU and no calibration file: default efficiency {} of the roofline", kDefaultEfficiency);
  if (calib) s.calibration = *calib;

  for (const auto* f : profs) s.profiles.push_back({f->path, f->date, f->device_summary, f->vram_limit.value_or(""), {}, {}});
  const auto merged = merge_rows(profs, s.profiles, [](const ProfileFile& f) -> const auto& { return f.cells; });
  const auto merged_llm = merge_rows(profs, s.profiles, [](const ProfileFile& f) -> const auto& { return f.llm_cells; });
  place_cells(s, profs, t.models, t.precisions, merged, s.cells,
              [&](const ModelInfo* m, const ProfiledCell& c, const ProfileFile& f) { return measured_cell(m, c, f, s, calib, o); },
              [&](const ModelInfo* m, const std::string& model, const std::string& pid, const std::optional<Precision>& p) {
                return predicted_cell(m, model, pid, p, s, calib, o);
              });
  place_cells(s, profs, t.llm_models, t.llm_precisions, merged_llm, s.llm_cells,
              [&](const ModelInfo* m, const ProfiledLlmCell& c, const ProfileFile& f) { return measured_llm_cell(m, c, f, s); },
              [&](const ModelInfo* m, const std::string& model, const std::string& pid, const std::optional<Precision>& p) {
                return predicted_llm_cell(m, model, pid, p, s);
              });
  s.status = status_line(s);
  if (const auto it = o.not_profiled.find(spec.id); it != o.not_profiled.end()) {
    s.status += " (not profiled: " + it->second + ")";
    s.warnings.push_back(fmt::format("{}: not profiled — {}; predicted cells shown", spec.id, it->second));
  }
  recommend(s, t.models, o.min_batch);
  recommend_llm(s, t.llm_models);
  return s;
}

}  // namespace

// The training section: per system and classifier, fp32 and the card's 16-bit type (bf16 where it
// has it), AdamW, at the budget predicted cells use.
static void training_cells(Summary& out, const std::vector<std::string>& models, std::uint64_t workspace) {
  for (const auto& sys : out.systems)
    for (const auto& id : models) {
      const ModelInfo* m = try_model(id);
      if (!m || m->family != ModelFamily::Vision) continue;
      for (Precision p : {Precision::fp32, sys.gpu.bf16_tflops ? Precision::bf16 : Precision::fp16}) {
        const TrainFit f = max_training_batch(*m, p, Optimizer::adamw, sys.predicted_budget_bytes, workspace, 1 << 16);
        TrainSummaryCell c{sys.id, m->id, std::string(to_string(p)), "adamw", f.at_max.status, f.at_max.reason, f.max_batch,
                           f.at_max.total_bytes()};
        out.training.push_back(c);
      }
    }
}

Summary build_summary(const SystemsFile& systems, const GpuDatabase& db, const std::vector<ProfileFile>& extra, const SummaryOptions& o) {
  Summary out;
  out.vramfit_version = o.vramfit_version;
  out.generated = o.generated;
  out.systems_file = systems.path;
  out.command_line = o.command_line;
  out.min_batch = o.min_batch;
  out.ceiling = o.ceiling;
  out.workspace_bytes = o.workspace;

  const std::vector<std::vector<ProfileFile>> per_system = profiles_per_system(systems, extra);
  const TableRows t = table_rows(o, per_system);
  out.models = t.models;
  out.precisions = t.precisions;
  out.llm_models = t.llm_models;
  if (!t.llm_models.empty()) out.llm_precisions = t.llm_precisions;
  const std::optional<Calibration> fleet = fleet_calibration(per_system, db, out.warnings);
  for (std::size_t i = 0; i < systems.systems.size(); ++i) {
    if (o.progress) o.progress(i + 1, systems.systems.size(), systems.systems[i].id);
    out.systems.push_back(system_summary(systems.systems[i], per_system[i], db, fleet, t, o));
  }
  training_cells(out, t.models, o.workspace);
  smallest_card(out);
  reproduce_steps(out, systems.path, t);
  return out;
}

}  // namespace vramfit
