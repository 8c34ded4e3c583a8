#include "graph/graph.h"

#include <algorithm>
#include <fmt/format.h>
#include <unordered_set>

#include "core/error.h"

namespace vramfit {

std::string_view to_string(OpKind op) {
  switch (op) {
    case OpKind::Conv2d: return "conv2d";
    case OpKind::BatchNorm: return "batch_norm";
    case OpKind::Relu: return "relu";
    case OpKind::Gelu: return "gelu";
    case OpKind::Silu: return "silu";
    case OpKind::MaxPool: return "max_pool";
    case OpKind::AvgPool: return "avg_pool";
    case OpKind::GlobalAvgPool: return "global_avg_pool";
    case OpKind::Add: return "add";
    case OpKind::Linear: return "linear";
    case OpKind::LayerNorm: return "layer_norm";
    case OpKind::Attention: return "attention";
    case OpKind::ConcatClassToken: return "concat_class_token";
    case OpKind::AddPositional: return "add_positional";
    case OpKind::PatchFlatten: return "patch_flatten";
    case OpKind::Flatten: return "flatten";
    case OpKind::TakeToken: return "take_token";
    case OpKind::Patchify: return "patchify";
    case OpKind::Upsample: return "upsample";
    case OpKind::Concat: return "concat";
    case OpKind::Slice: return "slice";
    case OpKind::SpatialAttention: return "spatial_attention";
    case OpKind::PoseDecode: return "pose_decode";
    case OpKind::Nms: return "nms";
  }
  return "?";
}

std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::Relu: return "relu";
    case Activation::Gelu: return "gelu";
    case Activation::Silu: return "silu";
  }
  return "?";
}

std::int64_t Graph::batch() const {
  VRAMFIT_CHECK(!inputs_.empty(), "graph has no input");
  return value(inputs_.front()).shape[0];
}

std::vector<ValueId> Graph::params() const {
  std::vector<ValueId> out;
  for (const auto& v : values_)
    if (v.kind == ValueKind::Param) out.push_back(v.id);
  return out;
}

std::optional<ValueId> Graph::find_value(std::string_view name) const {
  for (const auto& v : values_)
    if (v.name == name) return v.id;
  return std::nullopt;
}

std::vector<NodeId> Graph::consumers(ValueId v) const {
  std::vector<NodeId> out;
  for (const auto& n : nodes_)
    if (std::find(n.inputs.begin(), n.inputs.end(), v) != n.inputs.end()) out.push_back(n.id);
  return out;
}

ValueId Graph::new_value(std::string name, Shape shape, ValueKind kind) {
  Value v;
  v.id = static_cast<ValueId>(values_.size());
  v.name = std::move(name);
  v.shape = std::move(shape);
  v.kind = kind;
  if (kind != ValueKind::Param && v.shape.rank() == 4) v.layout = Layout::NCHW;
  values_.push_back(std::move(v));
  return values_.back().id;
}

ValueId Graph::add_input(std::string name, Shape shape) {
  const ValueId id = new_value(std::move(name), std::move(shape), ValueKind::Input);
  inputs_.push_back(id);
  return id;
}

ValueId Graph::add_param(std::string name, Shape shape, ParamRole role, bool trainable) {
  const ValueId id = new_value(std::move(name), std::move(shape), ValueKind::Param);
  value(id).role = role;
  value(id).trainable = trainable;
  return id;
}

ValueId Graph::add_node(OpKind op, std::string name, std::vector<ValueId> inputs, Attrs attrs) {
  Node n;
  n.id = static_cast<NodeId>(nodes_.size());
  n.op = op;
  n.name = std::move(name);
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  for (ValueId in : n.inputs)
    if (in < 0 || static_cast<std::size_t>(in) >= values_.size())
      throw InternalError(fmt::format("node '{}' reads unknown value {}", n.name, in));
  Shape s = infer(n);
  const ValueId out = new_value(n.name, std::move(s), ValueKind::Activation);
  value(out).producer = n.id;
  n.output = out;
  nodes_.push_back(std::move(n));
  return out;
}

ValueId Graph::add_conv2d(std::string name, ValueId x, const Conv2dAttrs& a) {
  const Shape& xs = value(x).shape;
  if (xs.rank() != 4) throw InvalidInput(fmt::format("{}: conv2d needs a 4-D input, got {}", name, xs.to_string()));
  if (a.groups <= 0 || xs[1] % a.groups || a.out_channels % a.groups)
    throw InvalidInput(fmt::format("{}: channels {}→{} not divisible by groups {}", name, xs[1], a.out_channels, a.groups));
  std::vector<ValueId> in{x, add_param(name + ".weight", Shape{a.out_channels, xs[1] / a.groups, a.kernel_h, a.kernel_w}, ParamRole::Weight)};
  if (a.has_bias) in.push_back(add_param(name + ".bias", Shape{a.out_channels}, ParamRole::Bias));
  return add_node(OpKind::Conv2d, std::move(name), std::move(in), a);
}

ValueId Graph::add_batchnorm(std::string name, ValueId x, float eps) {
  const std::int64_t c = value(x).shape[1];
  std::vector<ValueId> in{x,
                          add_param(name + ".weight", Shape{c}, ParamRole::NormScale),
                          add_param(name + ".bias", Shape{c}, ParamRole::NormShift),
                          add_param(name + ".running_mean", Shape{c}, ParamRole::BnMean, false),
                          add_param(name + ".running_var", Shape{c}, ParamRole::BnVar, false)};
  return add_node(OpKind::BatchNorm, std::move(name), std::move(in), BatchNormAttrs{eps});
}

ValueId Graph::add_unary(std::string name, OpKind op, ValueId x) {
  VRAMFIT_CHECK(op == OpKind::Relu || op == OpKind::Gelu || op == OpKind::Silu, "not a unary op");
  return add_node(op, std::move(name), {x}, NoAttrs{});
}

ValueId Graph::add_pool(std::string name, OpKind op, ValueId x, const PoolAttrs& a) {
  VRAMFIT_CHECK(op == OpKind::MaxPool || op == OpKind::AvgPool, "not a pool op");
  return add_node(op, std::move(name), {x}, a);
}

ValueId Graph::add_global_avg_pool(std::string name, ValueId x) {
  return add_node(OpKind::GlobalAvgPool, std::move(name), {x}, NoAttrs{});
}

ValueId Graph::add_add(std::string name, ValueId a, ValueId b, Activation act) {
  return add_node(OpKind::Add, std::move(name), {a, b}, AddAttrs{act});
}

ValueId Graph::add_linear(std::string name, ValueId x, std::int64_t out_features, bool bias, Activation act) {
  const std::int64_t k = value(x).shape.back();
  const ValueId w = add_param(name + ".weight", Shape{out_features, k}, ParamRole::Weight);
  std::optional<ValueId> b;
  if (bias) b = add_param(name + ".bias", Shape{out_features}, ParamRole::Bias);
  return add_linear_with(std::move(name), x, w, b, act);
}

ValueId Graph::add_linear_with(std::string name, ValueId x, ValueId weight, std::optional<ValueId> bias, Activation act) {
  LinearAttrs a;
  a.out_features = value(weight).shape[0];
  a.has_bias = bias.has_value();
  a.act = act;
  std::vector<ValueId> in{x, weight};
  if (bias) in.push_back(*bias);
  return add_node(OpKind::Linear, std::move(name), std::move(in), a);
}

ValueId Graph::add_layernorm(std::string name, ValueId x, float eps) {
  const std::int64_t e = value(x).shape.back();
  std::vector<ValueId> in{x, add_param(name + ".weight", Shape{e}, ParamRole::NormScale),
                          add_param(name + ".bias", Shape{e}, ParamRole::NormShift)};
  return add_node(OpKind::LayerNorm, std::move(name), std::move(in), LayerNormAttrs{eps});
}

ValueId Graph::add_attention(std::string name, ValueId qkv, std::int64_t num_heads) {
  return add_node(OpKind::Attention, std::move(name), {qkv}, AttentionAttrs{num_heads});
}

ValueId Graph::add_concat_class_token(std::string name, ValueId x, ValueId cls) {
  return add_node(OpKind::ConcatClassToken, std::move(name), {x, cls}, NoAttrs{});
}

ValueId Graph::add_positional(std::string name, ValueId x, ValueId pos) {
  return add_node(OpKind::AddPositional, std::move(name), {x, pos}, NoAttrs{});
}

ValueId Graph::add_patch_flatten(std::string name, ValueId x) {
  return add_node(OpKind::PatchFlatten, std::move(name), {x}, NoAttrs{});
}

ValueId Graph::add_flatten(std::string name, ValueId x) {
  return add_node(OpKind::Flatten, std::move(name), {x}, NoAttrs{});
}

ValueId Graph::add_take_token(std::string name, ValueId x, std::int64_t index) {
  return add_node(OpKind::TakeToken, std::move(name), {x}, TakeTokenAttrs{index});
}

ValueId Graph::add_upsample(std::string name, ValueId x, std::int64_t scale) {
  return add_node(OpKind::Upsample, std::move(name), {x}, UpsampleAttrs{scale});
}

ValueId Graph::add_concat(std::string name, std::vector<ValueId> xs) {
  return add_node(OpKind::Concat, std::move(name), std::move(xs), NoAttrs{});
}

ValueId Graph::add_slice(std::string name, ValueId x, std::int64_t begin, std::int64_t end, std::int64_t groups) {
  return add_node(OpKind::Slice, std::move(name), {x}, SliceAttrs{begin, end, groups});
}

ValueId Graph::add_spatial_attention(std::string name, ValueId qkv, const SpatialAttentionAttrs& a) {
  return add_node(OpKind::SpatialAttention, std::move(name), {qkv}, a);
}

ValueId Graph::add_pose_decode(std::string name, std::vector<ValueId> inputs, const PoseDecodeAttrs& a) {
  return add_node(OpKind::PoseDecode, std::move(name), std::move(inputs), a);
}

ValueId Graph::add_nms(std::string name, ValueId decoded, const NmsAttrs& a) {
  return add_node(OpKind::Nms, std::move(name), {decoded}, a);
}

void Graph::mark_output(ValueId v) { outputs_.push_back(v); }

void Graph::infer_shapes() {
  for (auto& n : nodes_) value(n.output).shape = infer(n);
}

void Graph::set_batch(std::int64_t batch) {
  if (batch <= 0) throw InvalidInput(fmt::format("batch must be ≥ 1, got {}", batch));
  for (ValueId in : inputs_) value(in).shape[0] = batch;
  infer_shapes();
}

void Graph::replace_uses(ValueId from, ValueId to) {
  for (auto& n : nodes_)
    for (auto& in : n.inputs)
      if (in == from) in = to;
  for (auto& o : outputs_)
    if (o == from) o = to;
}

void Graph::erase_nodes(const std::vector<NodeId>& dead) {
  std::unordered_set<NodeId> dead_set(dead.begin(), dead.end());
  std::vector<Node> kept;
  for (auto& n : nodes_)
    if (!dead_set.count(n.id)) kept.push_back(std::move(n));
  // Values still referenced: inputs, outputs, node inputs and outputs.
  std::vector<bool> used(values_.size(), false);
  for (ValueId v : inputs_) used[static_cast<std::size_t>(v)] = true;
  for (ValueId v : outputs_) used[static_cast<std::size_t>(v)] = true;
  for (const auto& n : kept) {
    used[static_cast<std::size_t>(n.output)] = true;
    for (ValueId v : n.inputs) used[static_cast<std::size_t>(v)] = true;
  }
  std::vector<ValueId> remap(values_.size(), kNoValue);
  std::vector<Value> new_values;
  for (auto& v : values_) {
    if (!used[static_cast<std::size_t>(v.id)]) continue;
    remap[static_cast<std::size_t>(v.id)] = static_cast<ValueId>(new_values.size());
    v.id = static_cast<ValueId>(new_values.size());
    new_values.push_back(std::move(v));
  }
  auto rv = [&](ValueId v) { return remap.at(static_cast<std::size_t>(v)); };
  for (std::size_t i = 0; i < kept.size(); ++i) {
    kept[i].id = static_cast<NodeId>(i);
    for (auto& in : kept[i].inputs) in = rv(in);
    kept[i].output = rv(kept[i].output);
  }
  for (auto& v : new_values) v.producer = kNoNode;
  for (const auto& n : kept) new_values[static_cast<std::size_t>(n.output)].producer = n.id;
  for (auto& v : inputs_) v = rv(v);
  for (auto& v : outputs_) v = rv(v);
  nodes_ = std::move(kept);
  values_ = std::move(new_values);
  validate();
}

void Graph::validate() const {
  std::vector<bool> defined(values_.size(), false);
  for (const auto& v : values_) {
    VRAMFIT_CHECK(static_cast<std::size_t>(v.id) < values_.size() && &values_[static_cast<std::size_t>(v.id)] == &v, "value id");
    if (v.kind != ValueKind::Activation) defined[static_cast<std::size_t>(v.id)] = true;
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    VRAMFIT_CHECK(n.id == static_cast<NodeId>(i), "node id");
    for (ValueId in : n.inputs)
      VRAMFIT_CHECK(defined.at(static_cast<std::size_t>(in)), fmt::format("node '{}' reads a value before it is produced", n.name));
    VRAMFIT_CHECK(value(n.output).producer == n.id, fmt::format("producer of '{}'", n.name));
    VRAMFIT_CHECK(!defined[static_cast<std::size_t>(n.output)], "value produced twice");
    defined[static_cast<std::size_t>(n.output)] = true;
  }
  for (ValueId o : outputs_) VRAMFIT_CHECK(defined.at(static_cast<std::size_t>(o)), "output never produced");
}

std::uint64_t value_bytes(const Value& v) {
  return storage_bytes(v.dtype, static_cast<std::uint64_t>(v.shape.numel()));
}

std::optional<std::size_t> in_place_input(const Node& n) {
  switch (n.op) {
    case OpKind::Relu:
    case OpKind::Gelu:
    case OpKind::Silu:
    case OpKind::Add:
    case OpKind::AddPositional:
    case OpKind::BatchNorm:
      return 0;
    case OpKind::Conv2d:
      if (n.attr<Conv2dAttrs>().has_residual) return n.inputs.size() - 1;
      return std::nullopt;
    case OpKind::Linear:
      if (n.attr<LinearAttrs>().has_residual) return n.inputs.size() - 1;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

bool is_view(const Graph& g, const Node& n) {
  if (n.op == OpKind::Flatten) return g.value(n.inputs[0]).layout != Layout::NHWC ||
                                      g.value(n.inputs[0]).shape.numel_per_sample() == g.value(n.inputs[0]).shape[1];
  if (n.op == OpKind::PatchFlatten) return g.value(n.inputs[0]).layout == Layout::NHWC;
  return false;
}

}  // namespace vramfit
