// backend/cuda/kernels/llm_random.cuh — seeded random weights generated on the GPU, so a 7B model sets
// up in seconds without a host round trip, in the exact formats the LLM session runs.
//
// What it computes: element i of a tensor with stream id `stream` (core/rng.h stream_id of its HF name)
// is w_i = offset + scale·N_i with N_i = normal01(seed, stream, index0 + i) — core/rng.h's SplitMix64
// counter mix and Box–Muller in double, then fp32, exactly as the host computes it (models/
// decoder_weights.h random_decoder_weights); offset + scale·N is one fp32 multiply and one add, never
// fused, as on the host. So the GPU weights equal the host ones rounded to the stored type.
//   random_fill:        16-bit or fp32 storage of w_i (one rounding).
//   random_fill_int8:   rows [n, k] quantized as weights/quant_int.h quantize_int8 does it (fp16 scale
//                       of max|w|/127 per row, q = clamp(rint(w/s), −127, 127)).
//   random_fill_int4:   the same for int4 (groups of 128, /7, clamp −8…7, nibbles q + 8, low = even k).
//   random_fill_gguf:   rows [n, k] as GGUF blocks (weights/gguf_quant.h layouts): q8_0 and q4_0 with
//                       ggml's reference quantizer arithmetic (bit-identical to gguf_quantize of the
//                       same values); q4_k and q6_k with a simple min/max (absmax) quantizer per
//                       sub-block — valid blocks of these values, not the CPU's least-squares search.
// Row r of the quantized rows is element row (index0/k + r) of the source tensor, so the stacked
// q|k|v and gate|up matrices are filled source by source at a row offset.
//
// Tiling: random_fill is grid-stride (one element per thread per step); the quantizers give a row
// (int8: 256 threads, two passes regenerating the row — generation is cheaper than a k-float buffer)
// or a 128-wide group (int4: one thread per column, a warp-shuffle/shared max) to a block.
// Launch on `stream`; no scratch. InvalidInput on bad extents.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

struct RandomSpec {
  std::uint64_t seed = 0, stream = 0, index0 = 0;
  float offset = 0.0f, scale = 1.0f;
};

void random_fill(DType dtype, void* out, std::int64_t count, const RandomSpec& r, cudaStream_t stream);
// q: [n, k] int8; scale: [n] fp16 bits.
void random_fill_int8(std::int8_t* q, std::uint16_t* scale, std::int64_t n, std::int64_t k, const RandomSpec& r,
                      cudaStream_t stream);
// packed: [n, k/2]; scale: [n, k/128] fp16 bits. k % 128 = 0.
void random_fill_int4(std::uint8_t* packed, std::uint16_t* scale, std::int64_t n, std::int64_t k, const RandomSpec& r,
                      cudaStream_t stream);

// blocks: [n, k] in a GGUF block type (q8_0, q4_0, q4_k, q6_k); k a multiple of the block.
void random_fill_gguf(DType dtype, void* blocks, std::int64_t n, std::int64_t k, const RandomSpec& r, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
