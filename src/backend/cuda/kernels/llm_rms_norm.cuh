// backend/cuda/kernels/llm_rms_norm.cuh — RMSNorm over the last dim (Zhang & Sennrich 2019, "Root Mean
// Square Layer Normalization", eq. 4; HF LlamaRMSNorm).
//
// What it computes (CPU reference backend/cpu/llm_ops.h rms_norm):
//   for each row r of x [rows, E]:  y[r, e] = x[r, e] · 1/√(mean_e x[r, e]² + eps) · w[e]
// Statistics and the product in fp32, one rounding on store. (HF rounds twice: x·rsqrt(…) is cast to
// the activation dtype before the multiply by w; the difference is ≤ 1 ulp of the output.)
//
// Layout: x, y row-major [rows, E], contiguous; w [E]. Dtypes: f32, f16, bf16 (w has x's dtype).
// In place: y may equal x.
//
// Tiling: one block per row of min(256, units rounded up to a warp) threads; pass 1 reads the row with 16-byte
// packs (8 16-bit values) and block-reduces Σx², pass 2 re-reads it (from L1: a row of E = 8192 fp16
// is 16 KiB) and writes y. 16-byte packs when x, w, y are 16-byte aligned and E a multiple of the
// pack; otherwise single elements. Memory-bound: bytes moved (2·rows·E + E)·sizeof(element); at
// decode (rows = batch ≤ 8, E = 4096) the kernel is launch-latency bound (~3 µs), which is what the
// CUDA graph replay hides.
//
// Launch on `stream`; no scratch. InvalidInput on non-positive extents or eps < 0.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

void rms_norm(DType dtype, const void* x, const void* weight, void* y, std::int64_t rows, std::int64_t features,
              float eps, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
