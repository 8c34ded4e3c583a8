// runtime/session.h — (model, precision, batch, budget) → a planned, bound, runnable forward pass.
//
// In:  a zoo entry, a precision, a batch, the memory budget (the card's free memory, or an emulated
//      card of --vram-limit: limit − this process's measured context/handle overhead − reserve), the
//      workspace budget, weights (seeded random or a torchvision-style safetensors checkpoint).
// Out: a Session that runs the model on the GPU, times it with CUDA events, and reports where every
//      byte went. Construction throws OutOfMemory when the plan does not fit the budget (before
//      touching the device), Unsupported when the GPU or the engine cannot run the precision.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"
#include "core/tensor_map.h"
#include "models/registry.h"
#include "runtime/budget.h"

namespace vramfit::cuda {
class AlgorithmCache;  // backend/cuda/algorithm_cache.h
}  // namespace vramfit::cuda

namespace vramfit {

struct SessionConfig {
  const ModelInfo* model = nullptr;
  Precision precision = Precision::fp16;
  std::int64_t batch = 1;
  std::optional<std::uint64_t> vram_limit;  // emulate a card of this total VRAM
  std::uint64_t reserve = 0;                // bytes kept free under the budget
  std::uint64_t workspace = 128ull << 20;   // cuDNN/cuBLASLt workspace budget (--workspace)
  bool tf32 = false;           // TF32 for fp32 convolutions/matmuls (implies channels-last fp32)
  bool channels_last = false;  // NHWC for fp32 activations too (16-bit ones always are)
  bool autotune = true;
  // Concurrent copies of the forward pass (camera streams): each its own CUDA stream, activation
  // region and workspace in the one arena, all on the same weights (uploaded once).
  int streams = 1;
  std::uint64_t seed = 1;
  std::string weights_path;  // safetensors checkpoint (torchvision names); empty: random weights
  int device = 0;
};

// Device memory this process holds before any session: the CUDA context plus the cuDNN and cuBLASLt
// handles (measured with cudaMemGetInfo around their creation on this card). The budget rule that
// uses it is runtime/budget.h.
ContextOverhead measure_context_overhead(int device);

struct VramBreakdown {
  std::uint64_t weights = 0;
  std::uint64_t activations = 0;         // the planned arena
  std::uint64_t workspace_budget = 0;    // reserved
  std::uint64_t workspace_used = 0;      // largest chosen algorithm's need
  std::uint64_t arena_capacity = 0;      // = weights + activations + workspace budget (one cudaMalloc)
  std::uint64_t planned_arena = 0;       // what the planner predicted for the same (for the check)
  std::uint64_t context_and_handles = 0;
  std::uint64_t device_used = 0;         // total − free on the device after set-up (all processes)
  std::uint64_t budget = 0;
};

struct TimingStats {
  std::vector<double> samples_ms;
  int warmup = 0;
  double min = 0, median = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  bool trusted = true;
  std::string note;  // why not trusted
  // With several streams: samples_ms are every stream's own latency (all pooled); wall is each
  // iteration from the common start to the last stream's end.
  int streams = 1;
  double wall_median_ms = 0;
};
// Untrusted with fewer than `enough` samples, or when p90 > 1.5 × median.
TimingStats summarize_samples(std::vector<double> samples_ms, int warmup, int enough = 10);

// Where a session's set-up time went (seconds).
struct SetupTimes {
  double plan_s = 0;     // graph, passes and plan without weights; context overhead; the budget check
  double weights_s = 0;  // random or checkpoint weights on the host, BN folding, the plan
  double device_s = 0;   // arena, weight upload, algorithm selection (autotune)
  double capture_s = 0;  // first forward pass and CUDA-graph capture
  double total() const { return plan_s + weights_s + device_s + capture_s; }
};

// What a process running several sessions one after another (a profile worker) sets up once: the
// context overhead, measured before its first session so that every session's budget is computed
// alike, and the host weights of the last model × seed (random weights of a large model take a
// good part of a second to make). Not thread-safe; one per process.
struct SessionCache {
  int overhead_device = -1;
  ContextOverhead overhead;
  std::string weights_key;  // "model/seed" of `weights`
  TensorMap weights;        // as random_weights made them (before BN folding)
  // Algorithm choices by shape, shared by every session (and all its streams) so that a shape timed
  // once in the process is not timed again; made by the first session.
  std::shared_ptr<cuda::AlgorithmCache> algorithms;
};

class Session {
 public:
  // `cache` (optional, must outlive the constructor) is read and filled as described above.
  explicit Session(const SessionConfig& cfg, SessionCache* cache = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const SessionConfig& config() const;
  const SetupTimes& setup_times() const;
  // Random N(0,1) input (seeded) in the model's logical input shape.
  Tensor random_input(std::uint64_t seed) const;
  void set_input(const Tensor& x);
  void run();  // one forward pass, synchronous
  Tensor output() const;
  // CUDA events around each replay of the captured graph after `warmup` replays. With max_seconds > 0,
  // warm-up and iterations shrink so that timing takes about that long: never below 10 iterations,
  // or 3 where ten replays would take over twice max_seconds.
  TimingStats time(int warmup, int iterations, double max_seconds = 0);
  // Time of each node (CUDA events around each step, not graph-captured; median of `iterations`).
  struct NodeTime { std::string name, op; double median_ms = 0; };
  std::vector<NodeTime> time_nodes(int iterations);
  VramBreakdown vram() const;  // with several streams: activations and workspace summed over them
  std::vector<std::string> algorithm_choices() const;

 private:
  TimingStats time_streams(int warmup, int iterations);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vramfit
