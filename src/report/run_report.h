// report/run_report.h — the rows `vramfit run` measures, and their printers (Markdown, JSON, CSV).
// Rows (result/run_row.h) are plain numbers measured by measure/; nothing here knows CUDA.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "result/run_row.h"

namespace vramfit {

struct RunReport {
  std::string device;    // "NVIDIA H200 (sm_90, …)"
  std::string software;  // "cuDNN 9.14.0 (built with 9.19.0), cuBLASLt …, CUDA …"
  std::string vram_limit;  // as given, empty if none
  std::vector<RunRow> rows;
};

nlohmann::json to_json(const RunReport& r);
std::string run_markdown(const RunReport& r);
std::string run_csv(const RunReport& r);

}  // namespace vramfit
