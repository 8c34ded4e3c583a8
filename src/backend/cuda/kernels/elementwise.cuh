// backend/cuda/kernels/elementwise.cuh — activations, residual add, and bias + activation over the
// last dim: the memory-bound glue between cuDNN convolutions and cuBLASLt products.
//
// What they compute (graph.h Activation; the CPU reference is backend/cpu/ops.h apply_activation):
//   activation      y[i] = act(x[i])                           (OpKind Relu, Gelu, Silu)
//   add             y[i] = act(a[i] + b[i])                    (OpKind Add with its fused act)
//   bias_activation y[r, c] = act(x[r, c] + bias[c])  over x [rows, cols], bias [cols]
//                   (Linear's epilogue when the GEMM library's own is not the one we need:
//                   cuBLASLt's GELU epilogue is the tanh approximation, ours is the exact erf form)
// act: None, Relu (x < 0 ? 0 : x; NaN stays NaN), Gelu exact ½x(1 + erf(x/√2)) and Silu
// x·σ(x) = x / (1 + e^−x). GELU in fp32 is evaluated as ½x·erfc(−x/√2) — the same function without
// the cancellation 1 + erf(·) suffers for x ≪ 0, so results keep ~1e-6 relative accuracy in the
// negative tail; for 16-bit storage Φ(x) comes from Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7,
// ~20 instructions instead of erfcf's ~60, which would make the 16-bit pass compute-bound at half
// the memory bandwidth). See kernel_common.cuh activate().
//
// Layout: flat, contiguous. Dtypes: f32, f16, bf16 (all operands the same dtype; bias and norm
// parameters follow the activation dtype, core/dtype.h), fp32 arithmetic, one rounding on store.
// In place: y may equal x (or a, or b): each element is read, then written, by the same thread.
//
// Tiling: grid-stride loops (≤ 4096 blocks of 256 threads) over 16-byte packs (4 fp32 or 8 16-bit
// values) when every pointer is 16-byte aligned — and, for bias_activation, cols is a multiple of
// the pack so a pack never straddles two rows — else over single elements. There is no reuse to
// tile for: each byte is touched once.
//
// Bytes moved (bandwidth floor = bytes / device copy bandwidth), s = sizeof(element):
//   activation      2·n·s         add   3·n·s         bias_activation   (2·rows·cols + cols)·s
// Measured on an H200 (device copy ≈ 4.2 TB/s; test_kernels.cpp DISABLED_Throughput): GELU in place
// on [50432, 3072] 3.8 TB/s fp32 / 3.7 fp16 / 3.8 bf16; SiLU 3.9; bias+GELU 3.5 / 3.3 / 3.2; add on
// [50432, 768] 4.1 TB/s in all three dtypes.
//
// All launches go on `stream`; pointers are device memory the caller owns. Bad extents (n < 0)
// throw InvalidInput; other dtypes throw Unsupported.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels {

void activation(DType dtype, const void* x, void* y, std::int64_t n, Activation act, cudaStream_t stream);

void add(DType dtype, const void* a, const void* b, void* y, std::int64_t n, Activation act,
         cudaStream_t stream);

void bias_activation(DType dtype, const void* x, const void* bias, void* y, std::int64_t rows,
                     std::int64_t cols, Activation act, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
