// backend/cpu/train.h — one training step of a classifier graph on the CPU (issue 20): the forward in
// training mode, softmax cross-entropy against labels, the backward of every node (the graph's
// backward half), and an optimizer step. The reference the CUDA training step will be tested against.
//
// The graph is the builder's training-shaped one (models/: batch norm not folded; run
// assign_precision at most — no fusion is needed, though a fused bias, residual or activation of a
// Conv2d/Linear/Add is handled). Batch norm normalises with the batch statistics and (when asked)
// updates its running statistics in the weight map, momentum 0.1, as torch's train() mode does.
// Everything is fp32. YOLO's ops have no backward here (their loss is not implemented): Unsupported.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"
#include "core/tensor_map.h"
#include "graph/graph.h"

namespace vramfit::cpu {

struct LossAndGradients {
  double loss = 0;     // mean softmax cross-entropy over the batch
  TensorMap gradients;  // one per trainable parameter, by value name
  Tensor input_gradient;  // ∂loss/∂input (tests check it; a step does not need it)
};

// `input` is the graph's one input; labels one per row of its [batch, classes] output.
// update_running_stats: write batch norm's running mean/var back into `weights`.
LossAndGradients loss_and_gradients(const Graph& g, TensorMap& weights, const Tensor& input, std::span<const std::int64_t> labels,
                                    bool update_running_stats = true);

// The forward in training mode and the loss only (batch statistics, nothing written).
double training_loss(const Graph& g, const TensorMap& weights, const Tensor& input, std::span<const std::int64_t> labels);

enum class OptimizerKind { sgd, adamw };
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::adamw;
  float lr = 1e-3f, momentum = 0.9f, weight_decay = 0.0f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
};
// What the optimizer keeps between steps: the step count and per parameter SGD's momentum buffer (m)
// or AdamW's two moments (m, v).
struct OptimizerState {
  std::int64_t step = 0;
  TensorMap m, v;
};
// Applies one step to every parameter that has a gradient (backward.h's sgd_momentum_step / adamw_step).
void optimizer_step(TensorMap& weights, const TensorMap& gradients, const OptimizerConfig& c, OptimizerState& state);

}  // namespace vramfit::cpu
