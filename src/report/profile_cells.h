// report/profile_cells.h — (private to report/) the cells of a profile's tables, the same text in
// constraints.md and report.html (report/profile_printers.h).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "profile/profile.h"

namespace vramfit::profile_cells {

// The row's measurement at this batch, or null.
const nlohmann::json* measurement_at(const profile::ModelPrecisionResult& r, std::int64_t batch);
// A measurement that ran.
bool ran(const nlohmann::json* m);
double median_ms(const nlohmann::json& m);
std::uint64_t process_total(const nlohmann::json& m);

std::string ms_cell(const nlohmann::json* m);                          // "1.234 ms", "oom", "—"
std::string max_batch_cell(const profile::ModelPrecisionResult& r);     // "≥ 4096", "0", "—"
std::string fidelity_cell(const profile::ModelPrecisionResult& r);      // "rel. L2 1.00e-03, top-1 100 %", "reference"
std::string max_context_cell(const profile::LlmPrecisionResult& r);     // "4096 (model max) ✓", "1739 (planner: 1800)"
std::string rate_cell(const std::optional<double>& v);                  // "323.4", "—"
std::string weights_cell(const profile::LlmPrecisionResult& r);         // "12.55 GiB", "—" (unsupported: not planned)
std::string kv_cell(const profile::LlmPrecisionResult& r);              // "512.0 KiB", "—"

}  // namespace vramfit::profile_cells
