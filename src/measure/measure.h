// measure/measure.h — measurements on this machine's GPUs, behind a header with no CUDA in it.
//
// `vramfit run`, `devices` and the profile's workers (profile/worker.h) call these; `vramfit llm`
// calls measure/llm.h. They set up runtime sessions (runtime/session.h), time them, and return
// records (result/run_row.h's RunRow, JSON answers) — the CLI never touches CUDA. In a build
// without CUDA (VRAMFIT_CUDA=OFF) the same functions exist and say so (measure_none.cpp): why_no_gpu()
// is not empty and everything else throws Unsupported.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/tensor.h"
#include "result/run_row.h"
#include "runtime/session.h"

namespace vramfit::measure {

// Empty when a CUDA GPU can be used here; else why not ("this vramfit was built without the CUDA
// backend …", "no CUDA GPU is visible to this process").
std::string why_no_gpu();
int gpu_count();  // 0 without one

// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.18 GiB, driver 13.0, runtime 13.0)"
std::string device_summary(int device);
// "cuDNN 9.14.0 (built with …) from /usr/lib/…; cuBLASLt …; CUDA runtime …"
std::string software_summary();

// --- `vramfit run`: one configuration, timed ---------------------------------------------------------

struct RunOptions {
  int warmup = 10, iterations = 50;
  bool per_node = false;                 // also time every node (RunRow::time_by_op)
  const Tensor* input = nullptr;         // instead of random data (its file named in errors: input_name)
  std::string input_name;
  bool keep_output = false;              // run once more and return the output
};
struct RunResult {
  RunRow row;                    // status ok | oom | unsupported | error, with the reason
  std::optional<Tensor> output;  // keep_output and ok
  bool fatal = false;            // a sticky CUDA error: this process must not run another session
};
// Errors become the row's status (OutOfMemory → oom, Unsupported → unsupported, CudaFatal → error and
// fatal); InvalidInput (a bad --input) propagates.
RunResult run_configuration(const SessionConfig& cfg, const RunOptions& o);

// --- `vramfit devices` --------------------------------------------------------------------------------

// {"schema_version": 1, "software": {...}, "devices": [{ordinal, name, pci_bus_id, compute_capability,
// sms, total_bytes, free_bytes, clocks…, context_bytes, handles_bytes, summary}]}.
nlohmann::json devices_json();

// --- the profile's worker side (profile/worker.h) ------------------------------------------------------

// One worker process's measuring: answers the configurations of profile/matrix.h and
// profile/llm_matrix.h ("kind": device | probe | measure | fidelity | llm), keeping what sessions
// share across configurations (runtime/session.h SessionCache). Typed errors propagate; the worker
// protocol turns them into results.
class Worker {
 public:
  Worker();
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  nlohmann::json answer(const nlohmann::json& config);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vramfit::measure
