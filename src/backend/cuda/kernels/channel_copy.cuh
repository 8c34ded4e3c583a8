// backend/cuda/kernels/channel_copy.cuh — channel concatenation and channel slices (graph.h Concat,
// Slice; CPU reference backend/cpu/ops.h concat_channels, slice_channels), NCHW or NHWC.
//
// Both are a strided row copy: dst[r·dst_stride + dst_off + i] = src[r·src_stride + src_off + i] for
// r < rows, i < run. In NCHW a channel block of one image is contiguous (rows = images, run =
// channels·H·W); in NHWC it is a run of channels in every pixel (rows = images·H·W, run = channels).
//   concat   one copy per input into its channel offset of y
//   slice    one copy per group: channels [g·C/groups + begin, g·C/groups + end) of x → block g of y
// Pure byte moves: any 2- or 4-byte dtype, exact. 16-byte vectors when run, strides, offsets and the
// base pointers allow it (YOLO's channel counts are multiples of 8), else per element. One thread per
// vector, grid-stride. Bytes moved: 2·(elements copied)·s.
// A copy, not a view: a channel block is not batch-affine in the planner's sense (its bytes are
// strided per image), so concat and slice outputs get buffers of their own.
//
// Launch on `stream`; device pointers the caller owns; x and y must not overlap. Bad extents throw
// InvalidInput; dtypes other than f32/f16/bf16 and layouts other than NCHW/NHWC throw Unsupported.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels {

// xs[i] [batch, channels[i], plane] in `layout` → y [batch, Σ channels, plane].
void concat_channels(DType dtype, Layout layout, std::span<const void* const> xs, std::span<const std::int64_t> channels,
                     void* y, std::int64_t batch, std::int64_t plane, cudaStream_t stream);

// x [batch, channels, plane] → y [batch, groups·(end − begin), plane] (graph.h Slice).
void slice_channels(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                    std::int64_t plane, std::int64_t begin, std::int64_t end, std::int64_t groups, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
