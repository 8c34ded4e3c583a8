// backend/cuda/nvml.cpp — NVML loaded with dlopen (see nvml.h).
#include "backend/cuda/nvml.h"

#include <dlfcn.h>
#include <unistd.h>

#include <mutex>
#include <vector>

namespace vramfit::cuda {

namespace {

// NVML API reference types (declared here; see the header comment).
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
constexpr nvmlReturn_t kSuccess = 0;
constexpr nvmlReturn_t kInsufficientSize = 7;  // NVML_ERROR_INSUFFICIENT_SIZE
constexpr int kClockSm = 1, kClockMem = 2;  // nvmlClockType_t (0 is graphics)
constexpr int kTemperatureGpu = 0;  // NVML_TEMPERATURE_GPU

struct ProcessInfo {  // nvmlProcessInfo_v2_t / _v3_t (same layout)
  unsigned pid;
  unsigned long long used_gpu_memory;
  unsigned gpu_instance_id;
  unsigned compute_instance_id;
};

}  // namespace

struct Nvml::Fns {
  void* lib = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*driver_version)(char*, unsigned) = nullptr;
  nvmlReturn_t (*by_pci)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*max_clock)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*reasons)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned*) = nullptr;
  nvmlReturn_t (*processes)(nvmlDevice_t, unsigned*, ProcessInfo*) = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
};

std::string NvmlClocks::reasons_text() const {
  if (event_reasons == 0) return "none";
  // nvmlClocksEventReasons bits (NVML API reference, "Clocks Event Reasons").
  static const std::pair<std::uint64_t, const char*> kBits[] = {
      {0x1, "idle"},           {0x2, "application clocks"}, {0x4, "power cap"},       {0x8, "hw slowdown"},
      {0x10, "sync boost"},    {0x20, "thermal (sw)"},      {0x40, "thermal (hw)"},   {0x80, "power brake (hw)"},
      {0x100, "display clock"}};
  std::string out;
  std::uint64_t known = 0;
  for (const auto& [bit, name] : kBits) {
    known |= bit;
    if (event_reasons & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  }
  if (event_reasons & ~known) out += (out.empty() ? "" : ", ") + std::string("other");
  return out;
}

Nvml& Nvml::instance() {
  static Nvml n;
  return n;
}

Nvml::Nvml() {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (lib == nullptr) {
    why_ = "libnvidia-ml.so.1 not found (NVML ships with the NVIDIA driver)";
    return;
  }
  auto* f = new Fns;
  f->lib = lib;
  auto sym = [&](const char* name) { return dlsym(lib, name); };
  f->init = reinterpret_cast<decltype(f->init)>(sym("nvmlInit_v2"));
  f->driver_version = reinterpret_cast<decltype(f->driver_version)>(sym("nvmlSystemGetDriverVersion"));
  f->by_pci = reinterpret_cast<decltype(f->by_pci)>(sym("nvmlDeviceGetHandleByPciBusId_v2"));
  f->clock = reinterpret_cast<decltype(f->clock)>(sym("nvmlDeviceGetClockInfo"));
  f->max_clock = reinterpret_cast<decltype(f->max_clock)>(sym("nvmlDeviceGetMaxClockInfo"));
  f->reasons = reinterpret_cast<decltype(f->reasons)>(sym("nvmlDeviceGetCurrentClocksEventReasons"));
  if (f->reasons == nullptr) f->reasons = reinterpret_cast<decltype(f->reasons)>(sym("nvmlDeviceGetCurrentClocksThrottleReasons"));
  f->temperature = reinterpret_cast<decltype(f->temperature)>(sym("nvmlDeviceGetTemperature"));
  f->processes = reinterpret_cast<decltype(f->processes)>(sym("nvmlDeviceGetComputeRunningProcesses_v3"));
  if (f->processes == nullptr) f->processes = reinterpret_cast<decltype(f->processes)>(sym("nvmlDeviceGetComputeRunningProcesses_v2"));
  f->error_string = reinterpret_cast<decltype(f->error_string)>(sym("nvmlErrorString"));
  if (f->init == nullptr || f->by_pci == nullptr) {
    why_ = "libnvidia-ml.so.1 lacks nvmlInit_v2 or nvmlDeviceGetHandleByPciBusId_v2 (driver too old)";
    dlclose(lib);
    delete f;
    return;
  }
  if (const nvmlReturn_t r = f->init(); r != kSuccess) {
    why_ = "nvmlInit failed: " + std::string(f->error_string ? f->error_string(r) : "error " + std::to_string(r));
    dlclose(lib);
    delete f;
    return;
  }
  fns_ = f;
  available_ = true;
  if (f->driver_version) {
    char buf[96] = {};
    if (f->driver_version(buf, sizeof buf) == kSuccess) driver_ = buf;
  }
  // NVML stays initialised for the life of the process (nvmlShutdown at exit is optional).
}

void* Nvml::device(const std::string& pci_bus_id) const {
  if (!available_ || pci_bus_id.empty()) return nullptr;
  nvmlDevice_t d = nullptr;
  if (fns_->by_pci(pci_bus_id.c_str(), &d) != kSuccess) return nullptr;
  return d;
}

std::optional<NvmlClocks> Nvml::clocks(const std::string& pci_bus_id) const {
  void* d = device(pci_bus_id);
  if (d == nullptr || fns_->clock == nullptr) return std::nullopt;
  NvmlClocks c;
  if (fns_->clock(d, kClockSm, &c.sm_mhz) != kSuccess) return std::nullopt;
  fns_->clock(d, kClockMem, &c.mem_mhz);
  if (fns_->max_clock) {
    fns_->max_clock(d, kClockSm, &c.max_sm_mhz);
    fns_->max_clock(d, kClockMem, &c.max_mem_mhz);
  }
  unsigned long long reasons = 0;
  if (fns_->reasons && fns_->reasons(d, &reasons) == kSuccess) c.event_reasons = reasons;
  return c;
}

std::optional<unsigned> Nvml::temperature_c(const std::string& pci_bus_id) const {
  void* d = device(pci_bus_id);
  unsigned t = 0;
  if (d == nullptr || fns_->temperature == nullptr || fns_->temperature(d, kTemperatureGpu, &t) != kSuccess) return std::nullopt;
  return t;
}

std::optional<std::uint64_t> Nvml::process_used_bytes(const std::string& pci_bus_id) const {
  void* d = device(pci_bus_id);
  if (d == nullptr || fns_->processes == nullptr) return std::nullopt;
  std::vector<ProcessInfo> infos(64);
  for (int attempt = 0; attempt < 3; ++attempt) {
    unsigned count = static_cast<unsigned>(infos.size());
    const nvmlReturn_t r = fns_->processes(d, &count, infos.data());
    if (r == kInsufficientSize) {
      infos.resize(static_cast<std::size_t>(count) + 16);
      continue;
    }
    if (r != kSuccess) return std::nullopt;
    const unsigned me = static_cast<unsigned>(::getpid());
    for (unsigned i = 0; i < count; ++i)
      if (infos[i].pid == me) return infos[i].used_gpu_memory;
    return std::nullopt;  // not listed: another pid namespace, or no context yet
  }
  return std::nullopt;
}

}  // namespace vramfit::cuda
