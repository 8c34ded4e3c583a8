// backend/cuda/cudnn_sdpa.h — multi-head self-attention (OpKind Attention) on cuDNN's fused
// scaled-dot-product attention ("flash fprop"), built with the cuDNN 9 backend (graph) API only: no
// cudnn-frontend header library (it is not a Debian package and the GPU machine has no -dev files).
//
// In:  SdpaParams (batch B, sequence S, embed E, heads H, dtype), a workspace limit, then at run
//      time the packed qkv [B, S, 3E] and y [B, S, E] device pointers and a workspace.
// Out: y[b, s, h·d:(h+1)·d] = softmax(q kᵀ/√d) v for every head (Vaswani et al. 2017, eq. 1; no mask),
//      the same contract as kernels/attention.cuh and the CPU reference backend/cpu/ops.h attention.
// Use: construct once per shape (builds the graph, asks the heuristics, finalizes up to a few plans
//      whose workspace fits the limit), optionally tune() on real buffers, then run() as often as
//      wanted (also under CUDA-graph capture after a first run).
//
// Tensors (no copies; q, k, v are strided views of the one qkv buffer, dims in cuDNN's [b, h, s, d]):
//   Q  dims [B, H, S, d]  strides [3SE, d, 3E, 1]   at qkv
//   K  dims [B, H, S, d]  strides [3SE, d, 3E, 1]   at qkv + E elements
//      (the composite graph's first matmul takes Kᵀ: dims [B, H, d, S], strides [3SE, d, 1, 3E])
//   V  dims [B, H, S, d]  strides [3SE, d, 3E, 1]   at qkv + 2E elements
//   O  dims [B, H, S, d]  strides [SE, d, E, 1]     at y
//   scale: a by-value fp32 scalar [1, 1, 1, 1] = 1/√d, passed as a host pointer in the variant pack.
// Every pointer is 16-byte aligned when qkv and y are (d is a multiple of 8 and the dtype 2 bytes).
//
// Two operation graphs, both tried; every plan that finalizes is a candidate:
//   composite — the pattern cuDNN's fused flash-attention fprop engines recognise (cuDNN developer
//     guide, Graph API, "Fused Flash Attention fprop"; it is what cudnn-frontend's SDPA node lowers
//     to for cuDNN < 9.21): matmul S = Q·Kᵀ → pointwise MUL by the scale → softmax spelled out as
//     reduction MAX over keys → pointwise SUB → EXP → reduction ADD → DIV → matmul O = P·V.
//     Intermediates are virtual fp32 except P, which has the I/O dtype (the second matmul's A type
//     must be the I/O type); every compute type is fp32. Inference: no softmax statistics output.
//   unified — one CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR (Q, K, V, O, scale; K not transposed),
//     compiled in where the headers are ≥ 9.13 and used where the loaded library is ≥ 9.13.1 (the
//     version cudnn-frontend requires for it). Both 9.14 (the GPU machine) and 9.19 (here) have it.
// Plans come from CUDNN_HEUR_MODE_A (then FALLBACK when A offers nothing), at most kMaxPlans per
// graph; a plan whose workspace exceeds the limit is skipped. Without tune() the first plan found is
// used (composite first), unless an earlier tune() of the same shape chose another (the AlgorithmCache
// the runner is given, if any: algorithm_cache.h, keyed by SdpaParams::to_string()).
//
// Errors: every cuDNN status is checked. Statuses are reported with cudnnGetErrorString and
// cudnnGetLastErrorString (cuDNN 9's detailed reason). The gate (unsupported_reason) says Unsupported
// for fp32 (our kernel's job), head dims not a multiple of 8 or above 128 (above 256 on sm_90+),
// GPUs before sm_80 and cuDNN 9.10.0/9.10.1 (known SDPA bugs); the constructor throws Unsupported with
// every graph's and plan's reason when nothing finalizes, InvalidInput for inconsistent shapes.
// run() sets the handle's stream: runners sharing a handle are used from one thread at a time.
#pragma once

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace vramfit::cuda {

class AlgorithmCache;  // algorithm_cache.h

struct SdpaParams {
  std::int64_t batch = 1, seq = 1, embed = 1, heads = 1;
  DType dtype = DType::f16;  // f16 or bf16
  std::int64_t head_dim() const { return heads > 0 ? embed / heads : 0; }
  double flops() const;  // 4·B·H·S²·d: two matrix products of 2·S²·d each per (b, h)
  std::string to_string() const;  // "B256 S197 E768 H12 f16": the cache key and error-message form
};

// One finalized execution plan.
struct SdpaPlanInfo {
  std::string name;                // "composite engine 8" / "unified engine 0"
  std::uint64_t workspace_bytes = 0;
  float time_ms = -1.0f;           // after tune()
};

class CudnnSdpa {
 public:
  // "Can it run here?" apart from "run it" (STYLE.md): nullopt when it may (the plans decide the
  // rest), else the reason. compute_capability is major·10 + minor.
  static std::optional<std::string> unsupported_reason(const SdpaParams& p, int compute_capability);

  // Builds the graphs and plans for the current device; no device memory is touched. Starts on the plan
  // `cache` (may be null; must outlive the runner) says was fastest for the shape, else the first.
  CudnnSdpa(cudnnHandle_t handle, const SdpaParams& p, std::uint64_t workspace_limit, AlgorithmCache* cache = nullptr);
  ~CudnnSdpa();
  CudnnSdpa(CudnnSdpa&&) noexcept;
  CudnnSdpa& operator=(CudnnSdpa&&) noexcept;
  CudnnSdpa(const CudnnSdpa&) = delete;
  CudnnSdpa& operator=(const CudnnSdpa&) = delete;

  const SdpaParams& params() const;
  const std::vector<SdpaPlanInfo>& plans() const;
  std::size_t chosen() const;                 // index into plans()
  std::uint64_t workspace_bytes() const;      // the chosen plan's; ≤ the limit
  std::string describe() const;               // "cuDNN SDPA composite engine 8, workspace 0 B, 0.212 ms"
  // Lines saying why graphs or plans were not usable (empty when all were); for diagnostics.
  const std::vector<std::string>& rejected() const;

  // Times every plan on real buffers (qkv valid, y overwritten; workspace of workspace_limit bytes or
  // null when the limit is 0), keeps the fastest and records it in the cache (if any); returns its
  // time in ms. Synchronous.
  float tune(cudaStream_t stream, const void* qkv, void* y, void* workspace);

  // Uses plan `index` (< plans().size()) from now on (tests check every plan; the benchmark times
  // them). Does not touch the tuned-choice cache.
  void select(std::size_t index);

  // y = attention(qkv). qkv and y 16-byte aligned, not overlapping; workspace: workspace_bytes()
  // bytes (null allowed when 0). Asynchronous on `stream`.
  void run(cudaStream_t stream, const void* qkv, void* y, void* workspace) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Finalizes every tensor and operation descriptor of both graphs (not the graphs themselves, which
// need a cuDNN handle and so a GPU) and returns what cuDNN refused, empty when nothing. Needs no GPU:
// it catches a wrong attribute, type or shape on machines without one (CI).
std::vector<std::string> check_sdpa_operations(const SdpaParams& p);

}  // namespace vramfit::cuda
