// backend/cuda/kernels/llm_gemv.cuh — the decode-step product y = x·Wᵀ of a decoder LLM at batch
// 1…8, streaming the weights once at close to the memory bandwidth: 16-bit, int8 and int4 weights.
//
// What it computes (CPU reference: dequantise with weights/quant_int.h, then backend/cpu/ops.h linear):
//   y[b, r] = Σ_c x[b, c] · W'[r, c]  (+ residual[b, r])      b < batch ≤ 8, r < n, c < k
// W' is the weight as stored (f16/bf16) or dequantised: int8 W'[r, c] = q[r, c]·s[r] (per output
// channel), int4 W'[r, c] = (nibble − 8)·s[r, c/128] (weights/quant_int.h documents the bytes).
// The residual (nullable, may equal y) is how o_proj and down_proj add into the residual stream.
//
// Layout: x [batch, k] and y, residual [batch, n] row-major, contiguous; W [n, k] row-major (torch's
// nn.Linear layout), int4 packed [n, k/2]; scales fp16, int8 [n], int4 [n, k/128].
// Dtypes: activations (x, y, residual) f16 or bf16; weights f16 / bf16 (the activation dtype), i8 or
// i4 (our W8A16 / W4A16 formats, fp16 scales). Products and sums in fp32 (int8 and int4: Σ q·x in
// fp32 per row resp. per 32-column chunk, times the scale once), one rounding on store.
//
// Tiling: one warp per output row, 8 rows (warps) per 256-thread block, grid ⌈n/8⌉. Lane l reads
// 16-byte vectors l, l+32, l+64, … of its row — 8 f16/bf16, 16 int8 or 32 int4 weights each — with
// four vectors in flight per lane (unrolled), so a warp streams 2 KiB of weights per step; the
// matching x vectors come through L1 (x is read by every warp of the GPU, ≤ 8·k·2 bytes, L1/L2
// resident). At the end a warp shuffle-reduces its batch sums and lane 0 stores. The batch is a
// template parameter in {1, 2, 4, 8} (batch 3 runs the 4-wide kernel with the 4th row masked), so the
// x loads and accumulators stay in registers. Weights are dequantised in registers: int8 bytes and
// int4 nibbles become floats with the exponent trick (OR into the mantissa of 2²³ and subtract), no
// integer→float conversion instructions and no fp16 copy of the weights anywhere.
// Vector path when: pointers 16-byte aligned and k a multiple of 8 (16-bit), 16 (int8) — int4's
// k % 128 = 0 always suffices; otherwise a scalar path (one element per lane per step) does the same
// arithmetic, slower.
//
// Floor: weight bytes / copy bandwidth. llama-7b (6.74e9 parameters): fp16 13.5 GB → ~3.3 ms/token
// on an H200 (~4.1 TB/s measured copy bandwidth), int8 6.7 GB → ~1.65 ms, int4 3.8 GB (with scales)
// → ~0.93 ms. One [4096 × 4096] fp16 matrix (33.5 MB) → ~8.2 µs; [11008 × 4096] → ~22 µs.
// bench/llm_kernels_bench.cu prints the measured time and GB/s next to these.
//
// Launch on `stream`; device pointers the caller owns; no scratch; graph-capturable.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

// A weight matrix [n, k] on the device in one of the formats above. For f16/bf16 `scale` is null.
struct LlmWeights {
  DType dtype = DType::f16;  // f16, bf16, i8 (Int8Weights), i4 (Int4Weights)
  const void* data = nullptr;
  const void* scale = nullptr;  // fp16 scales (i8: [n], i4: [n, k/128])
  std::int64_t n = 0, k = 0;
};

inline constexpr std::int64_t kGemvMaxBatch = 8;

// The gate: nullopt when llm_gemv runs these dtypes / extents, else the reason.
std::optional<std::string> llm_gemv_unsupported(DType act, const LlmWeights& w, std::int64_t batch);

// Throws Unsupported where the gate says so, InvalidInput on non-positive extents or missing scales.
void llm_gemv(DType act, const LlmWeights& w, const void* x, std::int64_t batch, const void* residual, void* y,
              cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
