// predict/memory.h — memory of a model at a precision and batch, from the planner (exact for our
// engine: the CUDA backend allocates exactly this plan), and what fits under a budget.
//
// In:  a zoo entry, a precision, a batch (or a budget). Out: weights bytes, the activation arena and
// its lower bound, the per-sample slope (memory is affine in batch: arena(b) = b·k), the largest
// batch under a budget. The library workspace is the session's fixed budget (--workspace, default
// 128 MiB; DESIGN rule 4), so weights + arena + workspace is exactly the one allocation a CUDA
// session makes. The CUDA context and library handles are not known from shapes: `plan` states
// them as not counted, never guesses them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/checked.h"
#include "core/dtype.h"
#include "core/outcome.h"
#include "models/registry.h"

namespace vramfit {

struct MemoryEstimate {
  std::string model;
  Precision precision = Precision::fp32;
  std::int64_t batch = 1;
  Outcome status = Outcome::ok;  // ok | unsupported
  std::string reason;         // why, when not ok
  std::uint64_t weights_bytes = 0;
  std::uint64_t arena_bytes = 0;
  std::uint64_t arena_bytes_per_sample = 0;
  std::uint64_t lower_bound_bytes = 0;
  std::uint64_t workspace_bytes = 0;  // the fixed workspace budget the session reserves
  std::uint64_t total_bytes() const {
    return checked_add(checked_add(weights_bytes, arena_bytes, "memory total"), workspace_bytes, "memory total");
  }
};

constexpr std::uint64_t kDefaultWorkspaceBytes = 128ull << 20;

MemoryEstimate estimate_memory(const ModelInfo& m, Precision p, std::int64_t batch,
                               std::uint64_t workspace = kDefaultWorkspaceBytes);

struct BudgetFit {
  std::uint64_t budget_bytes = 0;
  std::int64_t max_batch = 0;  // 0: not even batch 1 fits
  MemoryEstimate at_max;       // the plan at max_batch (or at 1 when nothing fits)
  std::string reason;          // when max_batch == 0: what does not fit
  std::string limited_by = "memory";  // memory | engine (a tensor-size limit below the memory bound) | ceiling
  std::string limit_note;             // the engine limit's reason, when it binds
};

// The largest batch the CUDA engine can describe, whatever the memory: cuDNN's legacy convolution API
// takes int extents, so a convolution's input and output must each hold < 2^31 elements (the rule is
// graph/capability.h's, which backend/cuda/cudnn_conv.cpp's gate also applies: such a run is `unsupported`).
// Returns INT64_MAX when no node limits the batch.
std::int64_t engine_batch_limit(const Graph& g);

// Concurrent streams of one model at a batch (run --streams; pose models in profile): the weights
// once, then per stream its activation arena and workspace (each 256-aligned, as the arena lays them
// out), and per stream beyond the first one more pair of library handles (`handles_bytes`, measured
// on the card). The largest N with weights + N·per_stream + (N − 1)·handles ≤ budget, capped at
// `ceiling`. 0 when not even one stream fits.
struct StreamsFit {
  std::int64_t max_streams = 0;
  std::uint64_t weights_bytes = 0, per_stream_bytes = 0, handles_bytes = 0;
  std::string reason;  // when max_streams == 0, or the engine cannot run it
  bool capped = false;
};
StreamsFit max_streams_under(const ModelInfo& m, Precision p, std::int64_t batch, std::uint64_t budget, std::uint64_t handles_bytes,
                             std::int64_t ceiling = 64, std::uint64_t workspace = kDefaultWorkspaceBytes);

// Largest batch b ≤ ceiling with weights + arena(b) + workspace ≤ budget.
BudgetFit max_batch_under(const ModelInfo& m, Precision p, std::uint64_t budget, std::int64_t ceiling = 1 << 20,
                          std::uint64_t workspace = kDefaultWorkspaceBytes);

struct ModelSummary {
  std::string id;
  std::vector<std::string> aliases;
  std::string description;
  Shape input_per_sample;
  std::uint64_t parameters = 0;
  std::uint64_t macs = 0;   // at batch 1, default input
  std::uint64_t flops = 0;  // 2·macs
  // Bytes of the deployed (BN-folded) weights per precision; only precisions whose storage is
  // defined for the model's layers.
  std::vector<std::pair<Precision, std::uint64_t>> weight_bytes;
};

ModelSummary summarize(const ModelInfo& m);

}  // namespace vramfit
