// backend/cuda/nvml.h — what NVML knows that the CUDA runtime does not: the driver's version string,
// current and maximum clocks, why the clocks are held down (throttling), and how much device memory
// one process holds.
//
// NVML (libnvidia-ml.so.1) ships with the driver, not the toolkit, so it is loaded at run time with
// dlopen: a machine without it still runs vramfit, and every query here then answers "not available"
// with the reason instead of failing. Only read-only queries are used; vramfit never changes a clock
// or a setting. The function signatures and struct layouts are those of the NVML API reference
// (docs.nvidia.com/deploy/nvml-api), declared here because the header is not part of every toolkit.
//
// Process memory: nvmlDeviceGetComputeRunningProcesses_v3 lists (pid, used bytes). Inside a container
// NVML may report host pids, so our own pid may be missing from the list; then process_used_bytes()
// answers nullopt and callers fall back to cudaMemGetInfo (device-wide) and say so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vramfit::cuda {

struct NvmlClocks {
  unsigned sm_mhz = 0, mem_mhz = 0;          // now
  unsigned max_sm_mhz = 0, max_mem_mhz = 0;  // the card's maximum
  std::uint64_t event_reasons = 0;  // nvmlDeviceGetCurrentClocksEventReasons bit mask (0: none)
  std::string reasons_text() const; // "idle", "power cap", "thermal (hw)", … joined; "none" when 0
};

class Nvml {
 public:
  // Loads and initialises NVML once per process (thread-safe); never throws.
  static Nvml& instance();

  bool available() const { return available_; }
  const std::string& why_unavailable() const { return why_; }  // "libnvidia-ml.so.1 not found", …
  const std::string& driver_version() const { return driver_; }  // "580.95.05"; empty if unknown

  // pci_bus_id as the CUDA runtime prints it ("0000:1B:00.0"). nullopt when NVML is unavailable or
  // the query failed.
  std::optional<NvmlClocks> clocks(const std::string& pci_bus_id) const;
  std::optional<unsigned> temperature_c(const std::string& pci_bus_id) const;
  // Device memory this process holds on the GPU (nullopt when NVML cannot tell, see above).
  std::optional<std::uint64_t> process_used_bytes(const std::string& pci_bus_id) const;

 private:
  Nvml();
  void* device(const std::string& pci_bus_id) const;
  struct Fns;
  Fns* fns_ = nullptr;
  bool available_ = false;
  std::string why_, driver_;
};

}  // namespace vramfit::cuda
