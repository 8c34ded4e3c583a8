// backend/cuda/executor.h — runs a planned graph on the GPU.
//
// In:  an optimised graph (graph/passes.h: BN folded, fusions done, dtypes and layouts assigned), its
//      Plan (graph/planner.h), the weights (host fp32, checkpoint names, BN already folded), and a
//      DeviceArena (arena.h) whose capacity the caller sized with required_arena_bytes().
// Out: outputs on the host (fp32, logical layout); the workspace actually chosen; one CUDA-graph
//      replayable forward pass.
//
// Memory: three regions of the one arena — "weights" (each parameter 256-byte aligned, stored at its
// dtype; convolution weights KRSC when the convolution runs NHWC), "activations" (exactly
// Plan::arena_bytes; each value at Plan::offset_of), "workspace" (the fixed workspace budget shared by
// every cuDNN/cuBLASLt call: algorithm selection only considers candidates that fit it, DESIGN rule 4).
// Nothing else is allocated on the device; input and output conversion (dtype, NCHW↔NHWC) happens on
// the host.
//
// Per node: Conv2d → cudnn_conv ConvRunner (+ the elementwise kernel for a fused SiLU/GELU, which
// cuDNN's epilogue lacks); Linear → cublaslt_gemm LinearRunner (+ the exact GELU kernel when the
// epilogue cannot do it); Attention → attention_runner AttentionRunner (our kernel or cuDNN's fused
// SDPA, whichever measured faster for the shape); everything else → kernels/* (YOLO: upsample,
// channel_copy for Concat/Slice, spatial_attention, pose_decode, nms). Views (Flatten, PatchFlatten
// of NHWC) cost nothing: the planner gave them their input's bytes. ConcatClassToken followed by
// AddPositional runs as one fused kernel. executor_lowering.cpp has one lowering function per op family.
//
// Set-up order: (1) the gate — every node's "can it run here?" from shapes, dtypes and the compute
// capability (the runners' unsupported_reason, the kernels' *_unsupported, the fusions the backend
// needs), before any device memory is touched; (2) the regions: weights uploaded, activations and
// workspace bound; (3) per node in order: prepare its runner (algorithm choice, from the
// AlgorithmCache where the shape was chosen before), with autotune time the candidates on the arena's
// buffers (which needs the weights there), and record its steps. Only a runner that finds no
// algorithm within the workspace budget, or cuDNN SDPA refusing every plan, still says Unsupported
// in (3).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/cuda/arena.h"
#include "backend/cuda/device.h"
#include "core/tensor.h"
#include "core/tensor_map.h"
#include "graph/graph.h"
#include "graph/planner.h"

namespace vramfit::cuda {

class AlgorithmCache;  // algorithm_cache.h

struct ExecutorOptions {
  bool allow_tf32 = false;
  std::uint64_t workspace_bytes = 128ull << 20;  // the fixed workspace budget (--workspace)
  bool autotune = true;  // time cuDNN/cuBLASLt candidates (within the budget) at set-up
  // Multi-stream sessions: run on the weights another executor of the same graph already uploaded
  // (no weights region of its own); it must outlive this one.
  const class Executor* shared_weights = nullptr;
  // Algorithm choices by shape (algorithm_cache.h), read and filled while preparing the nodes; must
  // outlive the executor. A session passes one to all its streams' executors (and a SessionCache one
  // to all its sessions), so that a shape timed once is not timed again. Null: a private one.
  AlgorithmCache* algorithms = nullptr;
};

// Bytes of the weights region: every parameter at its dtype, each rounded up to 256 bytes.
std::uint64_t weights_region_bytes(const Graph& g);
// What the arena must hold: weights region + Plan::arena_bytes + workspace budget (+ alignment); with
// `streams` executors sharing the weights, the weights once and activations + workspace per stream.
std::uint64_t required_arena_bytes(const Graph& g, const Plan& plan, const ExecutorOptions& opt, int streams = 1);

class Executor {
 public:
  // Gates every node, uploads the weights, prepares every node (algorithm choice within the workspace
  // budget) and, with autotune, measures candidates (set-up order above). Throws Unsupported (an op or
  // dtype this GPU/backend cannot run: the gate's reason), OutOfMemory (a region does not fit the
  // arena), InvalidInput (missing weight).
  Executor(const Graph& g, const Plan& plan, const TensorMap& weights, DeviceArena& arena,
           const ExecutorOptions& opt, cudaStream_t stream);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Host fp32 (logical NCHW / [B, S, E]) → the input's dtype and layout in the arena. Synchronous.
  void set_input(std::size_t index, const Tensor& host);
  // Fills input `index` on the device with N(0,1) values from core/rng.h's generator (seed, stream
  // "input"), in the input's storage dtype and order — equal to Session::random_input(seed) where the
  // input is stored as fp32 NCHW, a permutation of it where NHWC. For timing inputs at large batches,
  // which the host would take seconds to make and convert. Synchronous.
  void fill_input_normal(std::size_t index, std::uint64_t seed, cudaStream_t stream);
  // Enqueues the whole forward pass on `stream` (capturable).
  void enqueue(cudaStream_t stream) const;
  // Captures enqueue() once into a CUDA graph; launch() then replays it.
  void capture(cudaStream_t stream);
  void launch(cudaStream_t stream) const;
  bool captured() const { return graph_ != nullptr; }
  // Device → host fp32 in the logical layout. Synchronous.
  Tensor output(std::size_t index) const;

  // Each step timed on its own (CUDA events between steps, no graph replay; median over iterations):
  // where the time goes, for the floor analysis. Steps are labelled with their node's name and op
  // (attention with the implementation chosen: "Attention[flash]" or "Attention[cudnn]").
  struct StepTime {
    std::string name, op;
    double median_ms = 0;
  };
  std::vector<StepTime> time_steps(cudaStream_t stream, int iterations) const;

  std::uint64_t workspace_used() const { return workspace_used_; }  // max over the chosen algorithms
  std::uint64_t weights_bytes() const { return weights_bytes_; }
  std::uint64_t activation_bytes() const { return activation_bytes_; }
  // One line per prepared conv/linear/attention: which algorithm and workspace ("layer1.0.conv1: IMPLICIT_…").
  const std::vector<std::string>& choices() const { return choices_; }

 private:
  struct Handles;   // executor_lowering.h
  struct Lowering;  // executor_lowering.h: graph nodes → runners and steps
  void upload_weights(const TensorMap& weights, DeviceArena& arena, const ExecutorOptions& opt, cudaStream_t stream);
  void bind_activations(DeviceArena& arena);

  const Graph& g_;
  const Plan& plan_;
  std::unique_ptr<Handles> handles_;
  std::vector<void*> value_ptr_;  // per value id: device address (params and activations)
  std::vector<std::function<void(cudaStream_t)>> steps_;
  std::vector<std::pair<std::string, std::string>> step_labels_;  // (node name, op) per step
  std::unique_ptr<GraphExec> graph_;
  std::uint64_t workspace_used_ = 0, weights_bytes_ = 0, activation_bytes_ = 0;
  std::vector<std::string> choices_;
};

// Host conversion helpers (exposed for tests): fp32 logical → device bytes of `dtype`, permuting
// NCHW → NHWC when `layout` is NHWC (a 4-D weight [K, C, R, S] → KRSC uses the same permutation).
std::vector<std::uint8_t> to_device_format(std::span<const float> src, const Shape& logical, DType dtype, Layout layout);
std::vector<float> from_device_format(std::span<const std::uint8_t> src, const Shape& logical, DType dtype, Layout layout);

}  // namespace vramfit::cuda
