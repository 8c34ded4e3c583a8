// backend/cuda/attention_runner.h — one Attention node: our FlashAttention kernel
// (kernels/attention.cuh) or cuDNN's fused SDPA (cudnn_sdpa.h), whichever is faster for the shape.
//
// In:  the node's dtype and AttentionDims, the cuDNN handle, the workspace budget, the GPU's compute
//      capability; for tune(), the node's real qkv and y buffers. Out: y = attention(qkv).
// Choice (issue 7, item 5: "measure both and keep the faster per shape"):
//   * tune() times our kernel and every cuDNN plan that fits the workspace budget on the node's own
//     buffers and keeps the fastest; the result goes into the AlgorithmCache the runner is given, if
//     any (algorithm_cache.h), by shape ("B256 S197 E768 H12 f16"), so later runners of the same
//     shape on that cache skip the timing (choice().measured).
//   * Without tune(): a cached measured choice where there is one, else our kernel where it runs the
//     shape (no cuDNN plan is built then, which would cost a run-time compilation), else cuDNN.
//   * Where only one of the two runs the shape (fp32 → ours; a head dim our kernel lacks, e.g. 96 →
//     cuDNN) that one is used; where neither does, the constructor throws Unsupported with both reasons.
// impl_label() is "flash" or "cudnn": the executor shows it in step labels ("Attention[cudnn]").
#pragma once

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "backend/cuda/kernels/attention.cuh"
#include "core/dtype.h"

namespace vramfit::cuda {

class AlgorithmCache;  // algorithm_cache.h

enum class AttentionImpl { Flash, Cudnn };
const char* to_string(AttentionImpl i);  // "flash", "cudnn"

struct AttentionChoice {
  AttentionImpl impl = AttentionImpl::Flash;
  bool measured = false;
  float flash_ms = -1.0f, cudnn_ms = -1.0f;  // measured times (−1: not run)
};

class AttentionRunner {
 public:
  // "Can it run here?" from the shape alone (STYLE.md): nullopt when our kernel or cuDNN's SDPA may
  // run it (cuDNN's plans decide the rest in the constructor), else why neither does — the message
  // the constructor would throw.
  static std::optional<std::string> unsupported_reason(DType dtype, const kernels::AttentionDims& dims,
                                                       int compute_capability);

  // compute_capability: major·10 + minor. Builds cuDNN plans only where they may be used (see above).
  // `cache` (may be null; must outlive the runner) is read here and filled by tune(), also for the
  // cuDNN runner's plan choice.
  AttentionRunner(cudnnHandle_t handle, DType dtype, const kernels::AttentionDims& dims, std::uint64_t workspace_limit,
                  int compute_capability, AlgorithmCache* cache = nullptr);
  ~AttentionRunner();
  AttentionRunner(const AttentionRunner&) = delete;
  AttentionRunner& operator=(const AttentionRunner&) = delete;

  // Times the candidates on real buffers (qkv valid, y overwritten, workspace of workspace_limit
  // bytes, null allowed when the limit is 0) and keeps the fastest. Synchronous.
  void tune(cudaStream_t stream, const void* qkv, void* y, void* workspace);
  // y = attention(qkv); asynchronous, capturable (after a first eager run for cuDNN).
  void run(cudaStream_t stream, const void* qkv, void* y, void* workspace) const;

  AttentionImpl impl() const;
  const char* impl_label() const { return to_string(impl()); }
  const AttentionChoice& choice() const;
  std::uint64_t workspace_bytes() const;  // 0 for our kernel
  std::string key() const;                // the shape key of the choice cache
  // "flash 0.262 ms vs cuDNN SDPA composite engine 8 0.201 ms → cudnn" (reasons where one is absent).
  std::string describe() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vramfit::cuda
