// backend/cuda/kernels/pose_decode.cuh — the Detect/Pose head's decoding (graph.h PoseDecode; CPU
// reference backend/cpu/ops.h pose_decode, which states the formulas: DFL softmax expectation per box
// side, dist2bbox to xywh times the stride, sigmoid class scores, keypoints (k·2 + cell)·stride and
// sigmoid visibility; Ultralytics head.py Detect._inference / Pose.kpts_decode).
//
// In: per level box [B, 4·r, H, W], cls [B, nc, H, W], kpt [B, K·D, H, W] (NCHW or NHWC, the head's
// convolution outputs, read in place — no concatenation), the DFL bins [r]. Out: y [B, 4 + nc + K·D, A]
// (plain, anchors fastest: Ultralytics' layout), A = Σ H·W. One thread per (image, anchor): it reads the
// anchor's 4·r + nc + K·D values and writes as many, so consecutive threads write consecutive anchors
// (coalesced); NCHW reads are coalesced too, NHWC reads are per-pixel rows (L2-served). fp32 math
// (expf for the softmax and sigmoid), one rounding on store. ≤ 4 levels, reg_max ≤ 32.
// Bytes moved: read and write B·A·(4·r + nc + K·D)·s and B·A·(4 + nc + K·D)·s.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels {

struct PoseDecodeLevel {
  const void* box = nullptr;
  const void* cls = nullptr;
  const void* kpt = nullptr;  // null when kpt_count is 0
  std::int64_t h = 1, w = 1, stride = 1;
};

struct PoseDecodeDims {
  std::int64_t batch = 1, num_classes = 1, reg_max = 16, kpt_count = 17, kpt_dims = 3;
};

void pose_decode(DType dtype, Layout layout, const std::vector<PoseDecodeLevel>& levels, const void* bins, void* y,
                 const PoseDecodeDims& d, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
