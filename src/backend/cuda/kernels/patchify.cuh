// backend/cuda/kernels/patchify.cuh — non-overlapping p×p patches as rows (OpKind Patchify).
//
// y[b, i·(W/p) + j, c·p² + u·p + v] = x[b, c, i·p + u, j·p + v] (logical NCHW; x stored NCHW or NHWC).
// With the convolution weight [O, C, p, p] read as [O, C·p²], y·Wᵀ is the p×p/p convolution, so ViT's
// patch embedding runs as one cuBLASLt GEMM (graph/passes.h patchify_convolutions).
// Memory-bound gather: one thread per output element, writes coalesced; reads from an NHWC input are
// C elements apart for consecutive v (3 for images: within the same sectors). Bytes: read + write
// B·C·H·W elements once each (77 MB for ViT-B/16 at batch 256 in fp16).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels {

void patchify(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch, std::int64_t channels,
              std::int64_t h, std::int64_t w, std::int64_t patch, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
