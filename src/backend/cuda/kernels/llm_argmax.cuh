// backend/cuda/kernels/llm_argmax.cuh — greedy sampling: the index of the largest logit of each row.
//
// What it computes: out[r] = the smallest c with x[r, c] = max_c x[r, c]  (ties → lowest index, like
// torch.argmax); NaNs never win (a row of NaNs gives 0).
//
// Layout: x rows `row_stride` elements apart (≥ cols), out [rows] int32 on the device.
// Dtypes: f32, f16, bf16.
//
// Tiling: one 1024-thread block per row; each thread scans a strided slice keeping (value, index),
// then a warp-shuffle and shared-memory reduction. A 32000–152064-wide fp16 row is 64–300 KB:
// a few µs, bandwidth-bound at batch ≥ 8 rows, latency-bound below.
//
// Launch on `stream`; no scratch. InvalidInput on non-positive extents.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

void argmax_rows(DType dtype, const void* x, std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                 std::int32_t* out, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
