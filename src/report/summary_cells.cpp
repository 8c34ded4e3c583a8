// report/summary_cells.cpp — the decoder-LLM cells of the summary and every system's
// recommendations (report/summary_internal.h); the merge of systems and profiles is summary.cpp.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <set>

#include "core/bytes.h"
#include "core/error.h"
#include "core/text_escape.h"
#include "models/registry.h"
#include "report/summary_internal.h"

namespace vramfit::summary_detail {

using summary_format::gpu_line;
using summary_format::ms;
using summary_format::throughput;

void recommend(SystemSummary& s, const std::vector<std::string>& models, std::int64_t min_batch) {
  for (const auto& model : models) {
    std::vector<const SummaryCell*> cells, running;
    for (const auto& c : s.cells)
      if (c.model == model) {
        cells.push_back(&c);
        if (runs(c) && c.mark != Mark::not_applicable) running.push_back(&c);
      }
    if (cells.empty()) continue;
    if (running.empty()) {
      std::vector<std::string> why;
      for (const auto* c : cells)
        if (c->mark != Mark::not_applicable) why.push_back(fmt::format("{}: {}", c->precision, c->reason));
      s.recommendations.push_back(fmt::format("**{}** does not run on this machine at any precision asked for ({}): use a larger card.", model,
                                              join(why, "; ")));
      continue;
    }
    // Best: the highest throughput at the max batch (measured or estimated), fidelity permitting;
    // ties and unknown throughput fall back to the larger max batch.
    auto score = [](const SummaryCell* c) { return std::make_pair(throughput(*c).value_or(0.0), static_cast<double>(c->max_batch)); };
    const SummaryCell* best = nullptr;
    for (const auto* c : running) {
      if (c->top1_agreement && *c->top1_agreement < 0.99) continue;
      if (!best || score(c) > score(best)) best = c;
    }
    if (!best) best = running.front();
    const SummaryCell* fp32 = nullptr;
    for (const auto* c : cells)
      if (c->precision == "fp32") fp32 = c;
    const bool estimated = !best->latency_measured;
    std::string text = fmt::format("**{}**: use **{}** — max batch {}{}", model, best->precision, best->capped ? "≥ " : "",
                                   thousands(best->max_batch));
    if (best->vram_at_max_bytes) text += fmt::format(" in {}", mib_text(*best->vram_at_max_bytes));
    if (auto t = throughput(*best)) text += fmt::format(", {:.0f} items/s at that batch ({})", *t, estimated ? "estimated" : "measured");
    if (fp32 && fp32 != best) {
      if (runs(*fp32)) {
        if (best->max_batch == fp32->max_batch)
          text += fmt::format("; against fp32: the same max batch ({}{})", thousands(best->max_batch),
                              best->limited_by == "engine" ? ", the engine's limit" : "");
        else
          text += fmt::format("; against fp32: {:.1f}× the batch ({} vs {})", static_cast<double>(best->max_batch) / static_cast<double>(fp32->max_batch),
                              thousands(best->max_batch), thousands(fp32->max_batch));
        auto tb = throughput(*best), tf = throughput(*fp32);
        if (tb && tf && *tf > 0) text += fmt::format(" and {:.1f}× the throughput ({:.0f} vs {:.0f} items/s)", *tb / *tf, *tb, *tf);
        if (best->vram_at_batch1_bytes && fp32->vram_at_batch1_bytes)
          text += fmt::format("; VRAM at batch 1 {} vs {}", mib_text(*best->vram_at_batch1_bytes), mib_text(*fp32->vram_at_batch1_bytes));
      } else if (fp32->mark != Mark::not_applicable) {
        text += fmt::format("; fp32 does not run here ({})", fp32->reason);
      }
    }
    if (best->top1_agreement)
      text += fmt::format("; top-1 agreement with fp32 {:.0f} %, relative L2 {:.1e}", 100.0 * *best->top1_agreement, best->relative_l2.value_or(0.0));
    else if (best->precision != "fp32")
      text += "; fidelity against fp32 not measured here (profile it to know)";
    if (best->max_batch < min_batch) text += fmt::format(" — but only batch {} fits: a larger card is needed for batch {}", best->max_batch, min_batch);
    s.recommendations.push_back(text + ".");
    for (const auto* c : running)
      if (c->check && !c->check->agrees)
        s.recommendations.push_back(fmt::format("**{} {}**: {} — trust the GPU's number and report the difference.", c->model, c->precision,
                                                c->check->note));
  }
}

namespace {

void apply_llm_mark(LlmSummaryCell& c, const std::vector<std::string>& caveats) {
  set_mark(c, [&] {
    std::vector<std::string> notes;
    if (c.max_context < c.context)
      notes.push_back(fmt::format("context {} does not fit at batch 1 (at most {} tokens)", c.context, thousands(c.max_context)));
    notes.insert(notes.end(), caveats.begin(), caveats.end());
    return notes;
  });
}

// Why this card cannot run an LLM precision at all (nullopt: it can).
std::optional<std::string> llm_card_cannot(const GpuSpec& g, Precision p) {
  if (g.compute_capability < kLlmMinComputeCapability)
    return fmt::format("vramfit's LLM attention kernels need sm_{}; {} is sm_{}", kLlmMinComputeCapability, g.name, g.compute_capability);
  return precision_unsupported_reason(g, p);
}

}  // namespace

// From the exact plan for the system's budget (no speed: tokens/s are measured, never estimated).
// Tokens/s on this system's card from the time model (predict/time_model.h), marked as an estimate:
// decode at the speed context and at the max context, prefill of the calibration's prompt length.
void estimate_llm_speed(LlmSummaryCell& c, const DecoderConfig& dc, Precision p, const SystemSummary& s) {
  if (!s.calibration || !s.calibration->model) return;
  const TimeModel& tm = *s.calibration->model;
  const auto at = llm_speed(tm, dc, p, c.context, 1, s.gpu);
  if (!at) {
    c.speed_source = fmt::format("not estimated: the calibration ({}) measured no {}", s.calibration->provenance(), to_string(p));
    return;
  }
  c.decode_tokens_per_s = at->decode_tokens_per_s;
  if (at->prefill_tokens_per_s > 0) c.prefill_tokens_per_s = at->prefill_tokens_per_s;
  if (c.max_context > c.context)
    if (const auto far = llm_speed(tm, dc, p, c.max_context, 1, s.gpu)) c.decode_tokens_per_s_max_context = far->decode_tokens_per_s;
  c.speed_measured = false;
  c.speed_source = fmt::format("estimate for {} from {}: {}", s.gpu.name, s.calibration->provenance(), at->source);
}

LlmSummaryCell predicted_llm_cell(const ModelInfo* m, const std::string& model, const std::string& precision_id,
                                  const std::optional<Precision>& p, const SystemSummary& s) {
  LlmSummaryCell c;
  c.model = model;
  c.precision = precision_id;
  c.source = CellSource::predicted;
  c.speed_source = "not measured: profile this machine (vramfit profile -m " + model + ")";
  if (!m || !p || m->family != ModelFamily::DecoderLLM) {
    not_applicable(c);
    c.reason = !m || m->family != ModelFamily::DecoderLLM ? fmt::format("'{}' is not a decoder LLM of this vramfit's zoo", model)
                                                          : fmt::format("precision '{}' is not known to this vramfit", precision_id);
    apply_llm_mark(c, {});
    return c;
  }
  const DecoderConfig dc = m->decoder();
  c.context = std::min<std::int64_t>(512, dc.max_position_embeddings);
  if (const auto why = llm_unsupported_reason(dc, *p)) {
    not_applicable(c);
    c.reason = "the engine does not run it yet: " + *why;
  } else if (const auto cannot = llm_card_cannot(s.gpu, *p)) {
    c.status = Outcome::unsupported;
    c.reason = *cannot;
  } else {
    LlmFitOptions fo;
    fo.contexts = {c.context};
    fo.budget_bytes = s.predicted_budget_bytes;
    fo.max_batch_ceiling = 1;
    const LlmQuantRow row = fit_llm(dc, *p, fo);
    c.weights_bytes = row.weights_bytes;
    c.kv_bytes_per_token = row.kv_bytes_per_token;
    c.max_context = row.max_context;
    c.max_context_is_model_limit = row.max_context_is_model_limit;
    if (row.status == Outcome::oom) {
      c.status = Outcome::oom;
      c.reason = fmt::format("{} (budget: VRAM {} − CUDA context and handles {})", row.reason, mib_text(s.gpu.vram_bytes), mib_text(s.context_bytes));
    } else if (row.points.front().fits) {
      c.vram_at_context_bytes = row.points.front().total_bytes + s.context_bytes;
    }
    if (c.status == Outcome::ok && c.max_context > 0) estimate_llm_speed(c, dc, *p, s);
  }
  apply_llm_mark(c, {});
  return c;
}

LlmSummaryCell measured_llm_cell(const ModelInfo* m, const ProfiledLlmCell& pc, const ProfileFile& f, const SystemSummary& s) {
  LlmSummaryCell c;
  c.model = pc.model;
  c.precision = pc.precision_id;
  c.source = f.emulated() ? CellSource::emulated : CellSource::profiled;
  c.profile_path = f.path;
  c.date = f.date;
  c.context = pc.context;
  c.weights_bytes = pc.weights_bytes;
  c.kv_bytes_per_token = pc.kv_bytes_per_token;
  const std::optional<std::string> engine_cannot =
      m && m->family == ModelFamily::DecoderLLM && pc.precision ? llm_unsupported_reason(m->decoder(), *pc.precision) : std::nullopt;
  const std::optional<std::string> card_cannot = pc.precision ? llm_card_cannot(s.gpu, *pc.precision) : std::nullopt;
  std::vector<std::string> caveats;
  if (pc.status == Outcome::unsupported && engine_cannot) {
    not_applicable(c);
    c.reason = "the engine does not run it yet: " + pc.reason;
  } else if (card_cannot && c.source == CellSource::emulated) {
    c.status = Outcome::unsupported;
    c.reason = *card_cannot + fmt::format(" (the emulation on {} does not apply)", f.device_name);
  } else if (pc.status != Outcome::ok) {
    c.status = pc.status;
    c.reason = pc.reason;
  } else {
    c.max_context = pc.max_context;
    c.max_context_is_model_limit = pc.capped;
    c.max_context_confirmed = pc.prediction_confirmed;
    c.vram_at_context_bytes = pc.vram_at_context_bytes;
    if (c.source == CellSource::profiled) {
      c.prefill_tokens_per_s = pc.prefill_tokens_per_s;
      c.decode_tokens_per_s = pc.decode_tokens_per_s;
      c.decode_tokens_per_s_max_context = pc.decode_tokens_per_s_max_context;
      c.speed_measured = true;
      c.speed_source = "measured on " + f.device_name;
    } else if (m && m->family == ModelFamily::DecoderLLM && pc.precision) {
      // The speed measured on the emulating GPU is that GPU's: estimate this card's from the time model.
      c.speed_source = fmt::format("not estimated: measured on {} emulating this card's memory, and no calibration", f.device_name);
      estimate_llm_speed(c, m->decoder(), *pc.precision, s);
    }
    if (pc.mark == Mark::constrained && !pc.mark_note.empty() && pc.max_context >= pc.context) caveats.push_back(pc.mark_note);
  }
  apply_llm_mark(c, caveats);
  return c;
}

// Per LLM: the least-quantized precision (the largest weights) that runs the speed context at batch 1.
void recommend_llm(SystemSummary& s, const std::vector<std::string>& models) {
  for (const auto& model : models) {
    std::vector<const LlmSummaryCell*> cells;
    const LlmSummaryCell* best = nullptr;
    for (const auto& c : s.llm_cells) {
      if (c.model != model) continue;
      cells.push_back(&c);
      if (c.status == Outcome::ok && c.max_context >= c.context && (!best || c.weights_bytes > best->weights_bytes)) best = &c;
    }
    if (cells.empty()) continue;
    if (!best) {
      std::vector<std::string> why;
      for (const auto* c : cells)
        if (c->mark != Mark::not_applicable) why.push_back(fmt::format("{}: {}", c->precision, c->status == Outcome::ok ? c->mark_note : c->reason));
      s.recommendations.push_back(fmt::format("**{}** does not run context 512 at batch 1 here at any precision asked for ({}): quantize "
                                              "further or use a larger card.",
                                              model, join(why, "; ")));
      continue;
    }
    std::string text = fmt::format("**{}**: the least quantization that runs context {} at batch 1 is **{}** — weights {}, max context {}{}",
                                   model, best->context, best->precision, gib_text(best->weights_bytes), thousands(best->max_context),
                                   best->max_context_is_model_limit ? " (the model's limit)" : "");
    if (best->decode_tokens_per_s)
      text += fmt::format(", decode {}{:.0f} tokens/s ({})", best->speed_measured ? "" : "≈ ", *best->decode_tokens_per_s,
                          best->speed_measured ? "measured" : "estimated");
    std::vector<std::string> heavier;
    for (const auto* c : cells)
      if (c != best && c->weights_bytes > best->weights_bytes && c->mark != Mark::not_applicable)
        heavier.push_back(fmt::format("{} ({})", c->precision, c->status == Outcome::ok ? c->mark_note : c->reason));
    if (!heavier.empty()) text += "; not " + join(heavier, "; not ");
    s.recommendations.push_back(text + ".");
  }
}

}  // namespace vramfit::summary_detail
