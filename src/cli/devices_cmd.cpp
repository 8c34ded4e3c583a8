// `vramfit devices [-o md|json|csv]` (--json = -o json) — every GPU here: name, compute capability, SMs, VRAM total and free,
// clocks (now and maximum, and why they are held down), driver, CUDA runtime, cuDNN and cuBLASLt
// versions (which cuDNN file was loaded), and the CUDA context and library-handle overhead measured
// on each card. The CUDA runtime answers what it can; NVML (loaded at run time, backend/cuda/nvml.h)
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
#include "report/devices_report.h"

#ifdef VRAMFIT_HAVE_CUDA
#include "backend/cuda/device.h"
#include "backend/cuda/library_versions.h"
#include "backend/cuda/nvml.h"
#include "runtime/session.h"
#endif

namespace vramfit::cli {

Runner register_devices(CLI::App& app) {
  auto* sub = app.add_subcommand("devices", "GPUs here: name, compute capability, SMs, VRAM total/free, clocks, driver, CUDA runtime, "
                                            "cuDNN and cuBLASLt versions, and the context/handle overhead measured on each card");
  // JSON: schema_version 1; Markdown and CSV: report/devices_report.h.
  const auto format = add_format_option(*sub, /*json_alias=*/true);
  return [format]() -> int {
    [[maybe_unused]] const OutputFormat f = format();  // checked before anything else, with or without CUDA
#ifndef VRAMFIT_HAVE_CUDA
    throw InvalidInput("this vramfit was built without the CUDA backend (VRAMFIT_CUDA=OFF): no devices to list");
#else
    if (!cuda::cuda_device_available()) {
      std::fprintf(stderr, "vramfit: no CUDA GPU is visible to this process; `vramfit plan --help` plans without one\n");
      return 2;
    }
    const auto lv = cuda::library_versions();
    const auto& nvml = cuda::Nvml::instance();
    nlohmann::json j;
    j["schema_version"] = 1;
    j["software"] = {{"cudnn", cuda::cudnn_version_string(lv)}, {"cudnn_path", lv.cudnn_path},
                     {"cublaslt", cuda::cublaslt_version_string(lv)}, {"cuda", cuda::cuda_version_string(lv)},
                     {"driver", nvml.driver_version()},
                     {"nvml", nvml.available() ? std::string("loaded") : "unavailable: " + nvml.why_unavailable()}};
    j["devices"] = nlohmann::json::array();
    for (int d = 0; d < cuda::cuda_device_count(); ++d) {
      const auto info = cuda::query(d);
      const auto oh = measure_context_overhead(d);
      nlohmann::json dj = {{"ordinal", d}, {"name", info.name}, {"pci_bus_id", info.pci_bus_id},
                           {"compute_capability", fmt::format("{}.{}", info.cc_major, info.cc_minor)}, {"sms", info.sm_count},
                           {"total_bytes", info.total_bytes}, {"free_bytes", info.free_bytes}, {"clock_khz", info.clock_khz},
                           {"memory_clock_khz", info.memory_clock_khz}, {"memory_bus_bits", info.memory_bus_bits},
                           {"l2_bytes", info.l2_bytes}, {"context_bytes", oh.context_bytes}, {"handles_bytes", oh.handles_bytes},
                           {"summary", info.summary()}};
      if (auto c = nvml.clocks(info.pci_bus_id)) {
        dj["clocks"] = {{"sm_mhz", c->sm_mhz}, {"mem_mhz", c->mem_mhz}, {"max_sm_mhz", c->max_sm_mhz}, {"max_mem_mhz", c->max_mem_mhz},
                        {"event_reasons", c->event_reasons}, {"event_reasons_text", c->reasons_text()}};
      }
      if (auto t = nvml.temperature_c(info.pci_bus_id)) dj["temperature_c"] = *t;
      j["devices"].push_back(std::move(dj));
    }
    if (f == OutputFormat::json) std::printf("%s\n", j.dump(2).c_str());
    else if (f == OutputFormat::csv) std::printf("%s", devices_csv(j).c_str());
    else std::printf("%s", devices_markdown(j).c_str());
    return 0;
#endif
  };
}

}  // namespace vramfit::cli
