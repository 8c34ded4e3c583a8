// profile/matrix.h — the matrix `vramfit profile` runs on one GPU, one model × precision at a time.
//
// For each model × precision:
//   1. max batch: predicted by the planner (predict/memory.h max_batch_under, exact for our engine and
//      affine in batch) under the budget, capped at --max-batch; then confirmed on the GPU by running
//      the predicted maximum (must fit) and one more (must be oom). When they disagree, an exponential
//      + binary search with workers finds the real maximum and the result says so
//      ("prediction_confirmed": false, both numbers kept).
//   2. latency and VRAM at batch 1, 8, 32, 64, 128, 256 (those that fit) and at the max batch.
//   3. fidelity for every precision below fp32: the same weights and input at fp32 and at the
//      precision, relative L2 error, cosine and top-1 agreement of the outputs.
// Every step is one worker configuration (a JSON object) handed to a WorkerFn: in `vramfit profile`
// that spawns a process and journals the answer; in tests it is a fake. Nothing here knows CUDA.
// Decoder LLMs have their own steps (max context at batch 1, tokens/s at context 512): llm_matrix.h.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "measure/confirm.h"
#include "models/decoder_plan.h"
#include "models/registry.h"
#include "predict/memory.h"
#include "profile/journal.h"
#include "profile/worker.h"

namespace vramfit::profile {

// Runs one worker configuration and returns its result object ("status": ok | oom | unsupported | error).
using WorkerFn = std::function<nlohmann::json(const nlohmann::json& config)>;
using ProgressFn = std::function<void(const std::string& what)>;

struct MatrixOptions {
  std::optional<std::uint64_t> vram_limit;  // emulated card (bytes); none: the free memory
  std::uint64_t reserve = 0;
  std::uint64_t workspace = kDefaultWorkspaceBytes;
  std::int64_t max_batch_ceiling = 4096;
  bool quick = false;
  int device = 0;
  std::uint64_t handles_bytes = 0;       // one cuDNN + cuBLASLt handle pair on this card (device worker)
  std::int64_t max_streams_ceiling = 64;  // pose models: most concurrent streams searched
  std::uint64_t seed = 1;
  // Decoder LLM rows (profile/llm_matrix.h): the context where speed is measured (batch 1), and the
  // plan's options — `vramfit llm`'s defaults (prefill chunk 512, cuBLASLt workspace 32 MiB), not
  // --workspace, which is the vision sessions' budget.
  std::int64_t llm_context = 512;
  LlmPlanOptions llm_plan;
  // Decode steps timed at the speed context, and at the max context (where each step reads the whole
  // KV cache). A 7B model decodes 100–300 tokens/s on a current card: a few hundred steps is ~1 s.
  std::int64_t llm_decode_steps() const { return quick ? 32 : 128; }
  std::int64_t llm_fit_decode_steps() const { return quick ? 16 : 32; }
  int warmup() const { return quick ? 3 : 10; }
  int iterations() const { return quick ? 10 : 50; }
  // Seconds of timing per measurement: fewer iterations where one replay is long (runtime/session.h
  // Session::time: ≥ 10 iterations, or ≥ 3 where ten replays would take over twice the budget). Below
  // batch 256 the 50 iterations take less than this; at a max batch of thousands a replay can take
  // half a second.
  double time_budget_s() const { return quick ? 0.25 : 0.5; }
};

// --- max batch: measure/confirm.h (confirm_max, Probe, MaxSearch) ------------------------------------
using measure::confirm_max;
using measure::MaxSearch;
using measure::Probe;
using measure::ProbeFn;

// Batches to time: 1, 8, 32, 64, 128, 256 (--quick: 1, 32) that are ≤ max_batch, then max_batch.
std::vector<std::int64_t> latency_batches(std::int64_t max_batch, bool quick);

// --- one model × precision ------------------------------------------------------------------------

struct ModelPrecisionResult {
  std::string model;
  Precision precision = Precision::fp32;
  Outcome outcome = Outcome::ok;  // ok | oom (not even batch 1) | unsupported | error
  std::string reason;
  std::uint64_t budget_bytes = 0;
  std::uint64_t predicted_bytes_at_max = 0;  // planner: weights + arena + workspace at the predicted max
  MaxSearch max_batch;  // over batches: `found` is the max batch
  std::vector<nlohmann::json> measurements;  // worker results (RunRow JSON + "kind") at each batch
  std::optional<nlohmann::json> fidelity;    // precisions below fp32
  // Pose models (camera streams): at batch 1, 8 and 32 (those ≤ the max batch) the most concurrent
  // streams that fit — predicted (predict/memory.h max_streams_under), confirmed like the max batch
  // (N runs, N + 1 is out of memory): {"batch", "predicted", "max_streams", "prediction_confirmed",
  // "capped", "probes": [{"streams", "status", "reason"}]}.
  std::vector<nlohmann::json> streams;
};

// The worker configuration for one step: kind "probe" (set up and run once), "measure" (time it),
// "fidelity" (against fp32) or "device" (what the GPU is; no model).
nlohmann::json worker_config(const std::string& kind, const std::string& model, Precision p, std::int64_t batch,
                             const MatrixOptions& o, int streams = 1);

// Which worker process may answer a configuration (process_worker_fn): "shared" — the running child
// of the same model × precision — or "fresh". On an emulated card (--vram-limit) every configuration
// is shared: the budget there is the limit less the overhead the child measured before its first
// session, the same in every child. On the card itself the budget is the free memory now, which a
// child's earlier sessions lower (modules loaded, caches): there a configuration that decides a
// maximum (`decides_max`) gets a fresh child, so that the maximum is what a fresh process gets.
const char* process_mode(const MatrixOptions& o, bool decides_max);

ModelPrecisionResult profile_model_precision(const ModelInfo& m, Precision p, const MatrixOptions& o, std::uint64_t budget,
                                             const WorkerFn& run, const ProgressFn& progress = {});

// --- composing the WorkerFn -----------------------------------------------------------------------

// Hands each configuration to a worker process of `cmd` (profile/worker.h), adding "worker_index": 1,
// 2, … counted by *started, under a timeout per configuration. A configuration with "process":
// "shared" (the latency ladder and fidelity) is answered by the running child when that child last
// measured the same model × precision; every other one (the device, every probe that confirms a
// maximum) by a fresh child, so that what decides a maximum is what a fresh process on this card
// gets. *processes (when given) counts the children started. The last child ends with the WorkerFn.
WorkerFn process_worker_fn(WorkerCommand cmd, std::chrono::milliseconds timeout, int* started, int* processes = nullptr);
// Answers from the journal when the configuration finished before; otherwise runs `inner` and
// appends its answer (fsync'ed) before returning it.
WorkerFn journaled_worker_fn(Journal& journal, WorkerFn inner);

}  // namespace vramfit::profile
