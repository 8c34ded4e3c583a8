// result/llm_measured.h — what `vramfit llm` measured on the GPU for one precision (measure/llm.h fills
// it; report/llm_report.h prints it beside the plan).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/outcome.h"

namespace vramfit {

// A probe on the GPU: set up a session at (context, batch) and run a prefill chunk and a decode step.
struct LlmProbe {
  std::int64_t context = 0, batch = 1;
  Outcome status = Outcome::ok;  // ok | oom | unsupported | error
  std::string reason;
};

// What a GPU run measured for one precision.
struct LlmMeasured {
  std::optional<double> prefill_tokens_per_s;       // prefill of `prefill_tokens` at batch 1
  std::int64_t prefill_tokens = 0;
  std::optional<double> decode_tokens_per_s_batch1;  // one sequence, KV filled to `decode_context`
  std::optional<double> decode_tokens_per_s_max_batch;  // batch·steps / time at decode_max_batch
  std::int64_t decode_max_batch = 0;
  std::int64_t decode_context = 0;
  std::uint64_t arena_bytes = 0;                 // the session's one allocation (= the plan's total)
  // This process's VRAM by the driver (NVML's per-process count) with that session alive, and the
  // prediction: the plan's total + the CUDA context and library handles measured in this process.
  std::optional<std::uint64_t> process_vram_bytes;
  std::uint64_t predicted_process_bytes = 0;
  std::optional<std::int64_t> confirmed_max_context;  // ran; the next step up failed with out-of-memory
  std::vector<std::pair<std::int64_t, std::int64_t>> confirmed_max_batch;  // (context, batch) confirmed
  std::vector<LlmProbe> probes;                  // every confirmation run, in order
  std::string note;                              // e.g. what was skipped and why
};

}  // namespace vramfit
