// backend/cuda/kernels/llm_silu_mul.cuh — the SwiGLU gate of a Llama MLP (Shazeer 2020, "GLU Variants
// Improve Transformer", FFN_SwiGLU): y = SiLU(gate) · up.
//
// What it computes (CPU reference backend/cpu/llm_ops.h silu_mul):
//   y[r, c] = gate[r, c] / (1 + e^(−gate[r, c])) · up[r, c]        r < rows, c < cols
// fp32 arithmetic, one rounding on store (HF rounds SiLU's result first; ≤ 1 ulp apart).
//
// Layout: gate and up rows `gate_stride` / `up_stride` elements apart (so both can be halves of a fused
// gate_up projection [rows, 2·cols]: up = gate + cols, strides 2·cols); y [rows, cols] contiguous.
// Dtypes: f32, f16, bf16.
//
// Tiling: grid-stride over 16-byte packs of y (8 16-bit values) when every pointer is 16-byte aligned
// and cols and both strides are multiples of the pack, else over elements. Bytes moved: 3·rows·cols·s.
//
// Launch on `stream`; no scratch. InvalidInput on bad extents; y must not overlap gate or up unless it
// is exactly gate with gate_stride = cols (in place).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

void silu_mul(DType dtype, const void* gate, std::int64_t gate_stride, const void* up, std::int64_t up_stride, void* y,
              std::int64_t rows, std::int64_t cols, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
