// report/summary_internal.h — what summary.cpp (the merge), summary_cells.cpp (LLM cells and the
// recommendations) and summary_sections.cpp (the smallest card, how to reproduce) share; not part of
// the report stage's interface.
#pragma once

#include <string>
#include <vector>

#include "report/summary.h"
#include "report/summary_format.h"

namespace vramfit::summary_detail {

// The models and precisions of the batch tables and of the LLM section.
struct TableRows {
  std::vector<std::string> models, precisions, llm_models, llm_precisions;
};

// vramfit's engine does not run this model or precision yet (printed "not applicable", marked n/a).
template <class Cell> void not_applicable(Cell& c) {
  c.status = Outcome::unsupported;
  c.applicable = false;
}

// Marks (the rules mark_rules() states), for vision and LLM cells alike: n/a and fails carry the
// reason; a cell that runs fits, or is constrained with the notes (`notes_if_ok` is asked only for a
// cell that runs).
template <class Cell, class Notes> void set_mark(Cell& c, Notes&& notes_if_ok) {
  if (c.status != Outcome::ok) {
    c.mark = c.applicable ? Mark::fails : Mark::not_applicable;
    c.mark_note = c.reason;
    return;
  }
  const std::vector<std::string> notes = notes_if_ok();
  c.mark = notes.empty() ? Mark::fits : Mark::constrained;
  c.mark_note = join(notes, "; ");
}

// A vision cell that runs at some batch.
inline bool runs(const SummaryCell& c) { return c.status == Outcome::ok && c.max_batch > 0; }

// An LLM cell planned for this system (no profile row).
LlmSummaryCell predicted_llm_cell(const ModelInfo* m, const std::string& model, const std::string& precision_id,
                                  const std::optional<Precision>& p, const SystemSummary& s);
// An LLM cell from a profile's measured row, marked for this system.
LlmSummaryCell measured_llm_cell(const ModelInfo* m, const ProfiledLlmCell& pc, const ProfileFile& f, const SystemSummary& s);
// The recommendations of a system's vision rows, and of its decoder-LLM rows.
void recommend(SystemSummary& s, const std::vector<std::string>& models, std::int64_t min_batch);
void recommend_llm(SystemSummary& s, const std::vector<std::string>& models);
// What breaks on the smallest card (Summary::smallest_system, Summary::smallest), from its cells.
void smallest_card(Summary& out);
// How to reproduce: the exact commands per system, then the summary's own.
void reproduce_steps(Summary& out, const std::string& systems_path, const TableRows& t);

}  // namespace vramfit::summary_detail
