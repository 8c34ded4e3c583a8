// report/profile_printers.cpp — ProfileDoc → constraints.md (report/profile_printers.h); report.html is
// profile_html.cpp. One function per section of the document.
#include "report/profile_printers.h"

#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text.h"
#include "core/text_escape.h"
#include "report/profile_cells.h"

namespace vramfit {

using namespace profile_cells;
using profile::LlmPrecisionResult;
using profile::ModelPrecisionResult;
using profile::ProfileDoc;
using profile::StatusMark;

namespace {

std::string header(const ProfileDoc& d) {
  std::string s = fmt::format("# GPU constraints: {}\n\n", md_text(d.system_id));
  s += fmt::format("- Device: {}\n", md_text(d.device.value("summary", d.device.value("name", "unknown"))));
  if (!d.software.empty())
    s += fmt::format("- Software: {}; {}; {}\n", d.software.value("cudnn", "?"), d.software.value("cublaslt", "?"), d.software.value("cuda", "?"));
  s += fmt::format("- Measured {} by vramfit {}{}\n", d.date, d.vramfit_version, d.quick ? " (--quick: fewer batches and iterations)" : "");
  if (d.vram_limit_bytes)
    s += fmt::format("- Budget: an emulated card of {} — {} for weights + activations + workspace after the CUDA context and "
                     "library handles ({}) and --reserve ({})\n",
                     d.vram_limit, mib_text(d.budget_bytes), mib_text(d.context_bytes), mib_text(d.reserve_bytes));
  else
    s += fmt::format("- Budget: the card's free memory — {} for weights + activations + workspace (CUDA context and handles {}, "
                     "--reserve {})\n",
                     mib_text(d.budget_bytes), mib_text(d.context_bytes), mib_text(d.reserve_bytes));
  return s;
}

std::string mark_cell(const StatusMark& sm) { return md_text(sm.note.empty() ? sm.mark : sm.mark + " " + sm.note); }

std::string vision_table(const ProfileDoc& d) {
  std::string s = "\n| model | precision | max batch | VRAM at max batch | latency batch 1 | latency at max batch | items/s at max batch | fidelity vs fp32 | status |\n";
  s += "|---|---|---:|---:|---:|---:|---:|---|---|\n";
  for (const auto& r : d.results) {
    const bool ok = r.outcome == Outcome::ok;
    const nlohmann::json* at_max = ok ? measurement_at(r, r.max_batch.found) : nullptr;
    const nlohmann::json* at_1 = ok ? measurement_at(r, 1) : nullptr;
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.model, to_string(r.precision), max_batch_cell(r),
                     ran(at_max) ? mib_text(process_total(*at_max)) : "—", ms_cell(at_1), ms_cell(at_max),
                     ran(at_max) ? fmt::format("{:.0f}", at_max->value("items_per_s", 0.0)) : "—", md_text(fidelity_cell(r)),
                     mark_cell(profile::status_mark(r)));
  }
  s += fmt::format(
      "\nStatus: ✅ runs — the planner's max batch was confirmed on the GPU (the predicted batch ran and one more was out of "
      "memory), every measurement is ok with trusted timing, and below fp32 the top-1 agreement with fp32 is ≥ 99 %. "
      "⚠️ runs, with the reason given (prediction not confirmed, a measurement failed, timing not trusted, fidelity low or "
      "not measured). ❌ does not run here: not even batch 1 fits the budget, the precision is unsupported on this GPU, or "
      "the worker failed. VRAM is the process total (weights + activations + workspace + CUDA context and handles). "
      "Max batch is searched up to --max-batch {}; \"≥\" means that ceiling was reached.\n",
      d.max_batch_ceiling);
  return s;
}

std::string streams_table(const ProfileDoc& d) {
  bool any_streams = false;
  for (const auto& r : d.results) any_streams = any_streams || !r.streams.empty();
  if (!any_streams) return "";
  std::string s = "\n## Concurrent streams (pose models)\n\n"
                  "The most copies of the model that run at once on this budget (one CUDA stream, activation region and workspace "
                  "each, shared weights), predicted by the planner and confirmed on the GPU (N ran, N + 1 was out of memory).\n\n"
                  "| model | precision | batch per stream | max streams | confirmed | per stream |\n|---|---|---:|---:|---|---:|\n";
  for (const auto& r : d.results)
    for (const auto& st : r.streams) {
      const bool capped = st.value("capped", false);
      const bool ran_ok = !st.contains("status") || profile::answer_outcome(st) == Outcome::ok;
      s += fmt::format("| {} | {} | {} | {}{} | {} | {} |\n", r.model, to_string(r.precision), st.value("batch", 0), capped ? "≥ " : "",
                       st.value("max_streams", 0),
                       !ran_ok ? md_text(st.value("status", "") + ": " + st.value("reason", ""))
                       : st.value("prediction_confirmed", false) ? "yes"
                                                                 : fmt::format("no (planner said {})", st.value("predicted", 0)),
                       mib_text(st.value("per_stream_bytes", std::uint64_t{0})));
    }
  return s;
}

std::string llm_table(const ProfileDoc& d) {
  if (d.llm_results.empty()) return "";
  std::int64_t ctx = 512, steps = 0;
  for (const auto& r : d.llm_results) {
    if (r.context > 0) ctx = r.context;
    if (r.speed) steps = r.speed->value("decode_steps", steps);
  }
  std::string s = fmt::format("\n## Decoder LLMs (batch 1)\n\n"
                              "| model | precision | weights | KV cache per token | max context (batch 1) | VRAM at context {} | prefill tokens/s | "
                              "decode tokens/s at {} | decode tokens/s at max context | status |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
                              ctx, ctx);
  for (const auto& r : d.llm_results) {
    const auto vram = profile::llm_process_total(r.speed);
    s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.model, to_string(r.precision), weights_cell(r), kv_cell(r),
                     max_context_cell(r), vram ? mib_text(*vram) : "—", rate_cell(profile::llm_number(r.speed, "prefill_tokens_per_s")),
                     rate_cell(profile::llm_number(r.speed, "decode_tokens_per_s")),
                     rate_cell(profile::llm_number(r.at_max, "decode_tokens_per_s")), mark_cell(profile::status_mark(r)));
  }
  s += fmt::format("\nMax context: the planner's largest context at batch 1 under the budget, run on the GPU (✓: it ran and one "
                   "token more was out of memory; \"model max\": the model's max_position_embeddings, more memory would not help). "
                   "Prefill: {} − 1 prompt tokens from an empty cache (a session keeps a position free to decode). Decode: {} "
                   "after a prompt that leaves room for them, and at the max context with the KV cache filled to its end. VRAM: the "
                   "process total (the session's one arena + CUDA context and handles).\n",
                   ctx, steps > 0 ? fmt::format("{} timed steps", steps) : std::string("timed steps"));
  return s;
}

// The smallest batch (or context) that was out of memory, with the worker's reason.
const profile::Probe* first_oom(const measure::MaxSearch& search) {
  const profile::Probe* first = nullptr;
  for (const auto& p : search.probes)
    if (p.outcome == Outcome::oom && (!first || p.size < first->size)) first = &p;
  return first;
}

std::string not_fitting(const ModelPrecisionResult& r) {
  if (r.outcome != Outcome::ok) return fmt::format("- **{} {}** ({}): {}\n", r.model, to_string(r.precision), to_string(r.outcome), md_text(r.reason));
  if (r.max_batch.capped) return "";
  const profile::Probe* oom = first_oom(r.max_batch);
  return oom ? fmt::format("- **{} {}**: batch {} does not fit: {}\n", r.model, to_string(r.precision), oom->size, md_text(oom->reason)) : "";
}

std::string not_fitting(const LlmPrecisionResult& r) {
  if (r.outcome != Outcome::ok) return fmt::format("- **{} {}** ({}): {}\n", r.model, to_string(r.precision), to_string(r.outcome), md_text(r.reason));
  std::string s;
  if (!r.speed_note.empty()) s += fmt::format("- **{} {}**: {}\n", r.model, to_string(r.precision), md_text(r.speed_note));
  if (r.max_context.capped) return s;
  if (const profile::Probe* oom = first_oom(r.max_context))
    s += fmt::format("- **{} {}**: context {} at batch 1 does not fit: {}\n", r.model, to_string(r.precision), oom->size, md_text(oom->reason));
  return s;
}

std::string what_does_not_fit(const ProfileDoc& d) {
  std::string items;
  for (const auto& r : d.results) items += not_fitting(r);
  for (const auto& r : d.llm_results) items += not_fitting(r);
  std::string s = "\n## What does not fit, and why\n\n";
  s += items.empty() ? fmt::format("Everything requested ran up to the --max-batch ceiling ({}).\n", d.max_batch_ceiling) : items;
  if (!d.warnings.empty()) {
    s += "\n## Warnings\n\n";
    for (const auto& w : d.warnings) s += "- " + md_text(w) + "\n";
  }
  return s;
}

}  // namespace

std::string profile_markdown(const ProfileDoc& d) {
  std::string s = header(d);
  if (!d.results.empty() || d.llm_results.empty()) s += vision_table(d);  // left out of a profile of LLMs only
  return s + streams_table(d) + llm_table(d) + what_does_not_fit(d);
}

std::string profile_csv(const profile::ProfileDoc& d) {
  auto num = [](const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_number() ? fmt::format("{}", j[key].get<double>()) : std::string();
  };
  std::string o = csv_row({"system", "kind", "model", "precision", "batch", "context", "status", "median_ms", "items_per_s",
                           "prefill_tokens_per_s", "decode_tokens_per_s", "process_vram_bytes", "max_batch", "max_context", "mark"});
  for (const auto& r : d.results) {
    const std::string mark = profile::status_mark(r).mark;
    for (const auto& m : r.measurements) {
      const nlohmann::json lat = m.value("latency_ms", nlohmann::json::object());
      o += csv_row({d.system_id, "vision", r.model, std::string(to_string(r.precision)), std::to_string(m.value("batch", 0)), "",
                    m.value("status", "error"), num(lat, "median"), num(m, "items_per_s"), "", "", num(m, "process_vram_bytes"),
                    std::to_string(r.max_batch.found), "", mark});
    }
    if (r.measurements.empty())
      o += csv_row({d.system_id, "vision", r.model, std::string(to_string(r.precision)), "", "", std::string(to_string(r.outcome)), "", "",
                    "", "", "", std::to_string(r.max_batch.found), "", mark});
  }
  for (const auto& r : d.llm_results) {
    const std::string mark = profile::status_mark(r).mark;
    const std::string max_ctx = std::to_string(r.outcome == Outcome::ok ? r.max_context.found : 0);
    bool any = false;
    for (const auto* m : {&r.speed, &r.at_max}) {
      if (!*m) continue;
      any = true;
      const nlohmann::json& j = **m;
      o += csv_row({d.system_id, "llm", r.model, std::string(to_string(r.precision)), "1", std::to_string(j.value("context", 0)),
                    j.value("status", "error"), "", "", num(j, "prefill_tokens_per_s"), num(j, "decode_tokens_per_s"),
                    num(j, "process_vram_bytes"), "", max_ctx, mark});
    }
    if (!any)
      o += csv_row({d.system_id, "llm", r.model, std::string(to_string(r.precision)), "1", "", std::string(to_string(r.outcome)), "", "",
                    "", "", "", "", max_ctx, mark});
  }
  return o;
}

}  // namespace vramfit
