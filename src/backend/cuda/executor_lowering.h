// backend/cuda/executor_lowering.h — private to the executor (executor.cpp, executor_lowering.cpp):
// the gate that says whether a graph can run here, and the lowering that turns each node into
// prepared runners and steps.
//
// A step is one closure over device pointers fixed at set-up (the arena's addresses), enqueued in
// order by Executor::enqueue and captured once into a CUDA graph; each step carries a label (node
// name, op) for time_steps(). Lowering a node = build its runner (cuDNN/cuBLASLt/attention: the
// algorithm choice, from the AlgorithmCache when the shape was chosen before), with autotune time the
// candidates on the node's own buffers, record the choice line, append the step(s).
#pragma once

#include <cuda_runtime_api.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/attention_runner.h"
#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/cudnn_conv.h"
#include "backend/cuda/device.h"
#include "backend/cuda/executor.h"

namespace vramfit::cuda {

struct Executor::Handles {
  CudnnHandle cudnn;
  CublasLtHandle cublaslt;
  std::unique_ptr<AlgorithmCache> own_algorithms;  // when ExecutorOptions::algorithms is null
  AlgorithmCache* algorithms = nullptr;            // the one the runners use
  std::vector<std::unique_ptr<ConvRunner>> convs;
  std::vector<std::unique_ptr<LinearRunner>> linears;
  std::map<std::string, std::unique_ptr<AttentionRunner>> attention;  // one per shape
  int cc = 0;
};

// "Can it run here?" for every node of `g` (and the storage dtype of every parameter the executor
// uploads), from shapes, dtypes and the compute capability alone: throws Unsupported naming the first
// node (in execution order) that cannot run, with the same reason the lowering would give. Touches no
// device memory.
void gate_graph(const Graph& g, const ExecutorOptions& opt, int compute_capability);

struct Executor::Lowering {
  Executor& e;
  const Graph& g;
  const ExecutorOptions& opt;
  cudaStream_t stream;  // the set-up stream: autotuning runs on it
  void* wsp;            // the workspace region (the fixed budget)

  // Every node in execution order; a ConcatClassToken takes the AddPositional it is fused with.
  void lower_all();

  // What lower_all uses for one node.
  std::string label_;  // the step label of the node being lowered

  void* ptr(ValueId v) const { return e.value_ptr_.at(static_cast<std::size_t>(v)); }
  void step(std::function<void(cudaStream_t)> f) { e.steps_.push_back(std::move(f)); }
  void chose(const Node& n, const std::string& what, std::uint64_t workspace);  // a choices() line

  void conv(const Node& n);
  void linear(const Node& n);
  void attention(const Node& n);
  void elementwise(const Node& n);  // activations, Add, LayerNorm
  void pooling(const Node& n);      // MaxPool, AvgPool, GlobalAvgPool
  // Token ops (ViT): ConcatClassToken (+ the AddPositional after it: returns true, that node is done),
  // PatchFlatten, Flatten, Patchify, TakeToken.
  bool tokens(const Node& n, const Node* next);
  void yolo(const Node& n);  // Upsample, Concat, Slice, SpatialAttention, PoseDecode, Nms
};

}  // namespace vramfit::cuda
