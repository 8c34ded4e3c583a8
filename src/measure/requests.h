// measure/requests.h — the worker protocol's requests, typed, with their JSON in one place.
//
// `vramfit profile` (profile/matrix.h, profile/llm_matrix.h) builds a request per configuration and
// sends its JSON to a worker (profile/worker.h), which reads it back here before measuring
// (measure::Worker). The JSON is also the journal's key (profile/journal.h): its fields are exactly
// those that change the answer, and a field is written only where it applies (no "streams" for one
// stream, timing fields only for "measure"), so that journals of earlier profiles stay valid.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "models/decoder_plan.h"

namespace vramfit::measure {

// A vision configuration, or the device question: kind device (what the GPU is; no model), probe (set
// up and run once), measure (time it) or fidelity (against fp32 at the same weights and input).
struct VisionRequest {
  std::string kind = "probe";
  int device = 0;
  std::uint64_t reserve = 0;
  std::optional<std::uint64_t> vram_limit;
  std::string model;
  Precision precision = Precision::fp32;
  std::int64_t batch = 1;
  std::uint64_t workspace = std::uint64_t{128} << 20;
  std::uint64_t seed = 1;
  int streams = 1;
  int warmup = 10, iterations = 50;  // measure only
  double time_budget_s = 0;          // measure only; 0: no budget
};

// A decoder LLM configuration: measure "speed" (prefill then decode at `context`) or "fit" (set up at
// `context`; decode_steps > 0 also times decode with the cache filled to its end).
struct LlmRequest {
  std::string measure = "fit";
  int device = 0;
  std::uint64_t reserve = 0;
  std::optional<std::uint64_t> vram_limit;
  std::string model;
  Precision precision = Precision::fp16;
  std::int64_t context = 1, batch = 1;
  std::uint64_t seed = 1;
  std::int64_t prefill_chunk = kDefaultPrefillChunk;
  std::uint64_t workspace = kDefaultLlmWorkspaceBytes;
  std::int64_t decode_steps = 0;
  std::int64_t prefill_tokens = 0;  // speed only
};

nlohmann::json to_json(const VisionRequest& r);
nlohmann::json to_json(const LlmRequest& r);
// Read back from a worker's stdin: InvalidInput naming the field when one is missing or malformed.
VisionRequest vision_request(const nlohmann::json& j);
LlmRequest llm_request(const nlohmann::json& j);

}  // namespace vramfit::measure
