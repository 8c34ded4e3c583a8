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
#include "result/llm_measured.h"

namespace vramfit {

// The time model's speeds for a card not at hand (`vramfit llm --gpu NAME`): always estimates (≈).
struct LlmEstimated {
  std::int64_t context = 0;  // the first context asked for
  double prefill_tokens_per_s = 0;  // 0: the calibration measured no prefill of this precision
  double decode_tokens_per_s_batch1 = 0;
  std::optional<double> decode_tokens_per_s_max_batch;
  std::int64_t max_batch = 0;
  std::string source;
};

struct LlmReport {
  std::string model;
  std::string config_source;  // preset id, or the config.json path
  std::string weights_source = "random (seeded)";
  DecoderConfig config;
  std::uint64_t parameters = 0;
  std::int64_t ranks = 1;                // --devices: tensor-parallel GPUs; rows are one rank's
  std::uint64_t rank_parameters = 0;     // parameters one rank holds (= parameters when ranks is 1)
  std::optional<std::uint64_t> budget_bytes;
  std::string budget_note;  // how the budget was made
  std::string device;       // empty: no GPU (speed columns absent)
  std::string speed_note;   // why speeds are absent, or how they were measured
  std::vector<LlmQuantRow> rows;
  std::vector<std::optional<LlmMeasured>> measured;  // parallel to rows
  std::string estimate_card;    // non-empty: `--gpu` — the estimated columns are for this card
  std::string estimate_source;  // the calibration's provenance, or why there are no estimates
  std::vector<std::optional<LlmEstimated>> estimated;  // parallel to rows
};

nlohmann::json to_json(const LlmQuantRow& r);
nlohmann::json to_json(const LlmMeasured& m);
nlohmann::json to_json(const LlmReport& r);
std::string llm_markdown(const LlmReport& r);
std::string llm_csv(const LlmReport& r);

}  // namespace vramfit
