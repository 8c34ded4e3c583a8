// cli/session_row.h — one measured configuration as the report row (report/run_report.h), filled from
// a live runtime Session: shared by `run` and `profile --worker` so both report the same numbers; and
// the process's own VRAM as the driver counts it (NVML), shared by every profile worker.
#pragma once
#ifdef VRAMFIT_HAVE_CUDA

#include "report/run_report.h"
#include "runtime/session.h"

namespace vramfit::cli {

// Timing fields only when `t` is given (a probe measures memory, not latency).
RunRow session_row(const SessionConfig& cfg, Session& s, const TimingStats* t);

// This process's VRAM by the driver's own count: NVML's per-process figure where it lists us, else
// `device_used` (the device-wide count, which includes any other process on the card), and which of
// the two it is. Profile workers (vision and LLM) record both as process_vram_bytes / _source.
struct ProcessVram {
  std::uint64_t bytes = 0;
  std::string source;
};
ProcessVram process_vram(int device, std::uint64_t device_used);

}  // namespace vramfit::cli
#endif
