// report/devices_report.cpp — `vramfit devices` as Markdown and CSV (report/devices_report.h).
#include "report/devices_report.h"

#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text_escape.h"
#include "report/plan_report.h"

namespace vramfit {

namespace {

// A field as text: strings as they are, numbers in JSON's spelling, absent or null as "".
std::string text(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

std::string bytes_cell(const nlohmann::json& j, const char* key) {
  return j.contains(key) && j[key].is_number_unsigned() ? format_bytes(j[key].get<std::uint64_t>()) : "—";
}

std::string clocks_cell(const nlohmann::json& d) {
  if (!d.contains("clocks")) return "—";
  const auto& c = d["clocks"];
  return fmt::format("SM {} of {} MHz, memory {} of {} MHz; held down by: {}", text(c, "sm_mhz"), text(c, "max_sm_mhz"), text(c, "mem_mhz"),
                     text(c, "max_mem_mhz"), text(c, "event_reasons_text"));
}

const nlohmann::json& devices_of(const nlohmann::json& doc) {
  static const nlohmann::json none = nlohmann::json::array();
  return doc.contains("devices") && doc["devices"].is_array() ? doc["devices"] : none;
}

}  // namespace

std::string devices_markdown(const nlohmann::json& doc) {
  const nlohmann::json sw = doc.value("software", nlohmann::json::object());
  std::string o = "# GPUs\n\n";
  o += fmt::format("- {}\n- {}\n- {}\n", md_text(text(sw, "cudnn")), md_text(text(sw, "cublaslt")), md_text(text(sw, "cuda")));
  o += fmt::format("- cuDNN loaded from {}\n", md_code(text(sw, "cudnn_path")));
  const std::string nvml = text(sw, "nvml");
  if (nvml == "loaded") o += fmt::format("- NVIDIA driver {} (NVML)\n", md_text(text(sw, "driver")));
  else o += fmt::format("- NVML: {} — clocks now, temperature and the driver string are not shown\n", md_text(nvml));
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : devices_of(doc))
    rows.push_back({text(d, "ordinal"), text(d, "summary"), bytes_cell(d, "free_bytes"), bytes_cell(d, "context_bytes"),
                    bytes_cell(d, "handles_bytes"), clocks_cell(d), d.contains("temperature_c") ? text(d, "temperature_c") + " °C" : "—"});
  o += "\n" + markdown_table({"GPU", "device", "free", "CUDA context", "cuDNN/cuBLASLt handles", "clocks", "temperature"}, rows);
  return o;
}

const std::vector<std::string>& devices_csv_columns() {
  static const std::vector<std::string> cols{
      "ordinal",   "name",          "pci_bus_id", "compute_capability", "sms",       "total_bytes", "free_bytes",  "context_bytes",
      "handles_bytes", "clock_khz", "memory_clock_khz", "memory_bus_bits", "l2_bytes", "sm_mhz",     "max_sm_mhz",  "mem_mhz",
      "max_mem_mhz", "temperature_c", "driver",   "cuda",               "cudnn",     "cublaslt"};
  return cols;
}

std::string devices_csv(const nlohmann::json& doc) {
  const nlohmann::json sw = doc.value("software", nlohmann::json::object());
  std::string o = csv_row(devices_csv_columns());
  for (const auto& d : devices_of(doc)) {
    const nlohmann::json clocks = d.value("clocks", nlohmann::json::object());
    std::vector<std::string> f;
    for (const char* k : {"ordinal", "name", "pci_bus_id", "compute_capability", "sms", "total_bytes", "free_bytes", "context_bytes",
                          "handles_bytes", "clock_khz", "memory_clock_khz", "memory_bus_bits", "l2_bytes"})
      f.push_back(text(d, k));
    for (const char* k : {"sm_mhz", "max_sm_mhz", "mem_mhz", "max_mem_mhz"}) f.push_back(text(clocks, k));
    f.push_back(text(d, "temperature_c"));
    for (const char* k : {"driver", "cuda", "cudnn", "cublaslt"}) f.push_back(text(sw, k));
    o += csv_row(f);
  }
  return o;
}

}  // namespace vramfit
