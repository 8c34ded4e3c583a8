// report/summary_sections.cpp — the summary's closing sections from the cells already built
// (report/summary_internal.h): what breaks on the smallest card, and how to reproduce every number.
#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text.h"
#include "core/text_escape.h"
#include "report/summary_internal.h"

namespace vramfit::summary_detail {

using summary_format::gpu_line;
using summary_format::ms;

namespace {

// The category of a cell on the smallest card, by its mark.
std::string category(Mark m) {
  switch (m) {
    case Mark::not_applicable: return "not applicable";
    case Mark::fails: return "will not work";
    case Mark::constrained: return "works with constraints";
    case Mark::fits: return "safe";
  }
  return "safe";
}

Breakage breakage(const SummaryCell& c, const SystemSummary& small) {
  Breakage b{category(c.mark), c.model, c.precision, c.reason};
  const std::string src = to_string(c.source);
  if (c.mark == Mark::not_applicable) return b;
  if (c.mark == Mark::fails) {
    if (c.vram_at_batch1_bytes && c.status == Outcome::oom)
      b.text = fmt::format("batch 1 needs {}; the card has {} ({})", mib_text(*c.vram_at_batch1_bytes), mib_text(small.gpu.vram_bytes), src);
    else
      b.text += " (" + src + ")";
    return b;
  }
  b.text = fmt::format("max batch {}{}", c.capped ? "≥ " : "", thousands(c.max_batch));
  if (c.vram_at_max_bytes) b.text += fmt::format(" in {} of {}", mib_text(*c.vram_at_max_bytes), mib_text(small.gpu.vram_bytes));
  if (c.latency_ms_max) b.text += fmt::format(", {} per batch ({})", ms(*c.latency_ms_max), c.latency_measured ? "measured" : "estimate");
  b.text += " — " + src;
  if (!c.mark_note.empty()) b.text += "; " + c.mark_note;
  return b;
}

Breakage breakage(const LlmSummaryCell& c, const SystemSummary& small) {
  Breakage b{category(c.mark), c.model, c.precision, c.reason};
  const std::string src = to_string(c.source);
  if (c.mark == Mark::not_applicable) return b;
  if (c.mark == Mark::fails) {
    b.text += " (" + src + ")";
    return b;
  }
  b.text = fmt::format("max context {}{} at batch 1", thousands(c.max_context), c.max_context_is_model_limit ? " (the model's limit)" : "");
  if (c.vram_at_context_bytes)
    b.text += fmt::format(", {} at context {} of {}", mib_text(*c.vram_at_context_bytes), c.context, mib_text(small.gpu.vram_bytes));
  if (c.decode_tokens_per_s)
    b.text += fmt::format(", decode {}{:.0f} tokens/s ({})", c.speed_measured ? "" : "≈ ", *c.decode_tokens_per_s, c.speed_measured ? "measured" : "estimated");
  b.text += " — " + src;
  if (!c.mark_note.empty()) b.text += "; " + c.mark_note;
  return b;
}

// The precisions of `ids` that some cell of the system could run (neither n/a nor unsupported).
template <class Cells> std::vector<std::string> runnable(const std::vector<std::string>& ids, const Cells& cells) {
  std::vector<std::string> out;
  for (const auto& pid : ids)
    for (const auto& c : cells)
      if (c.precision == pid && c.mark != Mark::not_applicable && c.status != Outcome::unsupported) {
        out.push_back(pid);
        break;
      }
  return out;
}

ReproduceStep system_steps(const SystemSummary& s, const std::string& systems_path, const TableRows& t) {
  const std::string model_list = join(t.models, ","), plist = join(runnable(t.precisions, s.cells), ",");
  ReproduceStep r;
  r.system_id = s.id;
  r.comment = fmt::format("{} — {}", s.id, gpu_line(s));
  // Ids and paths come from the systems file: each is one quoted shell word, and a comment cannot end early.
  const std::string id = shell_quote(s.id), id_comment = shell_comment(s.id), systems_file = shell_quote(systems_path);
  r.commands.push_back(fmt::format("vramfit profile --system-id {} -m {} -p {} --output {}   # on {} itself", id, model_list, plist,
                                   shell_quote("profiles/" + s.id), id_comment));
  r.commands.push_back(fmt::format("vramfit profile --system-id {} --vram-limit {} -m {} -p {} --output {}   # on a larger "
                                   "GPU: emulates this card's memory",
                                   id, format_bytes_exact(s.gpu.vram_bytes), model_list, plist, shell_quote("profiles/" + s.id + "-emulated")));
  r.commands.push_back(fmt::format("vramfit plan --system {} --systems {} -m {} -p {}   # no GPU: the predicted cells", id, systems_file,
                                   model_list, plist));
  if (t.llm_models.empty()) return r;
  const std::vector<std::string> llm_runnable = runnable(t.llm_precisions, s.llm_cells);
  if (llm_runnable.empty()) return r;
  const std::string llm_list = join(t.llm_models, ","), llm_plist = join(llm_runnable, ",");
  r.commands.push_back(fmt::format("vramfit profile --system-id {} -m {} -p {} --output {}   # on {} itself: the LLM rows", id, llm_list,
                                   llm_plist, shell_quote("profiles/" + s.id + "-llm"), id_comment));
  for (const auto& model : t.llm_models)
    r.commands.push_back(fmt::format("vramfit llm -m {} -q {} --context 512 --vram-limit {} --reserve {} --no-run   # no GPU: the "
                                     "predicted LLM cells (reserve = the CUDA context)",
                                     model, llm_plist, format_bytes_exact(s.gpu.vram_bytes), format_bytes_exact(s.context_bytes)));
  return r;
}

}  // namespace

void smallest_card(Summary& out) {
  const SystemSummary* small = nullptr;
  for (const auto& s : out.systems)
    if (!small || s.gpu.vram_bytes < small->gpu.vram_bytes) small = &s;
  if (!small) return;
  out.smallest_system = small->id;
  for (const auto& c : small->cells) out.smallest.push_back(breakage(c, *small));
  for (const auto& c : small->llm_cells) out.smallest.push_back(breakage(c, *small));
}

void reproduce_steps(Summary& out, const std::string& systems_path, const TableRows& t) {
  for (const auto& s : out.systems) out.reproduce.push_back(system_steps(s, systems_path, t));
  ReproduceStep all;
  all.system_id = "";
  all.comment = "then, anywhere: this summary from the profiles";
  all.commands.push_back(fmt::format("vramfit report --systems {} profiles/*/profile.json -o SUMMARY.md --html SUMMARY.html --json SUMMARY.json "
                                     "--csv SUMMARY.csv",
                                     shell_quote(systems_path)));
  out.reproduce.push_back(all);
}

}  // namespace vramfit::summary_detail
