// profile/profile.cpp — ProfileDoc → profile.json, constraints.md, report.html.
#include "profile/profile.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <map>

#include "core/bytes.h"
#include "core/text_escape.h"
#include "core/text.h"

namespace vramfit::profile {

namespace {

const nlohmann::json* measurement_at(const ModelPrecisionResult& r, std::int64_t batch) {
  for (const auto& m : r.measurements)
    if (m.value("batch", std::int64_t{0}) == batch) return &m;
  return nullptr;
}

bool ok(const nlohmann::json* m) { return m && m->value("status", "") == "ok"; }

double median_ms(const nlohmann::json& m) { return m.at("latency_ms").value("median", 0.0); }
std::uint64_t process_total(const nlohmann::json& m) { return m.at("vram_bytes").value("process_total", std::uint64_t{0}); }

std::string mib(std::uint64_t b) { return mib_text(b); }

std::string ms_cell(const nlohmann::json* m) {
  if (!m) return "—";
  if (!ok(m)) return m->value("status", "error");
  return fmt::format("{:.3f} ms", median_ms(*m));
}

std::string max_batch_cell(const ModelPrecisionResult& r) {
  if (r.status != "ok") return r.status == "oom" ? "0" : "—";
  return fmt::format("{}{}", r.max_batch.capped ? "≥ " : "", r.max_batch.max_batch);
}

// LLM rows: a number from a worker's answer when it is ok and holds it.
std::optional<double> llm_number(const std::optional<nlohmann::json>& m, const char* key) {
  if (!m || m->value("status", "") != "ok" || !m->contains(key) || !(*m)[key].is_number()) return std::nullopt;
  return (*m)[key].get<double>();
}
std::optional<std::uint64_t> llm_process_total(const std::optional<nlohmann::json>& m) {
  if (!m || m->value("status", "") != "ok" || !m->contains("vram_bytes")) return std::nullopt;
  return (*m)["vram_bytes"].value("process_total", std::uint64_t{0});
}
nlohmann::json or_null(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
std::string rate_cell(const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : "—"; }

std::string max_context_cell(const LlmPrecisionResult& r) {
  if (r.status != "ok") return r.status == "oom" ? "0" : "—";
  std::string s = fmt::format("{}", r.max_context.max_batch);
  if (r.max_context.capped) s += " (model max)";
  s += r.max_context.prediction_confirmed ? " ✓" : fmt::format(" (planner: {})", r.max_context.predicted);
  return s;
}

std::string fidelity_cell(const ModelPrecisionResult& r) {
  if (!r.fidelity) return r.precision == Precision::fp32 ? "reference" : "—";
  const auto& f = *r.fidelity;
  if (f.value("status", "") != "ok") return "not measured (" + f.value("status", "error") + ")";
  return fmt::format("rel. L2 {:.2e}, top-1 {:.0f} %", f.value("relative_l2", 0.0), 100.0 * f.value("top1_agreement", 0.0));
}

}  // namespace

std::string sanitize_system_id(const std::string& raw) {
  std::string o;
  bool dash = false;
  for (unsigned char c : raw) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      o += static_cast<char>(std::tolower(c));
      dash = c == '-';
    } else if (!dash && !o.empty()) {
      o += '-';
      dash = true;
    }
  }
  while (!o.empty() && o.back() == '-') o.pop_back();
  return o.empty() ? std::string("unknown-system") : o;
}

nlohmann::json to_json(const ModelPrecisionResult& r) {
  nlohmann::json j;
  j["kind"] = "vision";
  j["model"] = r.model;
  j["precision"] = std::string(to_string(r.precision));
  j["status"] = r.status;
  if (!r.reason.empty()) j["reason"] = r.reason;
  j["budget_bytes"] = r.budget_bytes;
  nlohmann::json mb;
  mb["status"] = r.max_batch.status;
  if (!r.max_batch.reason.empty()) mb["reason"] = r.max_batch.reason;
  mb["predicted"] = r.max_batch.predicted;
  mb["predicted_bytes_at_max"] = r.predicted_bytes_at_max;
  mb["max_batch"] = r.max_batch.max_batch;
  mb["ceiling"] = r.max_batch.ceiling;
  mb["capped"] = r.max_batch.capped;
  mb["prediction_confirmed"] = r.max_batch.prediction_confirmed;
  mb["probes"] = nlohmann::json::array();
  for (const auto& p : r.max_batch.probes) {
    nlohmann::json pj{{"batch", p.batch}, {"status", p.status}};
    if (!p.reason.empty()) pj["reason"] = p.reason;
    mb["probes"].push_back(pj);
  }
  j["max_batch"] = mb;
  j["measurements"] = nlohmann::json::array();
  for (const auto& m : r.measurements) j["measurements"].push_back(m);
  j["fidelity"] = r.fidelity ? *r.fidelity : nlohmann::json(nullptr);
  if (!r.streams.empty()) j["streams"] = r.streams;
  const StatusMark sm = status_mark(r);
  j["mark"] = sm.mark;
  if (!sm.note.empty()) j["mark_note"] = sm.note;
  return j;
}

nlohmann::json to_json(const LlmPrecisionResult& r) {
  nlohmann::json j;
  j["kind"] = "llm";
  j["model"] = r.model;
  j["precision"] = std::string(to_string(r.precision));
  j["status"] = r.status;
  if (!r.reason.empty()) j["reason"] = r.reason;
  j["budget_bytes"] = r.budget_bytes;
  j["context"] = r.context;
  j["batch"] = 1;
  j["model_max_context"] = r.model_max_context;
  j["weights_bytes"] = r.weights_bytes;
  j["kv_bytes_per_token"] = r.kv_bytes_per_token;
  j["predicted_bytes"] = r.predicted_bytes;
  j["max_context_batch1"] = r.status == "ok" ? r.max_context.max_batch : 0;
  nlohmann::json mc;
  mc["status"] = r.max_context.status;
  if (!r.max_context.reason.empty()) mc["reason"] = r.max_context.reason;
  mc["predicted"] = r.max_context.predicted;
  mc["predicted_bytes_at_max"] = r.predicted_bytes_at_max;
  mc["max_context"] = r.max_context.max_batch;
  mc["model_limit"] = r.model_max_context;
  mc["capped"] = r.max_context.capped;
  mc["prediction_confirmed"] = r.max_context.prediction_confirmed;
  mc["probes"] = nlohmann::json::array();
  for (const auto& p : r.max_context.probes) {
    nlohmann::json pj{{"context", p.batch}, {"status", p.status}};
    if (!p.reason.empty()) pj["reason"] = p.reason;
    mc["probes"].push_back(pj);
  }
  j["max_context"] = mc;
  // The headline numbers, copied from the two measurements below (null when not measured).
  const auto prefill_tokens = llm_number(r.speed, "prefill_tokens");
  j["prefill_tokens"] = prefill_tokens ? nlohmann::json(static_cast<std::int64_t>(*prefill_tokens)) : nlohmann::json(nullptr);
  j["prefill_tokens_per_s"] = or_null(llm_number(r.speed, "prefill_tokens_per_s"));
  j["decode_tokens_per_s"] = or_null(llm_number(r.speed, "decode_tokens_per_s"));
  j["decode_tokens_per_s_max_context"] = or_null(llm_number(r.at_max, "decode_tokens_per_s"));
  const auto vram = llm_process_total(r.speed);
  j["vram_at_context_bytes"] = vram ? nlohmann::json(*vram) : nlohmann::json(nullptr);
  if (!r.speed_note.empty()) j["speed_note"] = r.speed_note;
  j["measurements"] = nlohmann::json::array();
  auto add = [&](const std::optional<nlohmann::json>& m, const char* measure, std::int64_t context) {
    if (!m) return;
    nlohmann::json x = *m;
    x["kind"] = "llm";
    x["measure"] = measure;
    x["model"] = r.model;
    x["precision"] = std::string(to_string(r.precision));
    x["context"] = context;
    x["batch"] = 1;
    j["measurements"].push_back(std::move(x));
  };
  add(r.speed, "speed", r.context);
  add(r.at_max, "fit", r.max_context.max_batch);
  const StatusMark sm = status_mark(r);
  j["mark"] = sm.mark;
  if (!sm.note.empty()) j["mark_note"] = sm.note;
  return j;
}

nlohmann::json to_json(const ProfileDoc& d) {
  nlohmann::json j;
  j["schema_version"] = kProfileSchemaVersion;
  j["command"] = "profile";
  j["vramfit_version"] = d.vramfit_version;
  j["system_id"] = d.system_id;
  j["date"] = d.date;
  j["device"] = d.device;
  j["software"] = d.software;
  j["vram_limit"] = d.vram_limit.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.vram_limit);
  j["vram_limit_bytes"] = d.vram_limit_bytes ? nlohmann::json(*d.vram_limit_bytes) : nlohmann::json(nullptr);
  j["reserve_bytes"] = d.reserve_bytes;
  j["budget_bytes"] = d.budget_bytes;
  j["context_bytes"] = d.context_bytes;
  j["max_batch_ceiling"] = d.max_batch_ceiling;
  j["quick"] = d.quick;
  j["timeout_s"] = d.timeout_s;
  j["warnings"] = d.warnings;
  j["results"] = nlohmann::json::array();
  for (const auto& r : d.results) j["results"].push_back(to_json(r));
  for (const auto& r : d.llm_results) j["results"].push_back(to_json(r));
  return j;
}

StatusMark status_mark(const ModelPrecisionResult& r) {
  if (r.status != "ok") return {"❌", r.status == "oom" ? "not even batch 1 fits: " + r.reason : r.status + ": " + r.reason};
  std::vector<std::string> notes;
  if (!r.max_batch.prediction_confirmed)
    notes.push_back(fmt::format("planner predicted max batch {}, the GPU ran {}", r.max_batch.predicted, r.max_batch.max_batch));
  for (const auto& m : r.measurements) {
    const std::int64_t b = m.value("batch", std::int64_t{0});
    if (m.value("status", "") != "ok") {
      notes.push_back(fmt::format("batch {}: {} ({})", b, m.value("status", "error"), m.value("reason", "")));
    } else if (m.contains("latency_ms") && !m["latency_ms"].value("trusted", true)) {
      notes.push_back(fmt::format("batch {}: timing not trusted ({})", b, m["latency_ms"].value("note", "")));
    }
  }
  if (r.fidelity) {
    const auto& f = *r.fidelity;
    if (f.value("status", "") != "ok") notes.push_back("fidelity not measured: " + f.value("reason", f.value("status", "error")));
    else if (f.contains("top1_agreement") && f.value("top1_agreement", 0.0) < 0.99)
      notes.push_back(fmt::format("top-1 agreement with fp32 only {:.0f} %", 100.0 * f.value("top1_agreement", 0.0)));
    else if (!f.contains("top1_agreement") && f.value("relative_l2", 1.0) > 5e-2)
      notes.push_back(fmt::format("output differs from fp32 by {:.1e} (relative L2)", f.value("relative_l2", 1.0)));
  }
  if (notes.empty()) return {"✅", ""};
  std::string s;
  for (const auto& n : notes) s += (s.empty() ? "" : "; ") + n;
  return {"⚠️", s};
}

StatusMark status_mark(const LlmPrecisionResult& r) {
  if (r.status != "ok") return {"❌", r.status == "oom" ? "does not fit: " + r.reason : r.status + ": " + r.reason};
  std::vector<std::string> notes;
  if (!r.max_context.prediction_confirmed)
    notes.push_back(fmt::format("planner predicted max context {}, the GPU ran {}", r.max_context.predicted, r.max_context.max_batch));
  auto failed = [](const std::optional<nlohmann::json>& m) { return m && m->value("status", "") != "ok"; };
  if (!r.speed_note.empty()) notes.push_back(r.speed_note);
  else if (failed(r.speed))
    notes.push_back(fmt::format("context {}: {} ({})", r.context, r.speed->value("status", "error"), r.speed->value("reason", "")));
  else if (r.speed && !llm_number(r.speed, "decode_tokens_per_s"))
    notes.push_back(fmt::format("decode not timed at context {}", r.context));
  if (failed(r.at_max))
    notes.push_back(fmt::format("decode at the max context {}: {} ({})", r.max_context.max_batch, r.at_max->value("status", "error"),
                                r.at_max->value("reason", "")));
  if (notes.empty()) return {"✅", ""};
  std::string s;
  for (const auto& n : notes) s += (s.empty() ? "" : "; ") + n;
  return {"⚠️", s};
}

std::string constraints_markdown(const ProfileDoc& d) {
  std::string s = fmt::format("# GPU constraints: {}\n\n", md_text(d.system_id));
  s += fmt::format("- Device: {}\n", md_text(d.device.value("summary", d.device.value("name", "unknown"))));
  if (!d.software.empty())
    s += fmt::format("- Software: {}; {}; {}\n", d.software.value("cudnn", "?"), d.software.value("cublaslt", "?"), d.software.value("cuda", "?"));
  s += fmt::format("- Measured {} by vramfit {}{}\n", d.date, d.vramfit_version, d.quick ? " (--quick: fewer batches and iterations)" : "");
  if (d.vram_limit_bytes)
    s += fmt::format("- Budget: an emulated card of {} — {} for weights + activations + workspace after the CUDA context and "
                     "library handles ({}) and --reserve ({})\n",
                     d.vram_limit, mib(d.budget_bytes), mib(d.context_bytes), mib(d.reserve_bytes));
  else
    s += fmt::format("- Budget: the card's free memory — {} for weights + activations + workspace (CUDA context and handles {}, "
                     "--reserve {})\n",
                     mib(d.budget_bytes), mib(d.context_bytes), mib(d.reserve_bytes));
  // The vision table (left out of a profile of LLMs only).
  const bool vision_table = !d.results.empty() || d.llm_results.empty();
  if (vision_table) {
    s += "\n| model | precision | max batch | VRAM at max batch | latency batch 1 | latency at max batch | items/s at max batch | fidelity vs fp32 | status |\n";
    s += "|---|---|---:|---:|---:|---:|---:|---|---|\n";
    for (const auto& r : d.results) {
      const StatusMark sm = status_mark(r);
      const nlohmann::json* at_max = r.status == "ok" ? measurement_at(r, r.max_batch.max_batch) : nullptr;
      const nlohmann::json* at_1 = r.status == "ok" ? measurement_at(r, 1) : nullptr;
      s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.model, to_string(r.precision), max_batch_cell(r),
                       ok(at_max) ? mib(process_total(*at_max)) : "—", ms_cell(at_1), ms_cell(at_max),
                       ok(at_max) ? fmt::format("{:.0f}", at_max->value("items_per_s", 0.0)) : "—", md_text(fidelity_cell(r)),
                       md_text(sm.note.empty() ? sm.mark : sm.mark + " " + sm.note));
    }
    s += fmt::format(
        "\nStatus: ✅ runs — the planner's max batch was confirmed on the GPU (the predicted batch ran and one more was out of "
        "memory), every measurement is ok with trusted timing, and below fp32 the top-1 agreement with fp32 is ≥ 99 %. "
        "⚠️ runs, with the reason given (prediction not confirmed, a measurement failed, timing not trusted, fidelity low or "
        "not measured). ❌ does not run here: not even batch 1 fits the budget, the precision is unsupported on this GPU, or "
        "the worker failed. VRAM is the process total (weights + activations + workspace + CUDA context and handles). "
        "Max batch is searched up to --max-batch {}; \"≥\" means that ceiling was reached.\n",
        d.max_batch_ceiling);
  }

  bool any_streams = false;
  for (const auto& r : d.results) any_streams = any_streams || !r.streams.empty();
  if (any_streams) {
    s += "\n## Concurrent streams (pose models)\n\n"
         "The most copies of the model that run at once on this budget (one CUDA stream, activation region and workspace "
         "each, shared weights), predicted by the planner and confirmed on the GPU (N ran, N + 1 was out of memory).\n\n"
         "| model | precision | batch per stream | max streams | confirmed | per stream |\n|---|---|---:|---:|---|---:|\n";
    for (const auto& r : d.results)
      for (const auto& st : r.streams) {
        const bool capped = st.value("capped", false);
        s += fmt::format("| {} | {} | {} | {}{} | {} | {} |\n", r.model, to_string(r.precision), st.value("batch", 0), capped ? "≥ " : "",
                         st.value("max_streams", 0),
                         st.value("status", "ok") != "ok" ? md_text(st.value("status", "") + ": " + st.value("reason", ""))
                         : st.value("prediction_confirmed", false) ? "yes"
                                                                   : fmt::format("no (planner said {})", st.value("predicted", 0)),
                         mib(st.value("per_stream_bytes", std::uint64_t{0})));
      }
  }

  if (!d.llm_results.empty()) {
    std::int64_t ctx = 512, steps = 0;
    for (const auto& r : d.llm_results) {
      if (r.context > 0) ctx = r.context;
      if (r.speed) steps = r.speed->value("decode_steps", steps);
    }
    s += fmt::format("\n## Decoder LLMs (batch 1)\n\n"
                     "| model | precision | weights | KV cache per token | max context (batch 1) | VRAM at context {} | prefill tokens/s | "
                     "decode tokens/s at {} | decode tokens/s at max context | status |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
                     ctx, ctx);
    for (const auto& r : d.llm_results) {
      const StatusMark sm = status_mark(r);
      const bool planned = r.status != "unsupported";
      const auto vram = llm_process_total(r.speed);
      s += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.model, to_string(r.precision),
                       planned ? fmt::format("{:.2f} GiB", to_gib(r.weights_bytes)) : "—",
                       planned ? fmt::format("{:.1f} KiB", static_cast<double>(r.kv_bytes_per_token) / 1024.0) : "—", max_context_cell(r),
                       vram ? mib(*vram) : "—", rate_cell(llm_number(r.speed, "prefill_tokens_per_s")),
                       rate_cell(llm_number(r.speed, "decode_tokens_per_s")), rate_cell(llm_number(r.at_max, "decode_tokens_per_s")),
                       md_text(sm.note.empty() ? sm.mark : sm.mark + " " + sm.note));
    }
    s += fmt::format("\nMax context: the planner's largest context at batch 1 under the budget, run on the GPU (✓: it ran and one "
                     "token more was out of memory; \"model max\": the model's max_position_embeddings, more memory would not help). "
                     "Prefill: {} − 1 prompt tokens from an empty cache (a session keeps a position free to decode). Decode: {} "
                     "after a prompt that leaves room for them, and at the max context with the KV cache filled to its end. VRAM: the "
                     "process total (the session's one arena + CUDA context and handles).\n",
                     ctx, steps > 0 ? fmt::format("{} timed steps", steps) : std::string("timed steps"));
  }

  s += "\n## What does not fit, and why\n\n";
  bool any = false;
  for (const auto& r : d.results) {
    if (r.status != "ok") {
      s += fmt::format("- **{} {}** ({}): {}\n", r.model, to_string(r.precision), r.status, md_text(r.reason));
      any = true;
      continue;
    }
    if (r.max_batch.capped) continue;
    // The smallest batch that was out of memory, with the worker's reason.
    const Probe* first_oom = nullptr;
    for (const auto& p : r.max_batch.probes)
      if (p.status == "oom" && (!first_oom || p.batch < first_oom->batch)) first_oom = &p;
    if (first_oom) {
      s += fmt::format("- **{} {}**: batch {} does not fit: {}\n", r.model, to_string(r.precision), first_oom->batch,
                       md_text(first_oom->reason));
      any = true;
    }
  }
  for (const auto& r : d.llm_results) {
    if (r.status != "ok") {
      s += fmt::format("- **{} {}** ({}): {}\n", r.model, to_string(r.precision), r.status, md_text(r.reason));
      any = true;
      continue;
    }
    if (!r.speed_note.empty()) {
      s += fmt::format("- **{} {}**: {}\n", r.model, to_string(r.precision), md_text(r.speed_note));
      any = true;
    }
    if (r.max_context.capped) continue;
    const Probe* first_oom = nullptr;
    for (const auto& p : r.max_context.probes)
      if (p.status == "oom" && (!first_oom || p.batch < first_oom->batch)) first_oom = &p;
    if (first_oom) {
      s += fmt::format("- **{} {}**: context {} at batch 1 does not fit: {}\n", r.model, to_string(r.precision), first_oom->batch,
                       md_text(first_oom->reason));
      any = true;
    }
  }
  if (!any) s += fmt::format("Everything requested ran up to the --max-batch ceiling ({}).\n", d.max_batch_ceiling);
  if (!d.warnings.empty()) {
    s += "\n## Warnings\n\n";
    for (const auto& w : d.warnings) s += "- " + md_text(w) + "\n";
  }
  return s;
}

namespace {

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (batch, value)
};

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"};

std::string nice_number(double v) {
  if (v >= 1000) return fmt::format("{:.0f}", v);
  if (v >= 10) return fmt::format("{:.0f}", v);
  if (v >= 1) return fmt::format("{:.1f}", v);
  return fmt::format("{:.2g}", v);
}

// A line chart: x = batch on a log2 axis, y linear from 0; an optional horizontal limit line.
std::string svg_chart(const std::string& title, const std::string& y_label, const std::vector<Series>& series,
                      std::optional<std::pair<double, std::string>> hline) {
  const double W = 640, H = 360, L = 70, R = 170, T = 30, B = 45;
  double xmax = 1, ymax = 0;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
    }
  if (hline) ymax = std::max(ymax, hline->first);
  if (ymax <= 0) ymax = 1;
  ymax *= 1.08;
  const double lx = std::log2(std::max(2.0, xmax));
  auto px = [&](double x) { return L + (W - L - R) * std::log2(std::max(1.0, x)) / lx; };
  auto py = [&](double y) { return H - B - (H - T - B) * y / ymax; };
  std::string o = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\">\n",
                              W, H, W, H);
  o += fmt::format("<title>{}</title>\n<text x=\"{}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>\n", html_escape(title), L,
                   html_escape(title));
  o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, H - B, W - R, H - B);
  o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n", L, T, L, H - B);
  for (double x = 1; x <= xmax * 1.0001; x *= 4)
    o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>\n", px(x), H - B + 15, x);
  o += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">batch (log scale)</text>\n", L + (W - L - R) / 2,
                   H - 8);
  for (int i = 0; i <= 4; ++i) {
    const double y = ymax * i / 4.0;
    o += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", L, py(y), W - R, py(y));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"end\">{}</text>\n", L - 5, py(y) + 4, nice_number(y));
  }
  o += fmt::format("<text x=\"14\" y=\"{:.1f}\" font-size=\"12\" transform=\"rotate(-90 14 {:.1f})\" text-anchor=\"middle\">{}</text>\n",
                   (T + H - B) / 2, (T + H - B) / 2, html_escape(y_label));
  if (hline) {
    o += fmt::format("<line class=\"budget\" x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#000\" stroke-dasharray=\"6 4\"/>\n", L,
                     py(hline->first), W - R, py(hline->first));
    o += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"11\">{}</text>\n", W - R + 5, py(hline->first) + 4, html_escape(hline->second));
  }
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const char* c = kColors[i % (sizeof(kColors) / sizeof(kColors[0]))];
    std::string pts;
    for (const auto& [x, y] : s.points) pts += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    if (s.points.size() > 1) o += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", c, pts);
    for (const auto& [x, y] : s.points)
      o += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{}: batch {} → {}</title></circle>\n", px(x), py(y), c,
                       html_escape(s.name), x, nice_number(y));
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\" font-size=\"11\">{}</text>\n",
                     W - R + 5, T + 16 * static_cast<double>(i), c, W - R + 19, T + 16 * static_cast<double>(i) + 9, html_escape(s.name));
  }
  o += "</svg>\n";
  return o;
}

}  // namespace

std::string report_html(const ProfileDoc& d) {
  std::vector<Series> vram, latency, throughput;
  for (const auto& r : d.results) {
    Series v{fmt::format("{} {}", r.model, to_string(r.precision)), {}}, l = v, t = v;
    for (const auto& m : r.measurements) {
      if (!ok(&m)) continue;
      const double b = static_cast<double>(m.value("batch", std::int64_t{1}));
      v.points.emplace_back(b, to_mib(process_total(m)));
      l.points.emplace_back(b, median_ms(m));
      t.points.emplace_back(b, m.value("items_per_s", 0.0));
    }
    auto by_x = [](Series& s) { std::sort(s.points.begin(), s.points.end()); };
    by_x(v), by_x(l), by_x(t);
    if (!v.points.empty()) {
      vram.push_back(std::move(v));
      latency.push_back(std::move(l));
      throughput.push_back(std::move(t));
    }
  }
  // The process total is compared with what the (emulated) card gives a process: budget + context.
  const double card_mib = to_mib(d.budget_bytes + d.context_bytes);
  const std::string md = constraints_markdown(d);

  std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  o += fmt::format("<title>vramfit profile: {}</title>\n", html_escape(d.system_id));
  o += "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 8px}td.n{text-align:right}.charts svg{margin:0 1em 1em 0}</style>\n</head>\n<body>\n";
  o += fmt::format("<h1>GPU constraints: {}</h1>\n", html_escape(d.system_id));
  o += fmt::format("<p>Device: {}<br>Software: {}; {}; {}<br>Measured {} by vramfit {}</p>\n",
                   html_escape(d.device.value("summary", d.device.value("name", "unknown"))), html_escape(d.software.value("cudnn", "?")),
                   html_escape(d.software.value("cublaslt", "?")), html_escape(d.software.value("cuda", "?")), html_escape(d.date),
                   html_escape(d.vramfit_version));
  o += fmt::format("<p>Budget for weights + activations + workspace: {} ({}); CUDA context and handles {}; reserve {}.</p>\n",
                   html_escape(mib(d.budget_bytes)), d.vram_limit_bytes ? "emulated card of " + html_escape(d.vram_limit) : "free memory",
                   html_escape(mib(d.context_bytes)), html_escape(mib(d.reserve_bytes)));
  const bool vision_table = !d.results.empty() || d.llm_results.empty();  // left out of a profile of LLMs only
  if (vision_table) {
    o += "<table>\n<tr><th>model</th><th>precision</th><th>max batch</th><th>predicted</th><th>VRAM at max batch</th>"
         "<th>latency batch 1</th><th>latency at max batch</th><th>items/s at max batch</th><th>fidelity vs fp32</th><th>status</th></tr>\n";
    for (const auto& r : d.results) {
      const StatusMark sm = status_mark(r);
      const nlohmann::json* at_max = r.status == "ok" ? measurement_at(r, r.max_batch.max_batch) : nullptr;
      const nlohmann::json* at_1 = r.status == "ok" ? measurement_at(r, 1) : nullptr;
      o += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                       "<td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{} {}</td></tr>\n",
                       html_escape(r.model), to_string(r.precision), html_escape(max_batch_cell(r)), r.max_batch.predicted,
                       r.max_batch.prediction_confirmed ? " (confirmed)" : " (not confirmed)",
                       ok(at_max) ? html_escape(mib(process_total(*at_max))) : "—", html_escape(ms_cell(at_1)), html_escape(ms_cell(at_max)),
                       ok(at_max) ? fmt::format("{:.0f}", at_max->value("items_per_s", 0.0)) : "—", html_escape(fidelity_cell(r)), sm.mark,
                       html_escape(sm.note));
    }
    o += "</table>\n";
  }
  if (!d.llm_results.empty()) {
    o += "<h2>Decoder LLMs (batch 1)</h2>\n<table>\n<tr><th>model</th><th>precision</th><th>weights</th><th>KV cache per token</th>"
         "<th>max context (batch 1)</th><th>VRAM at the speed context</th><th>prefill tokens/s</th><th>decode tokens/s</th>"
         "<th>decode tokens/s at max context</th><th>status</th></tr>\n";
    for (const auto& r : d.llm_results) {
      const StatusMark sm = status_mark(r);
      const bool planned = r.status != "unsupported";
      const auto at_ctx = llm_process_total(r.speed);
      o += fmt::format("<tr class=\"llm\"><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
                       "<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{} {}</td></tr>\n",
                       html_escape(r.model), to_string(r.precision), planned ? fmt::format("{:.2f} GiB", to_gib(r.weights_bytes)) : "—",
                       planned ? fmt::format("{:.1f} KiB", static_cast<double>(r.kv_bytes_per_token) / 1024.0) : "—",
                       html_escape(max_context_cell(r)), at_ctx ? html_escape(fmt::format("{} (context {})", mib(*at_ctx), r.context)) : "—",
                       rate_cell(llm_number(r.speed, "prefill_tokens_per_s")), rate_cell(llm_number(r.speed, "decode_tokens_per_s")),
                       rate_cell(llm_number(r.at_max, "decode_tokens_per_s")), sm.mark, html_escape(sm.note));
    }
    o += "</table>\n";
  }
  if (vision_table) {
    o += "<div class=\"charts\">\n";
    o += svg_chart("VRAM (process total) against batch", "MiB", vram,
                   std::make_pair(card_mib, fmt::format("budget {:.0f} MiB", card_mib)));
    o += svg_chart("Latency (median) against batch", "ms", latency, std::nullopt);
    o += svg_chart("Throughput against batch", "items/s", throughput, std::nullopt);
    o += "</div>\n";
  }
  o += "<h2>Constraints (Markdown)</h2>\n<pre>" + html_escape(md) + "</pre>\n</body>\n</html>\n";
  return o;
}

}  // namespace vramfit::profile
