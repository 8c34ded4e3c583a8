// backend/cuda/kernels/llm_embedding.cuh — token embedding lookup: y[t, :] = table[tokens[t], :].
//
// Layout: tokens [count] int32 on the device; table [vocab, dim] row-major; y [count, dim] contiguous.
// Dtypes: f32, f16, bf16 (table and y the same). A token id outside [0, vocab) gives a row of zeros
// (a kernel cannot throw; the caller validates ids on the host where it has them).
//
// Tiling: one block per token, 16-byte packs when dim is a multiple of the pack and both pointers are
// 16-byte aligned, else elements. Bytes moved: 2·count·dim·s — a copy.
//
// Launch on `stream`; no scratch. InvalidInput on non-positive extents.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

void embedding(DType dtype, const std::int32_t* tokens, std::int64_t count, const void* table, std::int64_t vocab,
               std::int64_t dim, void* y, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
