// backend/cuda/cudnn_conv.h — one Conv2d node on cuDNN: y = act(conv(x, w) + bias + z).
//
// In:  ConvParams (shapes, dtype, layout, groups, stride/pad/dilation, bias/residual/activation), a
//      workspace limit, then at run time device pointers. Out: y.
// Use: prepare once per shape (the constructor), size the arena's workspace region from
//      workspace_bytes(), then run(stream, x, w, bias, z, y, workspace) as often as wanted (also
//      under CUDA-graph capture, once a first run has warmed cuDNN up).
//
// Layouts and types (cuDNN API reference, cudnnConvolutionForward "supported configurations"):
//   * Logical shapes are NCHW ([N, C, H, W]; weight [K, C/groups, R, S]) as in graph/graph.h.
//     Storage follows params.layout: NHWC stores x/y as [N, H, W, C] and the weight as KRSC
//     ([K, R, S, C/groups]); NCHW stores x/y as NCHW and the weight as KCRS.
//   * f16 and bf16 go NHWC (graph/passes.h assign_layout): tensor-core kernels read channels-last
//     without a transpose. f32 stays NCHW: its kernels are FMA (or TF32) either way and the CPU
//     reference and checkpoints are NCHW; NHWC f32 is accepted too.
//   * Compute is fp32 for every dtype (PSEUDO_HALF_CONFIG / PSEUDO_BFLOAT16_CONFIG / FLOAT_CONFIG);
//     bias and z have y's dtype; alpha/beta are host floats.
//   * Math: f32 strict → CUDNN_FMA_MATH ("restricted to kernels that use FMA instructions": no TF32),
//     and no Winograd/FFT algorithms (their fp32 rounding error exceeds a GEMM's; strict fp32 is the
//     reference precision);
//     f32 with allow_tf32 → CUDNN_DEFAULT_MATH (TF32 permitted on sm_80+); f16/bf16 →
//     CUDNN_TENSOR_OP_MATH.
//   * bf16 needs sm_80; before that the gate says Unsupported.
//
// Fusion (cuDNN API reference, cudnnConvolutionBiasActivationForward): it computes
//   y = act(alpha1·conv(x) + alpha2·z + bias), act ∈ {RELU, IDENTITY}; bias is [1, K, 1, 1] of y's type.
//   CUDNN_ACTIVATION_IDENTITY is only accepted with CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM
//   (cudnnActivationMode_t reference). y is an in/out pointer and may equal z (the residual add is
//   elementwise; this is the in-place case graph/graph.h in_place_input() plans for) — the GPU test
//   checks both the aliased and the separate case. So:
//     ReLU                → fused call with the best algorithm (a zero bias lives in the workspace when
//                           the node has none: cuDNN wants a bias tensor);
//     identity, no bias   → cudnnConvolutionForward (residual via beta = 1 on y, after copying z
//                           into y when they differ);
//     identity + bias     → fused with IMPLICIT_PRECOMP_GEMM when that algorithm is usable, else
//                           cudnnConvolutionForward + cudnnAddTensor (one extra pass over y).
//   If the fused call reports CUDNN_STATUS_NOT_SUPPORTED at run time, the runner switches for good to
//   the unfused sequence (forward, cudnnAddTensor, cudnnActivationForward) with the same algorithm.
//   Other activations (GELU, SiLU) are not cuDNN conv epilogues: prepare with act None and apply
//   them with the elementwise kernel afterwards; ConvRunner says Unsupported for them.
//
// Algorithm choice: the constructor asks cudnnGetConvolutionForwardAlgorithm_v7 (heuristics, no
// device memory needed) and keeps the first candidate that succeeds, fits the workspace limit and
// respects the math rule. tune() instead measures with cudnnFindConvolutionForwardAlgorithmEx on
// caller-provided buffers (the arena's; no cudaMalloc here). Choices are kept per shape key in the
// AlgorithmCache the runner is given, if any (algorithm_cache.h); a measured choice wins over a
// heuristic one, so a runner whose shape was timed before starts on that choice (choice().measured).
//
// Verified on an H200 (cuDNN 9.14, built against 9.19): every dtype × layout × fused/unfused ×
// z separate/in place case of tests/gpu/test_conv_gemm.cpp, the fused call accepted everywhere
// (f16/bf16/f32, NCHW/NHWC, groups, dilation, identity with IMPLICIT_PRECOMP_GEMM).
// run() sets the handle's stream: runners sharing a cuDNN handle are used from one thread at a time.
#pragma once

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "core/shape.h"
#include "graph/capability.h"
#include "graph/graph.h"

namespace vramfit::cuda {

class AlgorithmCache;  // algorithm_cache.h

struct ConvParams {
  // Input x, logical NCHW.
  std::int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  // Weight [out_channels, in_channels/groups, kernel_h, kernel_w].
  std::int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
  DType dtype = DType::f32;         // f32, f16, bf16 (x, w, bias, z, y share it)
  Layout layout = Layout::NCHW;     // NCHW or NHWC storage of x, z, y (and KCRS / KRSC weights)
  bool has_bias = false;
  bool has_residual = false;
  Activation act = Activation::None;  // None or Relu
  bool allow_tf32 = false;            // f32 only
  bool allow_fused = true;            // false: always the unfused sequence (tests cover both paths)

  std::int64_t out_h() const;
  std::int64_t out_w() const;
  ConvGeometry geometry() const;  // the numbers graph/capability.h checks against cuDNN's int indexing
  std::string to_string() const;  // the cache key and error-message form
};

// The ConvParams of a graph Conv2d node (shapes, attrs, the dtype and layout the passes assigned).
ConvParams conv_params_from_node(const Graph& g, const Node& n, bool allow_tf32);

// Which algorithm and sequence a runner uses.
struct ConvChoice {
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  std::uint64_t cudnn_workspace_bytes = 0;  // what cuDNN needs for (algo, math)
  bool fused = false;                       // cudnnConvolutionBiasActivationForward
  bool measured = false;                    // chosen by timing (tune), not by heuristics
  float time_ms = -1.0f;                    // measured time of the forward convolution, if measured
};

class ConvRunner {
 public:
  // "Can it run here?" apart from "run it" (STYLE.md): nullopt when it can, else the reason.
  // compute_capability is major·10 + minor (DeviceInfo::compute_capability()).
  static std::optional<std::string> unsupported_reason(const ConvParams& p, int compute_capability);

  // Prepares for the current device: validates (InvalidInput for inconsistent shapes, Unsupported per
  // the gate above), builds the cuDNN descriptors and chooses an algorithm whose workspace fits
  // `workspace_limit` bytes: `cache`'s choice for the shape where it has one, else heuristics (stored
  // there). No device memory is touched. `cache` (may be null) must outlive the runner.
  ConvRunner(cudnnHandle_t handle, const ConvParams& p, std::uint64_t workspace_limit, AlgorithmCache* cache = nullptr);
  ~ConvRunner();
  ConvRunner(ConvRunner&&) noexcept;
  ConvRunner& operator=(ConvRunner&&) noexcept;
  ConvRunner(const ConvRunner&) = delete;
  ConvRunner& operator=(const ConvRunner&) = delete;

  const ConvParams& params() const;
  const ConvChoice& choice() const;
  Shape output_shape() const;           // logical [N, K, OH, OW]
  std::uint64_t input_bytes() const;    // x
  std::uint64_t weight_bytes() const;   // w
  std::uint64_t output_bytes() const;   // y (and z)
  std::uint64_t bias_bytes() const;     // K elements
  // Device workspace run() needs (cuDNN's plus, where needed, a zero bias); ≤ the limit.
  std::uint64_t workspace_bytes() const;
  std::uint64_t workspace_limit() const;
  std::string describe() const;  // "IMPLICIT_PRECOMP_GEMM, tensor-op math, fused bias+relu, workspace 1.20 MiB"

  // Measures the candidates (cudnnFindConvolutionForwardAlgorithmEx), re-chooses and stores the
  // measured choice in the cache (if any). Needs valid
  // x and w, a scratch y of output_bytes() (overwritten) and a workspace of workspace_limit() bytes.
  // Synchronous. workspace_bytes() may change (never above the limit).
  void tune(cudaStream_t stream, const void* x, const void* w, void* y_scratch, void* workspace);

  // y = act(conv(x, w) + bias + z). bias: null iff !has_bias; z: null iff !has_residual; z may equal y
  // (in place) but must not partly overlap it; x must not overlap y. workspace: workspace_bytes()
  // bytes, 256-byte aligned (null allowed when workspace_bytes() is 0). Asynchronous on `stream`.
  void run(cudaStream_t stream, const void* x, const void* w, const void* bias, const void* z, void* y,
           void* workspace) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vramfit::cuda
