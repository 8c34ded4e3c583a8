// backend/cuda/cublaslt_gemm.h — one Linear node on cuBLASLt: y = act(x·Wᵀ + b + res).
//
// In:  LinearParams (M, N, K, dtype, bias/residual/activation), a workspace limit, then at run time
//      device pointers: x row-major [M, K], W row-major [N, K] (torch's nn.Linear layout), bias [N],
//      res and y row-major [M, N]. Out: y.
// Use: prepare once per shape (the constructor), size the arena's workspace region from
//      workspace_bytes(), then run(stream, x, w, bias, res, y, workspace); if separate_activation()
//      is not None, apply that activation to y afterwards (elementwise kernel).
//
// Row-major onto cuBLASLt's column-major (cuBLASLt API reference, cublasLtMatmul: D = α·op(A)·op(B) + β·C):
//   A row-major [R, C] buffer with leading dimension C is, read column-major, the matrix Aᵀ [C, R]
//   with ld C. We want y = x·Wᵀ; transposing, yᵀ = W·xᵀ. So in column-major terms
//     D = yᵀ : N×M, ld N   (y's buffer as is)
//     A = W's buffer read column-major = Wᵀ : K×N, ld K, with op(A) = transpose → W : N×K
//     B = x's buffer read column-major = xᵀ : K×M, ld K, with op(B) = none       → xᵀ : K×M
//     op(A)·op(B) = W·xᵀ = (x·Wᵀ)ᵀ = D.                                               ("TN" GEMM)
//   No copy, no transpose kernel. C = D's layout; the residual is C with β = 1 (β = 0 and C = D
//   without one). cuBLASLt runs in place when C == D with the same layout, which is what
//   graph/graph.h in_place_input() plans for; a partial overlap is rejected.
//   The bias epilogue adds a vector of length rows(D) = N broadcast over the M columns — one value per
//   output feature, as nn.Linear's bias — before the activation, after α·AB + β·C:
//   y = act(x·Wᵀ + res + b) (cublasLtEpilogue_t, CUBLASLT_EPILOGUE_BIAS: "added before applying final
//   postprocessing").
//
// Types (cublasLtMatmul "supported data types"): f32 → CUBLAS_COMPUTE_32F, or
//   CUBLAS_COMPUTE_32F_FAST_TF32 when allow_tf32; f16 / bf16 → CUBLAS_COMPUTE_32F with scale type
//   CUDA_R_32F (fp32 accumulate, tensor cores). The bias has D's type unless bias_dtype says otherwise
//   (CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE). bf16 needs sm_80.
//
// Activations: None, ReLU (CUBLASLT_EPILOGUE_RELU[_BIAS]) are fused. GELU: cuBLASLt's GELU epilogue is
//   the tanh approximation 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))), while the models use the exact
//   erf form; the two differ by up to 4.7e-4 in absolute value (at x ≈ ±2.7). Default (GeluMode::Exact):
//   fuse only the bias and report Gelu in separate_activation(), for the exact kernel to apply.
//   GeluMode::TanhEpilogue fuses the approximation (faster, documented difference). SiLU has no
//   epilogue: always separate.
//
// Algorithm: cublasLtMatmulAlgoGetHeuristic with the workspace limit and the pointer alignment we
//   promise (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES, default 256 = arena regions); the first
//   result that succeeds is kept. tune() times the first few heuristic results on the caller's
//   buffers (CUDA events) and keeps the fastest. Choices are kept per shape key in the AlgorithmCache
//   the runner is given, if any (algorithm_cache.h), a measured one winning over a heuristic one.
//
// A runner keeps its cuBLASLt descriptors and sets the bias pointer on each run(): use one runner from
// one thread at a time.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda {

class AlgorithmCache;  // algorithm_cache.h

enum class GeluMode : std::uint8_t { Exact, TanhEpilogue };

struct LinearParams {
  std::int64_t m = 1;  // rows of x and y (all leading dims of x multiplied: batch · tokens)
  std::int64_t n = 1;  // output features (rows of W)
  std::int64_t k = 1;  // input features
  DType dtype = DType::f32;  // x, W, res, y (f32, f16, bf16)
  bool has_bias = false;
  bool has_residual = false;
  Activation act = Activation::None;
  GeluMode gelu = GeluMode::Exact;
  bool allow_tf32 = false;             // f32 only
  std::optional<DType> bias_dtype;     // default: dtype
  std::uint32_t pointer_alignment = 256;  // bytes; every pointer passed to run() must honour it

  std::string to_string() const;
};

// The LinearParams of a graph Linear node: M = product of x's leading dims.
LinearParams linear_params_from_node(const Graph& g, const Node& n, bool allow_tf32, GeluMode gelu = GeluMode::Exact);

struct LinearChoice {
  cublasLtMatmulAlgo_t algo{};
  std::uint64_t workspace_bytes = 0;
  bool measured = false;
  float time_ms = -1.0f;
  int candidates = 0;  // heuristic results considered
};

class LinearRunner {
 public:
  // "Can it run here?": nullopt when it can, else the reason. compute_capability = major·10 + minor.
  static std::optional<std::string> unsupported_reason(const LinearParams& p, int compute_capability);

  // Prepares for the current device (InvalidInput for bad extents, Unsupported per the gate or when
  // cuBLASLt has no algorithm within the workspace limit): `cache`'s choice for the shape where it has
  // one, else the first heuristic result (stored there). No device memory is touched. `cache` (may be
  // null) must outlive the runner.
  LinearRunner(cublasLtHandle_t handle, const LinearParams& p, std::uint64_t workspace_limit,
               AlgorithmCache* cache = nullptr);
  ~LinearRunner();
  LinearRunner(LinearRunner&&) noexcept;
  LinearRunner& operator=(LinearRunner&&) noexcept;
  LinearRunner(const LinearRunner&) = delete;
  LinearRunner& operator=(const LinearRunner&) = delete;

  const LinearParams& params() const;
  const LinearChoice& choice() const;
  cublasLtEpilogue_t epilogue() const;
  // The activation run() does NOT apply (Gelu in exact mode, Silu); None when fully fused.
  Activation separate_activation() const;
  std::uint64_t workspace_bytes() const;  // ≤ the limit
  std::uint64_t workspace_limit() const;
  std::string describe() const;  // "RELU_BIAS, 32F compute, workspace 4 MiB, heuristic #0 of 8"

  // Times up to `candidates` heuristic results (`iterations` runs each after a warm-up) on the given
  // buffers and keeps the fastest. y_scratch (M·N elements) is overwritten; the workspace must hold
  // workspace_limit() bytes; bias must be given iff has_bias. Synchronous.
  void tune(cudaStream_t stream, const void* x, const void* w, const void* bias, void* y_scratch, void* workspace,
            int candidates = 8, int iterations = 5);

  // y = act(x·Wᵀ + bias + res) (act as fused; see separate_activation()). bias null iff !has_bias,
  // res null iff !has_residual; res may equal y. workspace: workspace_bytes() bytes (null if 0).
  // Asynchronous on `stream`.
  void run(cudaStream_t stream, const void* x, const void* w, const void* bias, const void* res, void* y,
           void* workspace) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vramfit::cuda
