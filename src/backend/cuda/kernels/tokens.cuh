// backend/cuda/kernels/tokens.cuh — the ViT token plumbing between the patch convolution and the
// encoder, and at its end (graph.h PatchFlatten, ConcatClassToken, AddPositional, TakeToken).
//
// patch_flatten        x [B, C, H, W] (NCHW) → y [B, H·W, C]: torch's x.flatten(2).transpose(1, 2).
//                      Byte-for-byte the NCHW → NHWC transpose, so it is layout.cuh's nchw_to_nhwc
//                      (32×32 shared-memory tiles). When the patch conv already wrote NHWC the graph
//                      makes this node a view and nothing runs. Bytes moved: 2·B·C·H·W·s.
// class_token_positional
//                      the two embedding steps fused into one pass:
//                        with cls and pos:  y [B, S+1, E] = concat(cls, x) + pos  (pos [S+1, E])
//                        cls only:          y [B, S+1, E] = concat(cls, x)
//                        pos only:          y [B, S, E]   = x + pos               (pos [S, E])
//                      cls [E] is token 0 of every image (the graph's [1, 1, E] parameter). Sum in
//                      fp32, one rounding. In place (y == x) only without cls (the rows shift by
//                      one token otherwise); InvalidInput if asked. Bytes moved: (B·S·E + B·S'·E +
//                      S'·E + E)·s, S' the output sequence.
// take_token           x [B, S, E] → y [B, E] = x[:, index, :] (ViT's class-token head).
//                      Bytes moved: 2·B·E·s.
//
// Tiling: grid-stride loops over 16-byte packs when E is a multiple of the pack (8 for 16-bit, 4 for
// fp32 — ViT's 768 and 1024 are) and the pointers are aligned, else per element; E is the fastest
// index so a warp's accesses are contiguous. Dtypes f32, f16, bf16. Launch on `stream`, device
// pointers the caller owns, no scratch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

void patch_flatten(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t channels, std::int64_t h,
                   std::int64_t w, cudaStream_t stream);

// cls may be null (no class token), pos may be null (no positional embedding); not both.
// seq is x's sequence length S.
void class_token_positional(DType dtype, const void* x, const void* cls, const void* pos, void* y,
                            std::int64_t batch, std::int64_t seq, std::int64_t embed, cudaStream_t stream);

void take_token(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t seq, std::int64_t embed,
                std::int64_t index, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
