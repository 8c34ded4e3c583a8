#include "report/plan_report.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text_escape.h"
#include "core/text.h"

namespace vramfit {

namespace {


bool numeric(const std::string& s) {
  return !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-') &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == ',' || c == '-' || c == ' ' || c == '%' || c == 'x' || c == 'G' || c == 'M'; });
}


}  // namespace

std::string markdown_table(const std::vector<std::string>& header_text, const std::vector<std::vector<std::string>>& rows_text) {
  // Every cell is escaped here, once (core/text_escape.h): cells carry ids and notes from input files.
  std::vector<std::string> header;
  for (const auto& h : header_text) header.push_back(md_text(h));
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : rows_text) {
    rows.emplace_back();
    for (const auto& c : r) rows.back().push_back(md_text(c));
  }
  std::vector<std::size_t> w(header.size());
  std::vector<bool> right(header.size(), true);
  for (std::size_t c = 0; c < header.size(); ++c) w[c] = header[c].size();
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size() && c < w.size(); ++c) {
      w[c] = std::max(w[c], r[c].size());
      if (!numeric(r[c])) right[c] = false;
    }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (std::size_t c = 0; c < w.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      s += right[c] ? fmt::format(" {:>{}} |", cell, w[c]) : fmt::format(" {:<{}} |", cell, w[c]);
    }
    return s + "\n";
  };
  std::string out = line(header) + "|";
  for (std::size_t c = 0; c < w.size(); ++c) out += std::string(w[c] + 1, '-') + (right[c] ? ":|" : "-|");
  out += "\n";
  for (const auto& r : rows) out += line(r);
  return out;
}

nlohmann::json to_json(const ModelSummary& s) {
  nlohmann::json j;
  j["id"] = s.id;
  j["aliases"] = s.aliases;
  j["description"] = s.description;
  j["input_per_sample"] = s.input_per_sample.dims();
  j["parameters"] = s.parameters;
  j["macs"] = s.macs;
  j["flops"] = s.flops;
  j["gmacs"] = static_cast<double>(s.macs) / 1e9;
  j["gflops"] = static_cast<double>(s.flops) / 1e9;
  nlohmann::json w = nlohmann::json::object();
  for (const auto& [p, b] : s.weight_bytes) w[std::string(to_string(p))] = b;
  j["weight_bytes"] = w;
  return j;
}

std::string models_markdown(const std::vector<ModelSummary>& models) {
  const std::vector<Precision> cols = weight_columns(models);
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : models) {
    const double params = static_cast<double>(s.parameters);
    std::vector<std::string> r{s.id, params >= 1e9 ? fmt::format("{:.2f} B", params / 1e9) : fmt::format("{:.2f} M", params / 1e6),
                               fmt::format("{:.2f} G", static_cast<double>(s.macs) / 1e9),
                               fmt::format("{:.2f} G", static_cast<double>(s.flops) / 1e9)};
    for (Precision p : cols) {
      const auto it = std::find_if(s.weight_bytes.begin(), s.weight_bytes.end(), [&](const auto& pb) { return pb.first == p; });
      r.push_back(it == s.weight_bytes.end() ? "-" : mib_number(it->second));
    }
    std::string aliases;
    for (const auto& a : s.aliases) aliases += (aliases.empty() ? "" : ", ") + a;
    r.push_back(aliases);
    r.push_back(s.description);
    rows.push_back(std::move(r));
  }
  std::vector<std::string> header{"model", "parameters", "MACs", "FLOPs"};
  for (Precision p : cols) header.push_back(fmt::format("weights {} MiB", to_string(p)));
  header.push_back("aliases");
  header.push_back("description");
  return markdown_table(header, rows);
}

nlohmann::json to_json(const MemoryEstimate& e) {
  nlohmann::json j;
  j["model"] = e.model;
  j["precision"] = std::string(to_string(e.precision));
  j["batch"] = e.batch;
  j["status"] = fit_text(e.status);
  if (!e.reason.empty()) j["reason"] = e.reason;
  if (e.status != Outcome::ok) return j;
  j["weights_bytes"] = e.weights_bytes;
  j["activation_arena_bytes"] = e.arena_bytes;
  j["activation_arena_bytes_per_sample"] = e.arena_bytes_per_sample;
  j["activation_lower_bound_bytes"] = e.lower_bound_bytes;
  j["arena_over_lower_bound"] = e.lower_bound_bytes ? static_cast<double>(e.arena_bytes) / static_cast<double>(e.lower_bound_bytes) : 0.0;
  j["workspace_budget_bytes"] = e.workspace_bytes;
  j["total_bytes"] = e.total_bytes();
  j["total_counts"] = "weights + activation arena + workspace budget: the CUDA session's one allocation (the CUDA context and library handles are not counted)";
  return j;
}

nlohmann::json to_json(const BudgetFit& f) {
  nlohmann::json j;
  j["model"] = f.at_max.model;
  j["precision"] = std::string(to_string(f.at_max.precision));
  j["budget_bytes"] = f.budget_bytes;
  j["max_batch"] = f.max_batch;
  j["limited_by"] = f.limited_by;
  if (!f.limit_note.empty()) j["limit_note"] = f.limit_note;
  if (f.max_batch > 0) j["at_max_batch"] = to_json(f.at_max);
  if (!f.reason.empty()) j["reason"] = f.reason;
  return j;
}

nlohmann::json to_json(const PlanReport& r) {
  nlohmann::json j;
  j["schema_version"] = kSchemaVersion;
  j["command"] = "plan";
  j["status_of_numbers"] = "planned";  // exact for vramfit's engine; not measured
  j["rows"] = nlohmann::json::array();
  for (const auto& e : r.rows) j["rows"].push_back(to_json(e));
  if (r.gpu_plan) j["gpu_plan"] = to_json(*r.gpu_plan);
  if (r.vram_limit) {
    j["vram_limit_bytes"] = *r.vram_limit;
    j["cuda_context_counted"] = false;
    j["fits"] = nlohmann::json::array();
    for (const auto& f : r.fits) j["fits"].push_back(to_json(f));
  }
  return j;
}

std::string plan_markdown(const PlanReport& r) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : r.rows) {
    if (e.status != Outcome::ok) {
      rows.push_back({e.model, std::string(to_string(e.precision)), std::to_string(e.batch), std::string(fit_text(e.status)) + ": " + e.reason});
      continue;
    }
    rows.push_back({e.model, std::string(to_string(e.precision)), std::to_string(e.batch), mib_number(e.weights_bytes),
                    mib_number(e.arena_bytes), mib_number(e.lower_bound_bytes),
                    fmt::format("{:.3f}", static_cast<double>(e.arena_bytes) / static_cast<double>(std::max<std::uint64_t>(1, e.lower_bound_bytes))),
                    mib_number(e.workspace_bytes), mib_number(e.total_bytes())});
  }
  std::string out = markdown_table({"model", "precision", "batch", "weights MiB", "activation arena MiB",
                                    "lower bound MiB", "arena/bound", "workspace budget MiB", "total MiB"},
                                   rows);
  out += "\nPlanned by vramfit's memory planner (exact for its engine). Total = weights + activation arena +\n"
         "workspace budget (--workspace): the one allocation a CUDA session makes. Not counted: the CUDA context\n"
         "and library handles (measured by `vramfit devices`/`run`).\n";
  if (r.vram_limit) {
    std::vector<std::vector<std::string>> fr;
    for (const auto& f : r.fits) {
      if (f.max_batch > 0)
        fr.push_back({f.at_max.model, std::string(to_string(f.at_max.precision)), thousands(f.max_batch),
                      mib_number(f.at_max.total_bytes()), f.limited_by == "engine" ? "engine limit: " + f.limit_note : ""});
      else
        fr.push_back({f.at_max.model, std::string(to_string(f.at_max.precision)), "0", "-", f.reason});
    }
    out += fmt::format("\nLargest batch under --vram-limit {} (weights + arena + workspace; the CUDA context's share is not counted):\n\n",
                       format_bytes(*r.vram_limit));
    out += markdown_table({"model", "precision", "max batch", "total MiB at max batch", "why not / what limits it"}, fr);
  }
  if (r.gpu_plan) {
    out += '\n';
    out += gpu_plan_markdown(*r.gpu_plan);
  }
  return out;
}

nlohmann::json to_json(const GpuSpec& g) {
  nlohmann::json j;
  j["name"] = g.name;
  j["aliases"] = g.aliases;
  j["architecture"] = g.architecture;
  j["compute_capability"] = compute_capability_string(g.compute_capability);
  j["vram_bytes"] = g.vram_bytes;
  j["memory_bandwidth_gbs"] = g.memory_bandwidth_gbs;
  j["sms"] = g.sms;
  j["fp32_tflops"] = g.fp32_tflops;
  j["fp16_tflops"] = g.fp16_tflops;
  if (g.fp16_fp16acc_tflops) j["fp16_fp16acc_tflops"] = *g.fp16_fp16acc_tflops;
  if (g.bf16_tflops) j["bf16_tflops"] = *g.bf16_tflops;
  j["int8_tops"] = g.int8_tops;
  if (g.fp8_tflops) j["fp8_tflops"] = *g.fp8_tflops;
  if (g.fp8_fp16acc_tflops) j["fp8_fp16acc_tflops"] = *g.fp8_fp16acc_tflops;
  j["source"] = g.source;
  if (!g.note.empty()) j["note"] = g.note;
  return j;
}

namespace {

nlohmann::json to_json(const LatencyEstimate& e) {
  return {{"ms", e.ms},
          {"status", e.label},
          {"roofline_ms_at_full_efficiency", e.roofline.ms},
          {"compute_bound_ms", e.roofline.compute_ms},
          {"memory_bound_ms", e.roofline.memory_ms},
          {"flops", e.roofline.flops},
          {"bytes", e.roofline.bytes},
          {"efficiency", e.efficiency.value},
          {"efficiency_source", e.efficiency.source}};
}

std::string plan_ms(double v) { return v >= 100 ? fmt::format("{:.0f}", v) : v >= 1 ? fmt::format("{:.2f}", v) : fmt::format("{:.3f}", v); }

}  // namespace

nlohmann::json to_json(const GpuPlan& p) {
  nlohmann::json j;
  j["gpu"] = to_json(p.gpu);
  if (!p.system_id.empty()) {
    j["system"] = {{"id", p.system_id}, {"primary_use", p.primary_use}, {"vram_overridden", p.vram_overridden}};
  }
  j["vram_bytes"] = p.gpu.vram_bytes;
  j["context_overhead_bytes"] = p.context.bytes;
  j["context_overhead_source"] = p.context.source;
  j["budget_bytes"] = p.budget_bytes;
  j["memory_status"] = "planned";     // exact for vramfit's engine
  j["latency_status"] = "estimate";   // roofline from specs, never measured
  if (!p.calibration_profile.empty())
    j["calibration"] = {{"profile", p.calibration_profile}, {"device", p.calibration_device},
                        {"rows_used", p.calibration_rows}, {"rows_skipped", p.calibration_skipped}};
  j["rows"] = nlohmann::json::array();
  for (const auto& f : p.rows) {
    nlohmann::json r;
    r["model"] = f.model;
    r["precision"] = std::string(to_string(f.precision));
    r["status"] = fit_text(f.status);
    if (!f.reason.empty()) r["reason"] = f.reason;
    if (f.status == Outcome::ok || f.status == Outcome::oom) r["max_batch"] = f.fit.max_batch;
    if (f.status == Outcome::ok) {
      r["vram_at_max_batch_bytes"] = f.fit.at_max.total_bytes();
      r["vram_at_max_batch_with_context_bytes"] = f.fit.at_max.total_bytes() + p.context.bytes;
      r["at_max_batch"] = to_json(f.fit.at_max);
      r["latency_estimate_batch_1"] = to_json(*f.latency_batch1);
      r["latency_estimate_max_batch"] = to_json(*f.latency_max_batch);
    }
    j["rows"].push_back(r);
  }
  j["latency_per_batch"] = nlohmann::json::array();
  for (const auto& l : p.per_batch) {
    nlohmann::json x{{"model", l.model}, {"precision", to_string(l.precision)}, {"batch", l.batch}, {"status", fit_text(l.status)}};
    if (!l.reason.empty()) x["reason"] = l.reason;
    if (l.estimate) x["latency"] = to_json(*l.estimate);
    j["latency_per_batch"].push_back(x);
  }
  return j;
}

std::string gpu_plan_markdown(const GpuPlan& p) {
  std::string out;
  if (!p.system_id.empty())
    out += fmt::format("System {} ({}): {}{}\n", md_text(p.system_id), md_text(p.primary_use), md_text(describe(p.gpu)),
                       p.vram_overridden ? ", VRAM overridden by the systems file" : "");
  out += fmt::format("Card: {}, {} VRAM, {:.0f} GB/s, {} SMs; dense peak fp32 {:.1f} TFLOP/s, fp16 tensor (fp32 acc) {:.1f}{}{} TFLOP/s\n",
                     md_text(describe(p.gpu)), format_bytes(p.gpu.vram_bytes), p.gpu.memory_bandwidth_gbs, p.gpu.sms, p.gpu.fp32_tflops,
                     p.gpu.fp16_tflops, p.gpu.bf16_tflops ? fmt::format(", bf16 {:.1f}", *p.gpu.bf16_tflops) : "",
                     p.gpu.fp8_tflops ? fmt::format(", fp8 {:.1f}", *p.gpu.fp8_tflops) : "");
  out += fmt::format("Spec source: {}\n", md_text(p.gpu.source));
  if (!p.gpu.note.empty()) out += fmt::format("Note: {}\n", md_text(p.gpu.note));
  out += fmt::format("Budget: {} VRAM − {} CUDA context and library handles ({}) = {}\n", format_bytes(p.gpu.vram_bytes),
                     format_bytes(p.context.bytes), md_text(p.context.source), format_bytes(p.budget_bytes));
  if (!p.calibration_profile.empty())
    out += fmt::format("Calibration: {} ({}), {} rows used, {} skipped\n", md_text(p.calibration_profile), md_text(p.calibration_device),
                       p.calibration_rows, p.calibration_skipped.size());
  out += "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : p.rows) {
    const std::string prec(to_string(f.precision));
    if (f.status != Outcome::ok) {
      rows.push_back({f.model, prec, std::string(fit_text(f.status)), f.status == Outcome::oom ? "0" : "-", "-", "-", "-", "-", "-", f.reason});
      continue;
    }
    rows.push_back({f.model, prec, "ok", thousands(f.fit.max_batch), mib_number(f.fit.at_max.total_bytes()),
                    mib_number(f.fit.at_max.total_bytes() + p.context.bytes), plan_ms(f.latency_batch1->ms), plan_ms(f.latency_max_batch->ms),
                    fmt::format("{:.3f} / {:.3f}", f.latency_batch1->efficiency.value, f.latency_max_batch->efficiency.value),
                    f.latency_max_batch->efficiency.source});
  }
  out += markdown_table({"model", "precision", "status", "max batch", "VRAM MiB at max batch", "with context MiB",
                         "est. ms batch 1", "est. ms max batch", "efficiency b1 / max", "efficiency at max batch from / why not"},
                        rows);
  std::vector<std::vector<std::string>> per;
  for (const auto& l : p.per_batch)
    per.push_back({l.model, std::string(to_string(l.precision)), std::to_string(l.batch),
                   l.estimate ? "≈ " + plan_ms(l.estimate->ms) : std::string(fit_text(l.status)),
                   l.estimate ? fmt::format("{:.0f}", static_cast<double>(l.batch) * 1e3 / l.estimate->ms) : "-"});
  if (!per.empty()) {
    out += fmt::format("\nEstimated latency on {} at each batch asked for (-b):\n\n", md_text(p.gpu.name));
    out += markdown_table({"model", "precision", "batch", "est. ms", "est. items/s"}, per);
  }
  out += "\nMemory: planned by vramfit's planner (exact for its engine): weights + activation arena + workspace budget;\n"
         "\"with context\" adds the context overhead above. Latency: an ESTIMATE (≈), not a measurement — with a calibration,\n"
         "the time model's per kernel max(FLOPs / (peak · c), bytes / (bandwidth · b)) plus its fixed cost, c, b and the\n"
         "fixed cost fitted on the calibration's card; without one, the roofline divided by 0.5.\n";
  return out;
}

}  // namespace vramfit
