// `vramfit devices [-o md|json|csv]` (--json = -o json) — every GPU here: name, compute capability, SMs, VRAM total and free,
// clocks (now and maximum, and why they are held down), driver, CUDA runtime, cuDNN and cuBLASLt
// versions (which cuDNN file was loaded), and the CUDA context and library-handle overhead measured
// on each card. The CUDA runtime answers what it can; NVML (loaded at run time; measure/measure.h devices_json)
// adds the driver string, current clocks and temperature — where NVML is missing this says so once
// and carries on.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/bytes.h"
#include "core/error.h"
#include "measure/measure.h"
#include "report/devices_report.h"


namespace vramfit::cli {

Runner register_devices(CLI::App& app) {
  auto* sub = app.add_subcommand("devices", "GPUs here: name, compute capability, SMs, VRAM total/free, clocks, driver, CUDA runtime, "
                                            "cuDNN and cuBLASLt versions, and the context/handle overhead measured on each card");
  // JSON: schema_version 1; Markdown and CSV: report/devices_report.h.
  const auto format = add_format_option(*sub, /*json_alias=*/true);
  return [format]() -> int {
    const OutputFormat f = format();  // checked before anything else, with or without a GPU
    if (const std::string why = measure::why_no_gpu(); !why.empty()) {
      std::fprintf(stderr, "vramfit: %s: no devices to list; `vramfit plan --help` plans without one\n", why.c_str());
      return 2;
    }
    const nlohmann::json j = measure::devices_json();
    if (f == OutputFormat::json) std::printf("%s\n", j.dump(2).c_str());
    else if (f == OutputFormat::csv) std::printf("%s", devices_csv(j).c_str());
    else std::printf("%s", devices_markdown(j).c_str());
    return 0;
  };
}

}  // namespace vramfit::cli
