// measure/internal_cuda.h — what measure/'s CUDA sources share (included by *_cuda.cpp only).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "result/run_row.h"
#include "runtime/session.h"

namespace vramfit::measure {

// One measured configuration as the report row (result/run_row.h), filled from a live Session:
// `run` and the profile's workers report the same numbers. Timing fields only when `t` is given (a
// probe measures memory, not latency).
RunRow session_row(const SessionConfig& cfg, Session& s, const TimingStats* t);

// This process's VRAM by the driver's own count: NVML's per-process figure where it lists us, else
// `device_used` (the device-wide count, which includes any other process on the card), and which of
// the two it is.
struct ProcessVram {
  std::uint64_t bytes = 0;
  std::string source;
};
ProcessVram process_vram(int device, std::uint64_t device_used);

// The profile worker's {"kind": "llm"} configurations (profile/llm_matrix.h; documented in
// measure/llm_cuda.cpp).
nlohmann::json llm_worker_answer(const nlohmann::json& config, SessionCache& cache);

}  // namespace vramfit::measure
