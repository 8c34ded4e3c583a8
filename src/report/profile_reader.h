// report/profile_reader.h — reads a `vramfit profile` result (DIR/profile.json, schema/profile.schema.json)
// back into plain structs for `vramfit report`.
//
// In: a file path. Out: ProfileFile — the header (system id, date, device, emulated limit, budget,
// context), one ProfiledCell per vision model × precision with what the report needs: the confirmed
// max batch and the planner's prediction, the measured VRAM and latency at each batch, fidelity, the
// mark; and one ProfiledLlmCell per decoder LLM × precision (rows of kind "llm", schema version 2):
// the confirmed max context at batch 1, prefill and decode tokens/s, the mark.
// The report stage sits before the profile stage in the build (report → profile), so this parses the
// JSON the profile writer produces rather than its structs; tests feed it files made by that writer.
//
// Status strings and marks are read once, here, into Outcome and Mark (core/outcome.h, result/mark.h).
//
// Errors (InvalidInput, naming the file and the problem): unreadable or truncated JSON (with the byte
// offset), another command's JSON (`vramfit run` / `plan`), a schema_version this build does not read,
// a missing or mistyped field (with its JSON path, e.g. results[2].max_batch.predicted).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/outcome.h"
#include "result/mark.h"

namespace vramfit {

// The profile schema versions this build reads (profile/profile.h kProfileSchemaVersion writes the
// newest): 1 (vision rows only) and 2 (rows carry a kind; decoder-LLM rows).
constexpr int kOldestReadableProfileSchemaVersion = 1;
constexpr int kReadableProfileSchemaVersion = 2;

struct MeasuredPoint {
  std::int64_t batch = 0;
  Outcome status = Outcome::ok;
  std::string reason;
  double median_ms = 0;                 // ok only
  double items_per_s = 0;               // ok only
  std::uint64_t process_total_bytes = 0;  // ok only: weights + arena + workspace + context and handles
  bool timing_trusted = true;
};

struct ProfiledCell {
  std::string model;
  std::string precision_id;  // as written ("fp16")
  std::optional<Precision> precision;  // nullopt: an id this build does not know
  Outcome status = Outcome::ok;  // oom: not even batch 1
  std::string reason;
  std::uint64_t budget_bytes = 0;
  // max batch: the planner's prediction under the budget and what the GPU confirmed or found
  std::int64_t predicted = 0;
  std::uint64_t predicted_bytes_at_max = 0;
  std::int64_t max_batch = 0;
  std::int64_t ceiling = 0;
  bool capped = false;
  bool prediction_confirmed = false;
  std::vector<MeasuredPoint> points;  // sorted by batch
  // fidelity against fp32 (precisions below fp32)
  std::optional<double> relative_l2, top1_agreement;
  std::optional<Outcome> fidelity_status;  // nullopt: none recorded (fp32)
  std::optional<Mark> mark;                // as the profile judged it (nullopt: a symbol this build does not know)
  std::string mark_note;

  const MeasuredPoint* at(std::int64_t batch) const;  // an ok or failed point at this batch
};

// A decoder LLM × precision at batch 1 (profile/llm_matrix.h).
struct ProfiledLlmCell {
  std::string model;
  std::string precision_id;
  std::optional<Precision> precision;
  Outcome status = Outcome::ok;  // oom: not even context 1
  std::string reason;
  std::uint64_t budget_bytes = 0;
  std::int64_t context = 0;            // where speed was measured
  std::int64_t model_max_context = 0;  // max_position_embeddings
  std::uint64_t weights_bytes = 0, kv_bytes_per_token = 0, predicted_bytes = 0;
  std::int64_t max_context = 0;        // largest context at batch 1 that ran
  std::int64_t predicted_max_context = 0;
  bool capped = false;                 // the model's limit
  bool prediction_confirmed = false;
  std::optional<std::int64_t> prefill_tokens;
  std::optional<double> prefill_tokens_per_s, decode_tokens_per_s, decode_tokens_per_s_max_context;
  std::optional<std::uint64_t> vram_at_context_bytes;  // process total at (context, batch 1)
  std::optional<Mark> mark;
  std::string mark_note;
};

struct ProfileFile {
  std::string path;
  int schema_version = 0;
  std::string vramfit_version;
  std::string system_id;
  std::string date;  // UTC ISO 8601; compared as text (same format everywhere)
  std::string device_name;     // "NVIDIA H200"
  std::string device_summary;  // "NVIDIA H200 (sm_90, 132 SMs, …)"
  std::string compute_capability;  // "9.0"
  std::uint64_t device_total_bytes = 0;
  std::optional<std::string> vram_limit;  // emulated card, as given
  std::optional<std::uint64_t> vram_limit_bytes;
  std::uint64_t reserve_bytes = 0;
  std::uint64_t budget_bytes = 0;
  std::uint64_t context_bytes = 0;
  std::int64_t max_batch_ceiling = 0;
  bool quick = false;
  std::vector<std::string> warnings;
  std::vector<ProfiledCell> cells;         // vision rows
  std::vector<ProfiledLlmCell> llm_cells;  // decoder-LLM rows

  bool emulated() const { return vram_limit_bytes.has_value(); }
};

ProfileFile read_profile(const std::filesystem::path& file);
// The same from text already read (`path` only names it in errors).
ProfileFile parse_profile(const std::string& text, const std::string& path);

}  // namespace vramfit
