#include "predict/train_plan.h"

#include <algorithm>
#include <fmt/format.h>
#include <set>

#include "core/error.h"
#include "core/search.h"
#include "graph/passes.h"

namespace vramfit {

std::string_view to_string(Optimizer o) { return o == Optimizer::sgd ? "sgd" : "adamw"; }

Optimizer parse_optimizer(std::string_view text) {
  if (text == "sgd") return Optimizer::sgd;
  if (text == "adamw") return Optimizer::adamw;
  throw InvalidInput(fmt::format("unknown optimizer '{}' (sgd: SGD with momentum, adamw: AdamW)", text));
}

namespace {

// Which values of node n the backward reads (the rules of train_plan.h).
void saved_by(const Graph& g, const Node& n, std::set<ValueId>& saved, std::uint64_t& stats_bytes) {
  auto input = [&](std::size_t i) {
    if (i < n.inputs.size() && g.value(n.inputs[i]).kind != ValueKind::Param) saved.insert(n.inputs[i]);
  };
  switch (n.op) {
    case OpKind::Conv2d:
    case OpKind::Linear:
    case OpKind::BatchNorm:
    case OpKind::LayerNorm:
    case OpKind::Gelu:
    case OpKind::Silu:
    case OpKind::MaxPool: input(0); break;
    case OpKind::Relu: saved.insert(n.output); break;
    case OpKind::Attention: {
      input(0);
      saved.insert(n.output);
      const Shape& y = g.value(n.output).shape;  // [B, S, E]: the log-sum-exp is [B, heads, S] fp32
      stats_bytes += static_cast<std::uint64_t>(y[0] * y[1]) * static_cast<std::uint64_t>(n.attr<AttentionAttrs>().num_heads) * 4;
      break;
    }
    default: break;  // Add, mean pooling, token and copy ops keep nothing
  }
}

}  // namespace

TrainPlan plan_training(const ModelInfo& m, Precision p, Optimizer o, std::int64_t batch, std::uint64_t workspace) {
  if (batch < 1) throw InvalidInput(fmt::format("batch must be ≥ 1, got {}", batch));
  TrainPlan t;
  t.model = m.id;
  t.precision = p;
  t.optimizer = o;
  t.batch = batch;
  t.workspace_bytes = workspace;
  if (m.family != ModelFamily::Vision) {
    t.status = Outcome::unsupported;
    t.reason = m.family == ModelFamily::Pose ? "training a detector needs its loss (box, class and keypoint terms), not implemented"
                                             : "decoder LLM training is not planned by vramfit";
    return t;
  }
  if (p != Precision::fp32 && p != Precision::fp16 && p != Precision::bf16) {
    t.status = Outcome::unsupported;
    t.reason = fmt::format("{} is an inference precision: training is planned at fp32, fp16 or bf16 (mixed precision)", to_string(p));
    return t;
  }
  Graph g = m.build(batch);
  assign_precision(g, p);  // the training graph: no folding or fusion
  const std::uint64_t compute_copy = p == Precision::fp32 ? 0 : 2;
  std::set<ValueId> saved;
  std::uint64_t stats = 0, largest_node = 0;
  for (const Value& v : g.values()) {
    if (v.kind != ValueKind::Param) continue;
    const std::uint64_t count = static_cast<std::uint64_t>(v.shape.numel());
    if (v.trainable) {
      t.parameters += count;
      t.weight_bytes += count * (4 + compute_copy);
    } else {
      t.buffer_bytes += count * 4;  // BN running statistics and fixed tensors
    }
  }
  for (const Node& n : g.nodes()) {
    saved_by(g, n, saved, stats);
    // The backward of n holds the gradient of its output and of its activation inputs, in fp32.
    std::uint64_t here = static_cast<std::uint64_t>(g.value(n.output).shape.numel()) * 4;
    for (ValueId in : n.inputs)
      if (g.value(in).kind != ValueKind::Param) here += static_cast<std::uint64_t>(g.value(in).shape.numel()) * 4;
    largest_node = std::max(largest_node, here);
  }
  for (ValueId v : saved) t.saved_bytes += value_bytes(g.value(v));
  t.saved_bytes += stats;
  // The loss: the logits (the graph's output) in fp32 for the softmax.
  if (!g.outputs().empty()) t.saved_bytes += static_cast<std::uint64_t>(g.value(g.outputs().front()).shape.numel()) * 4;
  t.gradient_bytes = t.parameters * 4;
  t.optimizer_bytes = t.parameters * (o == Optimizer::sgd ? 4 : 8);
  t.transient_bytes = 3 * largest_node;
  return t;
}

TrainFit max_training_batch(const ModelInfo& m, Precision p, Optimizer o, std::uint64_t budget, std::uint64_t workspace, std::int64_t ceiling) {
  TrainFit f;
  auto fits = [&](std::int64_t b) { return plan_training(m, p, o, b, workspace).total_bytes() <= budget; };
  f.at_max = plan_training(m, p, o, 1, workspace);
  if (f.at_max.status != Outcome::ok || !fits(1)) return f;
  const LargestFit l = largest_fit(ceiling, fits);
  f.max_batch = l.n;
  f.capped = l.capped;
  f.at_max = plan_training(m, p, o, l.n, workspace);
  return f;
}

}  // namespace vramfit
