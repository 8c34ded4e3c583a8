// predict/train_plan.h — what a training step of a vision classifier holds in memory (issue 20):
// `vramfit plan --train`. A PLAN from stated rules, not yet confirmed by running: vramfit's CUDA
// training step is not implemented (the CPU reference of every backward op is, backend/cpu/backward.h),
// so every output says "planned, not confirmed".
//
// The step, as the mixed-precision recipe people train with today (PyTorch AMP with fp32 master
// weights; fp32 throughout for fp32):
//   weights      fp32 master copy (4 B/parameter) + the compute copy in the activation dtype (2 B for
//                fp16/bf16, none for fp32); BN running statistics (buffers) in fp32
//   gradients    fp32, 4 B/parameter
//   optimizer    SGD with momentum: one fp32 buffer (4 B/parameter); AdamW: two (8 B/parameter)
//   saved        the activations the backward reads, each value once, in the activation dtype, on the
//                un-fused training graph (batch norm not folded):
//                  Conv2d, Linear, BatchNorm, LayerNorm, GELU, SiLU, MaxPool: their input
//                  ReLU: its output;  Attention: its input (q|k|v) and output (a flash-style backward
//                  recomputes the scores: no S×S matrix) plus the fp32 log-sum-exp per row and head
//                  the loss: the logits (fp32 softmax)
//                  Add, pooling by mean, token and copy ops: nothing
//   transient    during the backward, the gradient of a node's output and of its inputs at once, plus
//                the gradient held for a skip connection: 3 × the largest (output + inputs) of a node,
//                in fp32 — a bound, not a liveness schedule
//   workspace    the cuDNN/cuBLASLt budget, as inference
// Detection models (YOLO) are not covered: their loss (box, class and keypoint terms with target
// assignment) is not implemented.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/outcome.h"
#include "models/registry.h"

namespace vramfit {

enum class Optimizer { sgd, adamw };
std::string_view to_string(Optimizer o);
Optimizer parse_optimizer(std::string_view text);  // "sgd" | "adamw"; InvalidInput otherwise

struct TrainPlan {
  std::string model;
  Precision precision = Precision::fp32;
  Optimizer optimizer = Optimizer::adamw;
  std::int64_t batch = 1;
  Outcome status = Outcome::ok;  // unsupported: not a classifier, or a precision training does not use
  std::string reason;
  std::uint64_t parameters = 0;
  std::uint64_t weight_bytes = 0, buffer_bytes = 0, gradient_bytes = 0, optimizer_bytes = 0, saved_bytes = 0,
                transient_bytes = 0, workspace_bytes = 0;
  std::uint64_t total_bytes() const {
    return weight_bytes + buffer_bytes + gradient_bytes + optimizer_bytes + saved_bytes + transient_bytes + workspace_bytes;
  }
};

// Throws InvalidInput for batch < 1.
TrainPlan plan_training(const ModelInfo& m, Precision p, Optimizer o, std::int64_t batch, std::uint64_t workspace);

struct TrainFit {
  std::int64_t max_batch = 0;  // 0: not even batch 1
  TrainPlan at_max;            // at max_batch (at batch 1 when 0)
  bool capped = false;         // the ceiling was reached
};
// Largest batch ≤ ceiling whose plan fits `budget` (the plan grows with the batch: exponential then
// binary search).
TrainFit max_training_batch(const ModelInfo& m, Precision p, Optimizer o, std::uint64_t budget, std::uint64_t workspace,
                            std::int64_t ceiling = 1 << 16);

}  // namespace vramfit
