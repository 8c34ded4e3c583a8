// backend/cuda/kernels/llm_gemm_dequant.cuh — the prefill product y = x·W'ᵀ (+ residual) for int8 /
// int4 weights: dequantise a tile of rows into an arena scratch buffer, then one cuBLASLt GEMM per
// tile (backend/cuda/cublaslt_gemm.h, tensor cores, fp32 accumulate). 16-bit weights need none of
// this: they go to LinearRunner directly.
//
// What it computes: y[m, r] = Σ_c x[m, c]·W'[r, c] (+ residual[m, r]) with W' the dequantised weight of
// weights/quant_int.h (int8: q·s[r]; int4: (nibble − 8)·s[r, c/128]) — q·s is exact in fp32 and
// rounded once to the activation dtype (relative 2⁻¹¹ in f16, 2⁻⁸ in bf16). So the result equals
// cuBLASLt on that rounded dequantised matrix, which is what the GPU test checks.
//
// Layout: x [m, k], y and residual [m, n] row-major contiguous (residual may equal y); W as in
// llm_gemv.cuh (LlmWeights). Dtypes: activations f16 or bf16, weights i8 or i4.
//
// Tiling: rows [r0, r0 + tile) of W are dequantised to a [tile, k] 16-bit buffer (a grid-stride
// kernel, 16-byte stores; bytes moved ≈ weight bytes + 2·tile·k), then cuBLASLt computes
// y[:, r0:r0+tile]. With tile = n (scratch for the whole dequantised matrix) the GEMM writes y in
// place; with tile < n the GEMM writes a contiguous [m, tile] buffer that a strided copy
// (cudaMemcpy2DAsync) moves into y's columns — the residual, when there is one, is copied into that
// buffer first and added by the GEMM (β = 1). The last tile may be shorter (its own runner).
// Extra traffic per tile: the dequantised tile written and read once (2·2·tile·k bytes) plus, when
// tiled, 2–3·m·tile·2 bytes of copies — at prefill (m = 512, k = 4096) a few percent of the GEMM.
// Scratch: tile·k·2 bytes (+ m·tile·2 when tile < n) + the cuBLASLt workspace, each 256-byte aligned.
// A fused dequantising mma kernel (no scratch) is the next step if prefill of quantised models matters.
//
// Floor: the GEMM's 2·m·n·k FLOPs at the tensor-core rate (H200 dense fp16 ≈ 990 TFLOP/s: llama-7b's
// 512-token prefill, 6.6 TFLOP, ≈ 7 ms) plus the dequantisation traffic (≈ weight bytes + 2·n·k·2 B).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <span>

#include "backend/cuda/kernels/llm_gemv.cuh"
#include "core/dtype.h"

namespace vramfit::cuda {
class AlgorithmCache;  // backend/cuda/algorithm_cache.h
}  // namespace vramfit::cuda

namespace vramfit::cuda::kernels {

// out [rows, w.k] (dtype `act`, f16 or bf16) = the dequantised rows [row0, row0 + rows) of w (i8 or i4).
// `out` 16-byte aligned; InvalidInput for a row range outside [0, n); Unsupported for other dtypes.
void dequantize_weight_rows(DType act, const LlmWeights& w, std::int64_t row0, std::int64_t rows, void* out,
                            cudaStream_t stream);

// A weight as row ranges, each in its own format (the GGUF precisions stack q|k|v whose block types
// differ: Q4_K_M keeps attn_v in Q6_K in half the layers): rows [row0, row0 + rows) of the [n, k]
// matrix are `data` in `dtype` — i8/i4 with `scale` as in LlmWeights, or a GGUF block type (q8_0,
// q4_0, q4_k, q6_k; rows of backend/cuda/kernels/gguf_gemv.cuh gguf_row_bytes, decoded by its
// gguf_dequantize, f16 activations only). Segments are in row order and cover [0, n).
struct WeightSegment {
  DType dtype = DType::i8;
  const void* data = nullptr;
  const void* scale = nullptr;
  std::int64_t row0 = 0, rows = 0;
};
// out [rows, k] = the dequantised rows [row0, row0 + rows) of the segmented weight.
void dequantize_segment_rows(DType act, std::span<const WeightSegment> w, std::int64_t k, std::int64_t row0,
                             std::int64_t rows, void* out, cudaStream_t stream);

class DequantGemm {
 public:
  // weight_dtype: i8, i4, or a GGUF block type (then run with segments).
  // m, n, k: x [m, k], W [n, k]. tile_rows: rows of W dequantised at a time, 0 or ≥ n for the whole
  // matrix. Prepares cuBLASLt runners (no device memory touched; their choices from and into `cache`,
  // which may be null: backend/cuda/algorithm_cache.h). InvalidInput on bad extents, Unsupported for
  // dtypes other than f16/bf16 activations with i8/i4 weights.
  DequantGemm(cublasLtHandle_t handle, DType act, DType weight_dtype, std::int64_t m, std::int64_t n, std::int64_t k,
              std::int64_t tile_rows, bool has_residual, std::uint64_t workspace_limit = 32ull << 20,
              AlgorithmCache* cache = nullptr);
  ~DequantGemm();
  DequantGemm(DequantGemm&&) noexcept;
  DequantGemm& operator=(DequantGemm&&) noexcept;
  DequantGemm(const DequantGemm&) = delete;
  DequantGemm& operator=(const DequantGemm&) = delete;

  std::int64_t tile_rows() const;
  // Bytes of the scratch buffer run() needs (256-byte aligned pieces).
  std::uint64_t scratch_bytes() const;

  // y = x·W'ᵀ (+ residual). residual null iff !has_residual; may equal y. scratch: scratch_bytes()
  // bytes, 256-byte aligned; x, y, residual 256-byte aligned (the arena's regions are). Asynchronous.
  void run(cudaStream_t stream, const void* x, const LlmWeights& w, const void* residual, void* y,
           void* scratch) const;
  // The same for a segmented weight (segments covering [0, n), each of k columns).
  void run(cudaStream_t stream, const void* x, std::span<const WeightSegment> w, const void* residual, void* y,
           void* scratch) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vramfit::cuda::kernels
