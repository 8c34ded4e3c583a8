// models/yolo11_pose.h — Ultralytics YOLO11 pose (keypoint) models, scales n, s, m, l, x, built from the
// published structure with Ultralytics' state-dict names so a checkpoint binds by name
// (model.N.cv1.conv.weight, model.N.cv1.bn.running_mean, …, model.23.dfl.conv.weight).
//
// Sources (read, not copied): ultralytics/cfg/models/11/yolo11-pose.yaml (layer list, scales
// [depth, width, max_channels]: n [0.50, 0.25, 1024], s [0.50, 0.50, 1024], m [0.50, 1.00, 512],
// l [1.00, 1.00, 512], x [1.00, 1.50, 512]); ultralytics/nn/tasks.py parse_model (channels
// make_divisible(min(c, max_channels)·width, 8), repeats max(round(n·depth), 1), C3k2's c3k forced on for
// m/l/x); ultralytics/nn/modules/{conv,block,head}.py (Conv = Conv2d(bias=False) + BatchNorm2d + SiLU,
// DWConv, Bottleneck, C2f/C3k2, C3/C3k, SPPF, Attention/PSABlock/C2PSA, DFL, Detect, Pose);
// ultralytics/utils/torch_utils.py initialize_weights (BatchNorm eps 1e-3).
//
// Graph: input [B, 3, H, W] (H, W multiples of 32) → backbone → neck → Pose head. The head's raw maps
// feed one PoseDecode node whose output [B, 4 + nc + K·D, A] (A = Σ H/s·W/s over strides 8, 16, 32;
// 8400 at 640) is what Ultralytics' model returns in eval mode (boxes xywh in pixels, sigmoid class
// scores, decoded keypoints). With `with_nms`, an Nms node follows ([B, max_det, 6 + K·D]); with
// `raw_outputs`, the graph ends at the head's nine maps (what to time as "forward only").
// The published pose checkpoints have one class (person, COCO keypoints): num_classes defaults to 1;
// the yaml's own nc is 80.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace vramfit {

struct Yolo11PoseConfig {
  char scale = 'n';
  double depth_multiple = 0.50, width_multiple = 0.25;
  std::int64_t max_channels = 1024;
  std::int64_t num_classes = 1;
  std::int64_t kpt_count = 17, kpt_dims = 3;
  std::int64_t image_h = 640, image_w = 640;  // any positive multiples of 32
  bool with_nms = false;                      // append NMS after decoding
  bool raw_outputs = false;                   // stop before decoding: the 9 head maps (box, cls, kpt per
                                              // level) are the outputs — the network's forward pass alone
  NmsAttrs nms;                               // num_classes is taken from the config
};

// 'n', 's', 'm', 'l', 'x' (either case); else InvalidInput.
Yolo11PoseConfig yolo11_pose_preset(char scale);
Graph build_yolo11_pose(const Yolo11PoseConfig& c, std::int64_t batch, std::string name = "yolo11-pose");

// Trainable parameters per top-level layer model.0 … model.23 (Ultralytics' model summary "params"
// column; BN running statistics are buffers and not counted, the DFL bins are).
std::vector<std::uint64_t> yolo_layer_parameter_counts(const Graph& g);

}  // namespace vramfit
