// backend/cuda/kernels/nms.cuh — greedy non-maximum suppression on the GPU, one block per image
// (graph.h Nms; CPU reference backend/cpu/ops.h nms, which states the rules: Ultralytics'
// non_max_suppression single-label path with torchvision.ops.nms's IoU).
//
// In: pred [B, 4 + nc + E, A] (cx, cy, w, h, class scores, E extras; anchors fastest). Out:
// y [B, max_det, 6 + E]: x1 y1 x2 y2 conf class extras, best first, the rest zero.
// Algorithm (no sort, no scratch memory): a block of 1024 threads holds one key per anchor in shared
// memory — its confidence (max class score) if it is a live candidate (conf > threshold), else −∞.
// Then, until max_det boxes are kept or no candidate is left: a block-wide argmax (ties → the lower
// anchor, the CPU's stable order) picks the best live candidate, which is written out and killed; in
// the same sweep every live candidate of the same class (any class when agnostic) whose IoU with it
// exceeds the threshold is killed, and the next argmax is formed from the survivors. That is greedy NMS
// in descending score order — what torchvision.ops.nms does after its sort — so the kept set and
// order equal the CPU reference's. IoU is evaluated with explicitly rounded fp32 operations (no FMA
// contraction), in the CPU reference's order, so both decide a comparison identically.
// Cost: one sweep of A/1024 anchors per kept box (≤ max_det sweeps), boxes read from L2. Shared memory
// 4·A bytes (33 KiB at 640², 8400 anchors); A·4 beyond the device's opt-in shared memory (227 KiB on
// sm_90: ~58 000 anchors, a 1664² input) is Unsupported (nms_unsupported is the gate).
// Not reproduced (as on the CPU): the max_nms = 30000 cap on candidates, and the max_wh class offset.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

struct NmsDims {
  std::int64_t batch = 1, channels = 5, anchors = 1, num_classes = 1, max_det = 300;
  float conf_threshold = 0.25f, iou_threshold = 0.7f;
  bool agnostic = false;
};

std::optional<std::string> nms_unsupported(DType dtype, std::int64_t anchors);

void nms(DType dtype, const void* pred, void* y, const NmsDims& d, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
