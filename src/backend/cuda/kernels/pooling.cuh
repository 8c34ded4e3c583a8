// backend/cuda/kernels/pooling.cuh — 2-D max and average pooling, global average pooling; NCHW and
// NHWC (the layout pass stores 16-bit image activations NHWC for cuDNN's tensor-core convolutions).
//
// What they compute (torch.nn.MaxPool2d / AvgPool2d / AdaptiveAvgPool2d(1); CPU reference
// backend/cpu/ops.h max_pool2d, avg_pool2d, global_avg_pool), floor mode:
//   out_h = ⌊(in_h + 2·pad_h − kernel_h) / stride_h⌋ + 1   (same for w)
//   max: padding is −∞ (a window of padding alone — possible only when pad > kernel/2, which torch
//        rejects — gives −∞); NaN propagates like torch's.
//   avg: padding counts as zeros and every window divides by kernel_h·kernel_w (count_include_pad).
//   global: y[n, c] = mean of the H·W plane of channel c; y holds batch·channels values, which is
//        the [N, C, 1, 1] output in either layout.
// Dtypes f32, f16, bf16 (x and y the same); sums in fp32, one rounding on store.
//
// Tiling:
//   NCHW pool    one thread per output element, grid-stride; consecutive threads take consecutive
//                output columns, so the window reads of a warp are stride_w apart (coalesced enough
//                for ResNet's one 3×3/2 max pool; the window is tiny and hits L1/L2).
//   NHWC pool    one thread per output pixel and 16-byte pack of channels (8 fp16 channels) when C is
//                a multiple of the pack and pointers are aligned, else per channel; channels are the
//                fastest index, so a warp reads contiguous bytes for every window tap.
//   NCHW global  one warp per (n, c) plane: lanes stride the contiguous plane, shuffle reduction.
//   NHWC global  blocks of 32 channels × 8 pixel-rows: each warp reads 32 adjacent channels of one
//                pixel (contiguous), 8 warps split the plane, a shared-memory sum combines them.
//
// Bytes moved: pool ≈ (N·C·H·W + N·C·out_h·out_w)·s when the windows' overlap is served by cache;
//              global (N·C·H·W + N·C)·s.
// Measured on an H200: ResNet-50's stem max pool 3×3/2 on [256, 64, 112, 112] NHWC 0.26 ms fp16
// (2.0 TB/s), 0.44 ms fp32 (2.3 TB/s); NCHW 0.53 ms fp16 (0.97 TB/s — 16-bit activations are NHWC).
// Global pool [256, 2048, 7×7]: 0.047 ms NHWC, 0.058 ms NCHW fp16 (too small to reach bandwidth).
//
// Launch on `stream`; device pointers the caller owns; no scratch. x and y must not overlap.
// Bad extents throw InvalidInput; layouts other than NCHW/NHWC and other dtypes throw Unsupported.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels {

struct Pool2dDims {
  std::int64_t batch = 1, channels = 1, in_h = 1, in_w = 1;
  std::int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;

  std::int64_t out_h() const { return (in_h + 2 * pad_h - kernel_h) / stride_h + 1; }
  std::int64_t out_w() const { return (in_w + 2 * pad_w - kernel_w) / stride_w + 1; }
  // InvalidInput unless extents, kernel and stride are positive, padding ≥ 0 and the output ≥ 1×1.
  void validate(const char* op) const;
};

// x in `layout` (NCHW or NHWC) with d's extents → y [N, C, out_h, out_w] in the same layout.
void max_pool2d(DType dtype, Layout layout, const void* x, void* y, const Pool2dDims& d, cudaStream_t stream);
void avg_pool2d(DType dtype, Layout layout, const void* x, void* y, const Pool2dDims& d, cudaStream_t stream);

// x [N, C, plane] (NCHW) or [N, plane, C] (NHWC), plane = H·W → y [N, C].
void global_avg_pool(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch,
                     std::int64_t channels, std::int64_t plane, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
