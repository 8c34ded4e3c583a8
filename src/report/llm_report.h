// report/llm_report.h — `vramfit llm`: per precision, weights, KV bytes per token, activation arena,
// max context at batch 1, max batch at each context, and (on a GPU) measured prefill and decode
// tokens/s with the max context / batch confirmed by running. One struct, three views: Markdown, JSON
// (schema_version, command "llm"), CSV (one line per precision × context × batch point). Printers
// only format; every number comes from the structs (predict/llm_fit.h, and the CLI's GPU run).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "predict/llm_fit.h"

namespace vramfit {

// A probe on the GPU: set up a session at (context, batch) and run a prefill chunk and a decode step.
struct LlmProbe {
  std::int64_t context = 0, batch = 1;
  std::string status;  // ok | oom | unsupported | error
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

struct LlmReport {
  std::string model;
  std::string config_source;  // preset id, or the config.json path
  std::string weights_source = "random (seeded)";
  DecoderConfig config;
  std::uint64_t parameters = 0;
  std::optional<std::uint64_t> budget_bytes;
  std::string budget_note;  // how the budget was made
  std::string device;       // empty: no GPU (speed columns absent)
  std::string speed_note;   // why speeds are absent, or how they were measured
  std::vector<LlmQuantRow> rows;
  std::vector<std::optional<LlmMeasured>> measured;  // parallel to rows
};

nlohmann::json to_json(const LlmQuantRow& r);
nlohmann::json to_json(const LlmMeasured& m);
nlohmann::json to_json(const LlmReport& r);
std::string llm_markdown(const LlmReport& r);
std::string llm_csv(const LlmReport& r);

}  // namespace vramfit
