// report/summary_internal.h — what summary.cpp (the merge) and summary_cells.cpp (LLM cells and the
// recommendations) share; not part of the report stage's interface.
#pragma once

#include <string>
#include <vector>

#include "report/summary.h"
#include "report/summary_format.h"

namespace vramfit::summary_detail {

// Marks (the rules mark_rules() states), for vision and LLM cells alike: n/a and ❌ carry the reason;
// a cell that runs is ✅, or ⚠️ with the notes (`notes_if_ok` is asked only for a cell that runs).
template <class Cell, class Notes> void set_mark(Cell& c, Notes&& notes_if_ok) {
  if (c.status != "ok") {
    c.mark = c.status == "not applicable" ? "n/a" : "❌";
    c.mark_note = c.reason;
    return;
  }
  const std::vector<std::string> notes = notes_if_ok();
  c.mark = notes.empty() ? "✅" : "⚠️";
  c.mark_note = join(notes, "; ");
}

// A vision cell that runs at some batch.
inline bool runs(const SummaryCell& c) { return c.status == "ok" && c.max_batch > 0; }

// An LLM cell planned for this system (no profile row).
LlmSummaryCell predicted_llm_cell(const ModelInfo* m, const std::string& model, const std::string& precision_id,
                                  const std::optional<Precision>& p, const SystemSummary& s);
// An LLM cell from a profile's measured row, marked for this system.
LlmSummaryCell measured_llm_cell(const ModelInfo* m, const ProfiledLlmCell& pc, const ProfileFile& f, const SystemSummary& s);
// The recommendations of a system's vision rows, and of its decoder-LLM rows.
void recommend(SystemSummary& s, const std::vector<std::string>& models, std::int64_t min_batch);
void recommend_llm(SystemSummary& s, const std::vector<std::string>& models);

}  // namespace vramfit::summary_detail
