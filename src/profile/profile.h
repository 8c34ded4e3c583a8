// profile/profile.h — `vramfit profile`: the whole matrix on this GPU, isolated workers, nothing lost.
//
// The stage, in reading order:
//   worker.h   one measurement in a child process (the same binary, `profile --worker`): spawn,
//              timeout, SIGKILL, crash/hang/garbage → an `error` result; the child's side and the
//              fault injection (VRAMFIT_FAULT) that tests it without a GPU.
//   journal.h  DIR/journal.jsonl, one fsync'ed line per finished worker; --resume; atomic final files.
//   matrix.h   one model × precision: max batch predicted by the planner, confirmed on the GPU (or
//              searched), latency and VRAM at a ladder of batches, fidelity against fp32.
//   llm_matrix.h  one decoder LLM × precision at batch 1: max context predicted, confirmed (or
//              searched), prefill and decode tokens/s at context 512.
//   this file  the whole result (ProfileDoc), its JSON (profile.json, schema/profile.schema.json) and
//              the mark each row carries. Its views for people — constraints.md and report.html — are
//              printed by the report stage (report/profile_printers.h), which comes after this one.
//
// In: the results of the matrix plus what the device worker said about the GPU. Out: records and their
// JSON. The CLI (src/cli/profile_cmd.cpp) owns the processes, the terminal and the files.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/outcome.h"
#include "profile/llm_matrix.h"
#include "profile/matrix.h"
#include "result/mark.h"

namespace vramfit::profile {

// 2: results hold decoder-LLM rows ("kind": "llm") beside the vision rows ("kind": "vision"); version 1
// files (vision rows only, no "kind") are still read by report/profile_reader.h.
constexpr int kProfileSchemaVersion = 2;

struct ProfileDoc {
  std::string system_id;
  std::string date;             // UTC, ISO 8601
  std::string vramfit_version;
  nlohmann::json device = nlohmann::json::object();    // the device worker's answer (name, summary, …)
  nlohmann::json software = nlohmann::json::object();  // cudnn, cudnn_path, cublaslt, cuda
  std::string vram_limit;                              // as given; empty: the card's free memory
  std::optional<std::uint64_t> vram_limit_bytes;
  std::uint64_t reserve_bytes = 0;
  std::uint64_t budget_bytes = 0;   // for weights + arena + workspace
  std::uint64_t context_bytes = 0;  // CUDA context + library handles, measured by the device worker
  std::int64_t max_batch_ceiling = 4096;
  bool quick = false;
  double timeout_s = 300;
  std::vector<std::string> warnings;
  std::vector<ModelPrecisionResult> results;      // vision and pose models
  std::vector<LlmPrecisionResult> llm_results;    // decoder LLMs (written after them in "results")
};

nlohmann::json to_json(const ModelPrecisionResult& r);
nlohmann::json to_json(const LlmPrecisionResult& r);
nlohmann::json to_json(const ProfileDoc& d);

// The verdict (result/mark.h: fits, constrained or fails) and the reason for anything but fits (the
// rule is written under the constraints table).
struct StatusMark {
  Mark verdict = Mark::fits;
  std::string mark;  // to_string(verdict): the symbol profile.json and the printers show
  std::string note;
};
StatusMark status_mark(const ModelPrecisionResult& r);
// LLM rows: ✅ the max context was confirmed and the speed measured; ⚠️ with the reason (prediction
// not confirmed, context 512 does not fit or failed, decode not timed); ❌ nothing fits, unsupported,
// or the worker failed.
StatusMark status_mark(const LlmPrecisionResult& r);


// LLM rows: a number of a worker's answer when the answer is ok and holds it; the process total of its VRAM.
std::optional<double> llm_number(const std::optional<nlohmann::json>& answer, const char* key);
std::optional<std::uint64_t> llm_process_total(const std::optional<nlohmann::json>& answer);

// Lowercase letters, digits, '-' and '_' only; runs of anything else become one '-'.
std::string sanitize_system_id(const std::string& raw);

}  // namespace vramfit::profile
