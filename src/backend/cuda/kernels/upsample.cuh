// backend/cuda/kernels/upsample.cuh — nearest-neighbour upsampling by an integer factor (graph.h
// Upsample; torch nn.Upsample(scale_factor=s, mode="nearest"); CPU reference backend/cpu/ops.h
// upsample_nearest): y[n, c, i, j] = x[n, c, ⌊i/s⌋, ⌊j/s⌋]. NCHW or NHWC, any 2- or 4-byte dtype (a
// byte copy, exact).
// Tiling: NCHW one thread per output element (consecutive threads, consecutive columns); NHWC one thread
// per output pixel and 16-byte vector of channels when C·s and the pointers allow (else per element),
// so a warp reads and writes contiguous channel runs. Grid-stride. Bytes moved: (1 + s²)·N·C·H·W·elt.
// Launch on `stream`; x and y must not overlap. Bad extents throw InvalidInput; other dtypes/layouts
// Unsupported.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels {

void upsample_nearest(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                      std::int64_t h, std::int64_t w, std::int64_t scale, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
