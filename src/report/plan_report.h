// report/plan_report.h — printers for `vramfit models` and `vramfit plan`: the same structs
// (predict/memory.h) as JSON (with schema_version), as a Markdown table that reads well in a
// terminal, and as CSV (report/plan_csv.cpp). Printers only format; every number comes from the structs.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "predict/gpu_spec.h"
#include "predict/latency.h"
#include "predict/memory.h"

namespace vramfit {

constexpr int kSchemaVersion = 1;

nlohmann::json to_json(const ModelSummary& s);
nlohmann::json to_json(const MemoryEstimate& e);
nlohmann::json to_json(const BudgetFit& f);

nlohmann::json models_json(const std::vector<ModelSummary>& models);  // {schema_version, command, models}
std::string models_markdown(const std::vector<ModelSummary>& models);
// One row per model: id, parameters, macs, flops, input_per_sample, weight_bytes_<precision> for every
// precision any row has (in all_precisions() order; empty where a model has none), aliases, description.
std::string models_csv(const std::vector<ModelSummary>& models);

// `plan --gpu NAME` / `--system ID --systems FILE`: a card from the spec database (or a system's
// inline spec), its budget and, per model × precision, the largest batch and estimated latency.
struct GpuPlan {
  GpuSpec gpu;                      // vram_bytes carries a system's override
  std::string system_id;            // empty for --gpu
  std::string primary_use;          // the system's
  bool vram_overridden = false;
  ContextAllowance context;          // subtracted from the VRAM to get the budget
  std::uint64_t budget_bytes = 0;   // vram − context (0 when the context alone exceeds it)
  std::string calibration_profile;  // --calibrate, empty without
  std::string calibration_device;   // the profile's device
  std::size_t calibration_rows = 0;
  std::vector<std::string> calibration_skipped;
  std::vector<GpuFit> rows;         // one per (model, precision)
  // The estimated latency at every batch asked for (-b), one per (model, precision, batch).
  struct BatchLatency {
    std::string model;
    Precision precision = Precision::fp32;
    std::int64_t batch = 1;
    Outcome status = Outcome::ok;  // unsupported: the card or the engine cannot run it
    std::string reason;
    std::optional<LatencyEstimate> estimate;
  };
  std::vector<BatchLatency> per_batch;
};

struct PlanReport {
  std::vector<MemoryEstimate> rows;
  std::optional<std::uint64_t> vram_limit;  // --vram-limit
  std::vector<BudgetFit> fits;              // one per (model, precision) when vram_limit is set
  std::optional<GpuPlan> gpu_plan;          // --gpu or --system
};

nlohmann::json to_json(const GpuSpec& g);
nlohmann::json to_json(const GpuPlan& p);
std::string gpu_plan_markdown(const GpuPlan& p);

nlohmann::json to_json(const PlanReport& r);
std::string plan_markdown(const PlanReport& r);
// Every table of the plan in one flat CSV, told apart by its first column, `kind`: memory (a row per
// model × precision × batch), fit (the largest batch under --vram-limit), gpu (per card of --gpu or
// --system). plan_csv_columns() is the header.
std::string plan_csv(const PlanReport& r);
const std::vector<std::string>& plan_csv_columns();

// A Markdown table from a header and rows of plain text (formatted numbers, ids, notes; **bold** is kept):
// every cell goes through md_text (core/text_escape.h) here, so callers pass text unescaped. Right-aligns
// numeric columns.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// The weight columns of the models table: every precision any model has weights for (LLMs add
// int8/int4), in all_precisions() order (shared by the Markdown and CSV views).
std::vector<Precision> weight_columns(const std::vector<ModelSummary>& models);

}  // namespace vramfit
