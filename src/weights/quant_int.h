// weights/quant_int.h — vramfit's own weight-only integer formats for decoder LLMs: W8A16 (int8 per
// output channel) and W4A16 (int4 in groups of 128 along the input dim), both with fp16 scales, made
// by round-to-nearest from float weights. The GPU GEMV (backend/cuda/kernels/llm_gemv.cuh) and the
// prefill GEMM (llm_gemm_dequant.cuh) read exactly these bytes; the CPU reference dequantises them.
//
// In:  a float weight matrix w row-major [n, k] — torch's nn.Linear layout, n output features (rows),
//      k input features. Out: the quantised matrix; dequantize() gives back [n, k] floats.
//
// ---- Int8Weights (W8A16) -----------------------------------------------------------------------
//   scale[r] (fp16 bits), r < n:   s_r = fp16(max_c |w[r, c]| / 127); 1 when the row is all zeros.
//   q[r·k + c] (int8), row-major:  clamp(round(w[r, c] / s_r), −127, 127)  (−128 is never produced)
//   dequantised:                   w'[r, c] = q[r·k + c] · s_r
//   Bytes: n·k + 2n.
//
// ---- Int4Weights (W4A16) -----------------------------------------------------------------------
//   k must be a multiple of 128 (InvalidInput otherwise). Group g of row r covers c ∈ [128g, 128g+128).
//   scale[r·(k/128) + g] (fp16 bits): s_rg = fp16(max |w[r, c]| over the group / 7); 1 when the group is
//                                  all zeros.
//   value:                         q = clamp(round(w[r, c] / s_rg), −8, 7), stored as the nibble q + 8 ∈ [0, 15]
//   packed[r·(k/2) + j] (uint8):   low nibble = column 2j, high nibble = column 2j+1
//   dequantised:                   w'[r, c] = (nibble − 8) · s_rg
//   Bytes: n·k/2 + 2·n·k/128. Symmetric: |w|/s ≤ 7·(1 + 2⁻¹¹) after the scale's rounding, so q ∈ [−7, 7]
//   in practice; the clamp to −8 is a guard, and nibble 0 is never written by quantize_int4.
//
// Rounding: the scale is rounded to fp16 first and the division uses that rounded scale, so q·s is
// the representable value nearest w; round() is to nearest, ties to even (std::nearbyint). A scale
// that would underflow fp16 to zero (max|w| below ~7.6e-6 for int8) becomes the smallest positive
// fp16 subnormal (2⁻²⁴), so dequantisation never divides or multiplies by zero for a nonzero row.
// Non-finite weights, or a scale that overflows fp16 (max|w| > 65504·127 resp. ·7), throw InvalidInput.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"  // kInt4GroupSize

namespace vramfit {

struct Int8Weights {
  std::int64_t n = 0, k = 0;
  std::vector<std::int8_t> q;          // [n, k] row-major
  std::vector<std::uint16_t> scale;    // [n] fp16 bits
  std::uint64_t bytes() const { return q.size() + 2 * scale.size(); }
};

struct Int4Weights {
  std::int64_t n = 0, k = 0;
  std::vector<std::uint8_t> packed;    // [n, k/2]: byte j of row r = nibble(2j) | nibble(2j+1) << 4
  std::vector<std::uint16_t> scale;    // [n, k/128] fp16 bits
  std::uint64_t bytes() const { return packed.size() + 2 * scale.size(); }
};

// Bytes of the formats for an [n, k] matrix (what the planner counts); k must suit the format.
std::uint64_t int8_weight_bytes(std::int64_t n, std::int64_t k);
std::uint64_t int4_weight_bytes(std::int64_t n, std::int64_t k);

// w: n·k floats, row-major [n, k]. InvalidInput on non-positive extents, k % 128 ≠ 0 (int4),
// non-finite weights or an fp16 scale overflow.
Int8Weights quantize_int8(const float* w, std::int64_t n, std::int64_t k);
Int4Weights quantize_int4(const float* w, std::int64_t n, std::int64_t k);

// [n, k] row-major floats, exactly q·s (products of an integer and an fp16 value, exact in fp32).
std::vector<float> dequantize(const Int8Weights& w);
std::vector<float> dequantize(const Int4Weights& w);

}  // namespace vramfit
