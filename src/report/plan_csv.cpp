// report/plan_csv.cpp — `vramfit models` and `vramfit plan` as CSV (report/plan_report.h), and the
// models' JSON document. Fields go through csv_row (core/text_escape.h): ids, reasons and notes come
// from input files.
#include <algorithm>
#include <fmt/format.h>

#include "core/text.h"
#include "core/text_escape.h"
#include "report/plan_report.h"

namespace vramfit {

// Every precision any model has weights for, in all_precisions() order.
std::vector<Precision> weight_columns(const std::vector<ModelSummary>& models) {
  std::vector<Precision> cols;
  for (Precision p : all_precisions())
    for (const auto& s : models)
      if (std::any_of(s.weight_bytes.begin(), s.weight_bytes.end(), [&](const auto& pb) { return pb.first == p; })) {
        cols.push_back(p);
        break;
      }
  return cols;
}

namespace {


std::string num(double v) { return fmt::format("{:.6g}", v); }
std::string opt_ms(const std::optional<LatencyEstimate>& e) { return e ? num(e->ms) : std::string(); }

// A plan row of the memory planner, with `kind` and the fit columns left empty.
std::vector<std::string> memory_fields(const std::string& kind, const MemoryEstimate& e) {
  const bool ok = e.status == Outcome::ok;
  return {kind,
          e.model,
          std::string(to_string(e.precision)),
          std::to_string(e.batch),
          std::string(fit_text(e.status)),
          e.reason,
          ok ? std::to_string(e.weights_bytes) : "",
          ok ? std::to_string(e.arena_bytes) : "",
          ok ? std::to_string(e.lower_bound_bytes) : "",
          ok ? std::to_string(e.workspace_bytes) : "",
          ok ? std::to_string(e.total_bytes()) : "",
          "", "", "", "", "", "", "", ""};
}

}  // namespace

nlohmann::json models_json(const std::vector<ModelSummary>& models) {
  nlohmann::json j;
  j["schema_version"] = kSchemaVersion;
  j["command"] = "models";
  j["models"] = nlohmann::json::array();
  for (const auto& s : models) j["models"].push_back(to_json(s));
  return j;
}

std::string models_csv(const std::vector<ModelSummary>& models) {
  const std::vector<Precision> cols = weight_columns(models);
  std::vector<std::string> header{"id", "parameters", "macs", "flops", "input_per_sample"};
  for (Precision p : cols) header.push_back(fmt::format("weight_bytes_{}", to_string(p)));
  header.push_back("aliases");
  header.push_back("description");
  std::string o = csv_row(header);
  for (const auto& s : models) {
    std::vector<std::string> dims;
    for (auto d : s.input_per_sample.dims()) dims.push_back(std::to_string(d));
    std::vector<std::string> f{s.id, std::to_string(s.parameters), std::to_string(s.macs), std::to_string(s.flops), join(dims, "x")};
    for (Precision p : cols) {
      const auto it = std::find_if(s.weight_bytes.begin(), s.weight_bytes.end(), [&](const auto& pb) { return pb.first == p; });
      f.push_back(it == s.weight_bytes.end() ? "" : std::to_string(it->second));
    }
    f.push_back(join(s.aliases, " "));
    f.push_back(s.description);
    o += csv_row(f);
  }
  return o;
}

const std::vector<std::string>& plan_csv_columns() {
  static const std::vector<std::string> cols{
      "kind",          "model",       "precision",      "batch",      "status",           "reason",
      "weights_bytes", "activation_arena_bytes",       "activation_lower_bound_bytes", "workspace_budget_bytes",
      "total_bytes",   "budget_bytes", "max_batch",     "limited_by", "with_context_bytes", "gpu",
      "latency_ms_batch1_estimate",   "latency_ms_max_batch_estimate", "latency_ms_estimate"};
  return cols;
}

std::string plan_csv(const PlanReport& r) {
  std::string o = csv_row(plan_csv_columns());
  for (const auto& e : r.rows) o += csv_row(memory_fields("memory", e));
  for (const auto& fit : r.fits) {
    std::vector<std::string> f = memory_fields("fit", fit.at_max);
    if (fit.max_batch == 0) f[5] = fit.reason;  // what does not fit, at batch 1
    f[11] = std::to_string(fit.budget_bytes);
    f[12] = std::to_string(fit.max_batch);
    f[13] = fit.limited_by;
    o += csv_row(f);
  }
  if (r.gpu_plan)
    for (const auto& g : r.gpu_plan->rows) {
      const bool ok = g.status == Outcome::ok;
      std::vector<std::string> f = ok ? memory_fields("gpu", g.fit.at_max) : std::vector<std::string>(plan_csv_columns().size());
      f[0] = "gpu";
      f[1] = g.model;
      f[2] = std::string(to_string(g.precision));
      f[4] = std::string(fit_text(g.status));
      f[5] = g.reason;
      f[11] = std::to_string(r.gpu_plan->budget_bytes);
      if (ok || g.status == Outcome::oom) f[12] = std::to_string(g.fit.max_batch);
      if (ok) {
        f[13] = g.fit.limited_by;
        f[14] = std::to_string(g.fit.at_max.total_bytes() + r.gpu_plan->context.bytes);
        f[16] = opt_ms(g.latency_batch1);
        f[17] = opt_ms(g.latency_max_batch);
      }
      f[15] = r.gpu_plan->gpu.name;
      o += csv_row(f);
    }
  if (r.gpu_plan)
    for (const auto& l : r.gpu_plan->per_batch) {
      std::vector<std::string> f(plan_csv_columns().size());
      f[0] = "latency";
      f[1] = l.model;
      f[2] = std::string(to_string(l.precision));
      f[3] = std::to_string(l.batch);
      f[4] = std::string(fit_text(l.status));
      f[5] = l.reason;
      f[15] = r.gpu_plan->gpu.name;
      f[18] = opt_ms(l.estimate);
      o += csv_row(f);
    }
  return o;
}

}  // namespace vramfit
