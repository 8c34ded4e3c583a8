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
// i4 (our W8A16 / W4A16 formats, fp16 scales).
//
// Arithmetic (vector path): products on the tensor cores (mma.sync m16n8k16, 16-bit inputs, fp32
// accumulation), so every product is exact and every sum is fp32; one rounding on store.
//   f16 / bf16 weights: Σ x·w as stored.
//   int8: q (an integer, exact in 16 bits) · x summed over the row in fp32, times the row's scale in
//     fp32 at the end.
//   int4: q · x summed in fp32 per 128-column group, times the group's scale (fp32 fma) into the row sum.
//   So a weight is never rounded to 16 bits as q·s: the result is the exact-q·s reference up to fp32
//   summation error (tensor-core accumulation truncates rather than rounds, still ≲ 2⁻²² relative per
//   step), plus the output's rounding. Rows of the batch beyond `batch` are never stored.
// Dequantisation to 16-bit integers, no integer→float conversions: int4 fp16 — (w & 0x000f000f) |
// 0x64006400 is half2(1024 + n, 1024 + n') for nibbles n, n' four columns apart, minus 1032 → q;
// the 0x00f000f0 mask gives 1024 + 16n, and fma(·, 1/16, −72) → q; w >> 8 gives the other four
// nibbles (one shift, four LOP3, four HADD2/HFMA2 per 8 weights, all exact). Because those pairs are
// (column c, c+4), x is paired the same way with byte permutes (4 PRMT per 8 activations); which
// column sits in which mma k-slot is free as long as A and B agree. int4 bf16: shifts by 4, 8, 12
// and 0x43004300 (bf16 128 + n) − 136. int8 fp16: the byte permute puts 0x64 above q + 128 (byte ^
// 0x80): half 1024 + 128 + q, minus 1152 → q. int8 bf16 (too few mantissa bits for that): through
// fp32 (OR into the mantissa of 2²³, subtract) and a pack to bf16. llm_gemv.cu has a worked example.
//
// Tiling (vector path): a 256-thread block owns 16 output rows (the mma's M) and all of k; its 8
// warps split k in chunks of 4 × 16-byte vectors per row (int4: a chunk is one 128-column group).
// Thread (g, t) = (lane / 4, lane % 4) loads vector 4c + t of rows g and g+8 with streaming loads —
// 8 f16/bf16, 16 int8 or 32 int4 weights each — four chunks in flight (8 loads, 128 bytes per thread),
// and the same columns of x for batch row g (B's column g: batch ≤ 8 = the mma's N; rows g ≥ batch
// re-read row batch−1 and their outputs are dropped) through L1. So every x element is loaded once
// per warp and chunk whatever the batch, and each weight is dequantised once for all batch rows: the
// instruction count per weight does not grow with the batch. The warps' fp32 accumulators (16 rows ×
// 8 batch rows) are added in shared memory in a fixed order (deterministic) and stored with the
// residual. SASS for sm_90, instructions per weight in the main loop (any batch 1 … 8, f16
// activations): f16 weights 1.0, int8 1.6, int4 1.8 (was 4.2 / 5.0 / 6.2 at batch 1 and ~21 at batch 8);
// bf16 activations: 1.0 / 3.1 / 2.0. Budget: an H200 issues ~3.3e13 thread-instructions/s, and
// streaming int4 at 4.3 TB/s is 8.5e12 weights/s, i.e. ~3.9 instructions per weight at 100% issue —
// int4 uses under half of it, so the kernel should be memory-bound at any batch ≤ 8 (int8: 7.7, f16:
// 15 per weight available). Needs sm_80+ (mma.sync); the project builds for sm_86 … sm_120.
// Vector path when: pointers 16-byte aligned and k a multiple of 8 (16-bit), 16 (int8) — int4's
// k % 128 = 0 always suffices; otherwise a scalar path (one warp per row, one element per lane per
// step, the weight dequantised to q·s in fp32) does the same sum in fp32, slower.
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
