// report/devices_report.h — printers for `vramfit devices`: the document the command builds (JSON,
// schema_version 1: {software: {cudnn, cudnn_path, cublaslt, cuda, driver, nvml}, devices: [{ordinal,
// name, pci_bus_id, compute_capability, sms, total_bytes, free_bytes, clock_khz, memory_clock_khz,
// memory_bus_bits, l2_bytes, context_bytes, handles_bytes, summary, clocks?, temperature_c?}]}) as
// Markdown (the software, then one table row per GPU) and as CSV (one row per GPU, the software
// repeated on each). Printers only format; a missing field prints empty, never throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vramfit {

std::string devices_markdown(const nlohmann::json& doc);
std::string devices_csv(const nlohmann::json& doc);
const std::vector<std::string>& devices_csv_columns();

}  // namespace vramfit
