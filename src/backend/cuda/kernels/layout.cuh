// backend/cuda/kernels/layout.cuh — moving and converting bytes: NCHW ↔ NHWC, dtype casts, and
// the seeded normal fill that makes GPU-generated weights equal the CPU's.
//
// nchw_to_nhwc / nhwc_to_nchw
//   x [N, C, P] ↔ y [N, P, C] with P = H·W: per image a [C, P] ↔ [P, C] matrix transpose. Any dtype
//   whose elements are 1, 2 or 4 bytes (f32, f16, bf16, fp8_e4m3, i8, i32): only bytes move. Packed
//   and block types (i4, GGUF blocks) throw Unsupported.
//   Tiling: 32×32 tiles through shared memory (rows padded to 33 elements, so the transposed read
//   of a column does not hit one bank 32 times), blocks of 32×8 threads each moving 4 elements, so
//   both the global read and the global write are row-contiguous. Grid (⌈P/32⌉ or ⌈C/32⌉ tiles,
//   tiles, images) with the last two looped past 65535. When C or P is ≤ 8 (an RGB input image) a
//   tile would idle most lanes, so one thread moves the few elements of one index of the long side
//   instead (coalesced on both sides all the same).
//   Bytes moved: 2·N·C·P·s. Measured on an H200: [256, 64, 112·112] 0.48 ms fp32 (3.4 TB/s), 0.40 ms
//   fp16 (2.0 TB/s); the RGB input [256, 3, 224·224] 0.16 ms fp32, 0.096 ms fp16 (1.6 TB/s).
//
// cast
//   y[i] = x[i] converted between f32, f16 and bf16 (all six directions; same dtype is a copy).
//   Narrowing rounds to nearest even (core/half.h's float_to_half_bits / float_to_bf16_bits do the
//   same on the host), so a weight cast on the GPU equals one cast on the CPU bit for bit.
//   Tiling: grid-stride over groups of 8 elements (one or two 16-byte accesses per side) when both
//   pointers are 16-byte aligned, else per element. Bytes moved: n·(s_in + s_out). Measured: f32 → f16
//   and f32 → bf16 at 4.1 TB/s on an H200.
//
// fill_normal
//   y[i] = offset + scale·(absolute ? |z| : z),  z = normal01(seed, stream_id, first_index + i),
//   stored as `dtype` (round to nearest even). This is core/rng.h's generator reproduced in device
//   code: r = splitmix64(splitmix64(seed ^ splitmix64(stream_id)) + index) (the same constexpr
//   splitmix64 the CPU calls); u1 = (r>>32 + 1)/2^32 ∈ (0, 1], u2 = (r & 0xffffffff)/2^32 ∈ [0, 1);
//   z = (float)(√(−2 ln u1) · cos(2π·u2)), all in double as on the CPU (Box–Muller, one normal per
//   index). The integer part and every double operation but ln and cos are exactly rounded on both
//   sides and written so the compiler cannot contract them into FMAs; CUDA's double log (≤ 1 ulp) and
//   cos (≤ 2 ulp) may differ from glibc's in the last bit of the double, which changes the float
//   result only when the double lies within ~2 ulp of a float rounding boundary (≈ 1 value in 10⁸).
//   offset + scale·z is evaluated in fp32 with explicit round-to-nearest multiply then add (no FMA),
//   as weights/random_init.cpp does on the host. One thread per element; bytes moved n·s, but the
//   double-precision log/cos make it compute-bound: 137 G values/s on an H200 (155 M values in
//   1.13 ms; ViT-B/16's 86 M parameters would take ~0.6 ms). Verified there: 0 of 3.1 M values
//   differ from core/rng.h, in f32, f16 and bf16.
//
// All launches on `stream`; device pointers the caller owns; no scratch; x and y must not overlap
// (transpose, cast).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

// x [batch, channels, plane] → y [batch, plane, channels].
void nchw_to_nhwc(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                  std::int64_t plane, cudaStream_t stream);
// x [batch, plane, channels] → y [batch, channels, plane].
void nhwc_to_nchw(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                  std::int64_t plane, cudaStream_t stream);

void cast(DType from, DType to, const void* x, void* y, std::int64_t n, cudaStream_t stream);

// weights/random_init.cpp's per-role rule: value = offset + scale · (absolute ? |z| : z).
struct NormalFill {
  std::uint64_t seed = 0;
  std::uint64_t stream_id = 0;    // core/rng.h stream_id(parameter name)
  std::uint64_t first_index = 0;  // index of y[0] in the stream (to fill a slice)
  float offset = 0.0f;
  float scale = 1.0f;
  bool absolute = false;
};

void fill_normal(DType dtype, void* y, std::int64_t n, const NormalFill& f, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
