// result/run_row.h — one measured vision configuration (`vramfit run`, the profile's workers): latency
// over CUDA events and where every byte of VRAM went. measure/ fills it from a live session; report/
// prints it; its JSON (to_json) is the worker answer's and `run -o json`'s row.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/outcome.h"

namespace vramfit {

struct RunRow {
  std::string model;
  Precision precision = Precision::fp16;
  std::int64_t batch = 1;
  bool tf32 = false;  // fp32 run with --tf32 (TF32 tensor cores allowed)
  Outcome status = Outcome::ok;  // ok | oom | unsupported | error
  std::string reason;
  // latency over CUDA events, one sample per replay of the captured forward pass
  int iterations = 0, warmup = 0;
  double min_ms = 0, median_ms = 0, p90_ms = 0, p99_ms = 0, max_ms = 0, mean_ms = 0;
  bool timing_trusted = true;
  std::string timing_note;
  std::vector<double> samples_ms;
  double items_per_s = 0;  // batch / median; with streams: streams · batch / wall median
  int streams = 1;          // concurrent copies (run --streams); latency figures are per stream
  double wall_median_ms = 0;  // streams > 1: median of (common start → last stream done)
  // VRAM
  std::uint64_t weights_bytes = 0, activation_bytes = 0, workspace_budget_bytes = 0, workspace_used_bytes = 0;
  std::uint64_t arena_bytes = 0;          // the session's one allocation
  std::uint64_t planned_arena_bytes = 0;  // what `plan` predicts for the same configuration
  std::uint64_t context_bytes = 0;        // CUDA context + library handles, measured here
  std::uint64_t process_total_bytes = 0;  // arena + context and handles
  std::uint64_t device_used_bytes = 0;    // the device's own count (total − free) after set-up
  std::uint64_t budget_bytes = 0;
  std::vector<std::string> algorithms;
  // --per-node: summed median time per op kind, each node timed on its own (largest first)
  std::vector<std::pair<std::string, double>> time_by_op;
};

nlohmann::json to_json(const RunRow& r);

}  // namespace vramfit
