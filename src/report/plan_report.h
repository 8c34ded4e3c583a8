// report/plan_report.h — printers for `vramfit models` and `vramfit plan`: the same structs
// (predict/memory.h) as JSON (with schema_version) and as a Markdown table that reads well in a
// terminal. Printers only format; every number comes from the structs.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "predict/memory.h"

namespace vramfit {

constexpr int kSchemaVersion = 1;

nlohmann::json to_json(const ModelSummary& s);
nlohmann::json to_json(const MemoryEstimate& e);
nlohmann::json to_json(const BudgetFit& f);

std::string models_markdown(const std::vector<ModelSummary>& models);

struct PlanReport {
  std::vector<MemoryEstimate> rows;
  std::optional<std::uint64_t> vram_limit;  // --vram-limit
  std::vector<BudgetFit> fits;              // one per (model, precision) when vram_limit is set
};

nlohmann::json to_json(const PlanReport& r);
std::string plan_markdown(const PlanReport& r);

// A Markdown table from a header and rows (cells already formatted); right-aligns numeric columns.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace vramfit
