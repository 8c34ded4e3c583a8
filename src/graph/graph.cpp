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

namespace {

[[noreturn]] void shape_error(const Node& n, const std::string& what) {
  throw InvalidInput(fmt::format("{} '{}': {}", to_string(n.op), n.name, what));
}

std::int64_t conv_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

}  // namespace

Shape Graph::infer(const Node& n) const {
  auto in = [&](std::size_t i) -> const Shape& { return value(n.inputs.at(i)).shape; };
  auto need_inputs = [&](std::size_t lo, std::size_t hi) {
    if (n.inputs.size() < lo || n.inputs.size() > hi)
      shape_error(n, fmt::format("expects {}..{} inputs, got {}", lo, hi, n.inputs.size()));
  };
  switch (n.op) {
    case OpKind::Conv2d: {
      const auto& a = n.attr<Conv2dAttrs>();
      need_inputs(2, 4);
      const Shape& x = in(0);
      const Shape& w = in(1);
      if (x.rank() != 4) shape_error(n, "input must be 4-D, got " + x.to_string());
      if (w != Shape{a.out_channels, x[1] / a.groups, a.kernel_h, a.kernel_w})
        shape_error(n, "weight shape " + w.to_string() + " does not match the attributes");
      const std::int64_t oh = conv_out(x[2], a.kernel_h, a.stride_h, a.pad_h, a.dilation_h);
      const std::int64_t ow = conv_out(x[3], a.kernel_w, a.stride_w, a.pad_w, a.dilation_w);
      if (oh <= 0 || ow <= 0) shape_error(n, "input " + x.to_string() + " too small for the kernel");
      Shape out{x[0], a.out_channels, oh, ow};
      const std::size_t expect = 2 + (a.has_bias ? 1 : 0) + (a.has_residual ? 1 : 0);
      if (n.inputs.size() != expect) shape_error(n, "input count does not match bias/residual flags");
      if (a.has_residual && in(expect - 1) != out)
        shape_error(n, "residual shape " + in(expect - 1).to_string() + " != output " + out.to_string());
      return out;
    }
    case OpKind::BatchNorm:
      need_inputs(5, 5);
      if (in(0).rank() < 2) shape_error(n, "input must have channels");
      return in(0);
    case OpKind::Relu:
    case OpKind::Gelu:
    case OpKind::Silu:
      need_inputs(1, 1);
      return in(0);
    case OpKind::MaxPool:
    case OpKind::AvgPool: {
      need_inputs(1, 1);
      const auto& a = n.attr<PoolAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 4) shape_error(n, "input must be 4-D");
      const std::int64_t oh = conv_out(x[2], a.kernel_h, a.stride_h, a.pad_h, 1);
      const std::int64_t ow = conv_out(x[3], a.kernel_w, a.stride_w, a.pad_w, 1);
      if (oh <= 0 || ow <= 0) shape_error(n, "input too small for the window");
      return Shape{x[0], x[1], oh, ow};
    }
    case OpKind::GlobalAvgPool:
      need_inputs(1, 1);
      if (in(0).rank() != 4) shape_error(n, "input must be 4-D");
      return Shape{in(0)[0], in(0)[1], 1, 1};
    case OpKind::Add:
      need_inputs(2, 2);
      if (in(0) != in(1)) shape_error(n, "shapes differ: " + in(0).to_string() + " vs " + in(1).to_string());
      return in(0);
    case OpKind::Linear: {
      const auto& a = n.attr<LinearAttrs>();
      const std::size_t expect = 2 + (a.has_bias ? 1 : 0) + (a.has_residual ? 1 : 0);
      if (n.inputs.size() != expect) shape_error(n, "input count does not match bias/residual flags");
      const Shape& x = in(0);
      const Shape& w = in(1);
      if (w.rank() != 2 || w[1] != x.back() || w[0] != a.out_features)
        shape_error(n, "weight " + w.to_string() + " does not fit input " + x.to_string());
      auto dims = x.dims();
      dims.back() = a.out_features;
      Shape out(dims);
      if (a.has_residual && in(expect - 1) != out) shape_error(n, "residual shape mismatch");
      return out;
    }
    case OpKind::LayerNorm:
      need_inputs(3, 3);
      if (in(1) != Shape{in(0).back()}) shape_error(n, "gamma must match the last dim");
      return in(0);
    case OpKind::Attention: {
      need_inputs(1, 1);
      const auto& a = n.attr<AttentionAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 3 || x[2] % 3 || (x[2] / 3) % a.num_heads)
        shape_error(n, "qkv " + x.to_string() + " must be [B, S, 3E] with E divisible by heads");
      return Shape{x[0], x[1], x[2] / 3};
    }
    case OpKind::ConcatClassToken:
      need_inputs(2, 2);
      if (in(0).rank() != 3 || in(1) != Shape{1, 1, in(0)[2]}) shape_error(n, "class token must be [1, 1, E]");
      return Shape{in(0)[0], in(0)[1] + 1, in(0)[2]};
    case OpKind::AddPositional:
      need_inputs(2, 2);
      if (in(0).rank() != 3 || in(1) != Shape{1, in(0)[1], in(0)[2]})
        shape_error(n, "positional " + in(1).to_string() + " must be [1, S, E] for " + in(0).to_string());
      return in(0);
    case OpKind::PatchFlatten:
      need_inputs(1, 1);
      if (in(0).rank() != 4) shape_error(n, "input must be 4-D");
      return Shape{in(0)[0], in(0)[2] * in(0)[3], in(0)[1]};
    case OpKind::Flatten:
      need_inputs(1, 1);
      return Shape{in(0)[0], in(0).numel_per_sample()};
    case OpKind::Patchify: {
      need_inputs(1, 1);
      const std::int64_t p = n.attr<PatchifyAttrs>().patch;
      const Shape& x = in(0);
      if (x.rank() != 4 || p < 1 || x[2] % p || x[3] % p)
        shape_error(n, "input " + x.to_string() + " must be 4-D with H and W divisible by the patch " + std::to_string(p));
      return Shape{x[0], (x[2] / p) * (x[3] / p), x[1] * p * p};
    }
    case OpKind::TakeToken: {
      need_inputs(1, 1);
      const auto& a = n.attr<TakeTokenAttrs>();
      if (in(0).rank() != 3 || a.index < 0 || a.index >= in(0)[1]) shape_error(n, "token index out of range");
      return Shape{in(0)[0], in(0)[2]};
    }
    case OpKind::Upsample: {
      need_inputs(1, 1);
      const std::int64_t s = n.attr<UpsampleAttrs>().scale;
      if (in(0).rank() != 4 || s < 1) shape_error(n, "needs a 4-D input and a scale ≥ 1");
      return Shape{in(0)[0], in(0)[1], in(0)[2] * s, in(0)[3] * s};
    }
    case OpKind::Concat: {
      need_inputs(1, 64);
      const Shape& x0 = in(0);
      if (x0.rank() != 4) shape_error(n, "inputs must be 4-D, got " + x0.to_string());
      std::int64_t c = 0;
      for (std::size_t i = 0; i < n.inputs.size(); ++i) {
        const Shape& x = in(i);
        if (x.rank() != 4 || x[0] != x0[0] || x[2] != x0[2] || x[3] != x0[3])
          shape_error(n, "input " + std::to_string(i) + " " + x.to_string() + " differs from " + x0.to_string() +
                             " outside the channel dim");
        c += x[1];
      }
      return Shape{x0[0], c, x0[2], x0[3]};
    }
    case OpKind::Slice: {
      need_inputs(1, 1);
      const auto& a = n.attr<SliceAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 4 || a.groups < 1 || x[1] % a.groups) shape_error(n, "needs a 4-D input whose channels split into the groups");
      const std::int64_t block = x[1] / a.groups;
      if (a.begin < 0 || a.end > block || a.begin >= a.end)
        shape_error(n, fmt::format("channel range [{}, {}) is empty or outside a block of {}", a.begin, a.end, block));
      return Shape{x[0], a.groups * (a.end - a.begin), x[2], x[3]};
    }
    case OpKind::SpatialAttention: {
      need_inputs(1, 1);
      const auto& a = n.attr<SpatialAttentionAttrs>();
      const Shape& x = in(0);
      if (a.num_heads < 1 || a.key_dim < 1 || a.head_dim < 1) shape_error(n, "heads and dims must be ≥ 1");
      if (x.rank() != 4 || x[1] != a.num_heads * (2 * a.key_dim + a.head_dim))
        shape_error(n, fmt::format("qkv {} must be [B, {}·(2·{} + {}), H, W]", x.to_string(), a.num_heads, a.key_dim, a.head_dim));
      return Shape{x[0], a.num_heads * a.head_dim, x[2], x[3]};
    }
    case OpKind::PoseDecode: {
      const auto& a = n.attr<PoseDecodeAttrs>();
      const std::size_t per_level = a.kpt_count > 0 ? 3 : 2;
      const std::size_t levels = a.strides.size();
      if (levels == 0 || a.reg_max < 1 || a.num_classes < 1 || a.kpt_count < 0 || (a.kpt_count > 0 && a.kpt_dims != 2 && a.kpt_dims != 3))
        shape_error(n, "needs ≥ 1 level, reg_max ≥ 1, ≥ 1 class and keypoints of 2 or 3 dims");
      need_inputs(per_level * levels + 1, per_level * levels + 1);
      const std::int64_t batch = in(0)[0];
      const std::int64_t nk = a.kpt_count * a.kpt_dims;
      std::int64_t anchors = 0;
      for (std::size_t l = 0; l < levels; ++l) {
        const Shape& box = in(l * per_level);
        const std::int64_t expect[3] = {4 * a.reg_max, a.num_classes, nk};
        for (std::size_t k = 0; k < per_level; ++k) {
          const Shape& x = in(l * per_level + k);
          if (x.rank() != 4 || x[0] != batch || x[1] != expect[k] || x[2] != box[2] || x[3] != box[3])
            shape_error(n, fmt::format("level {} input {} is {}, expected [{}, {}, {}, {}]", l, k, x.to_string(), batch,
                                       expect[k], box.rank() == 4 ? box[2] : -1, box.rank() == 4 ? box[3] : -1));
        }
        if (a.strides[l] < 1) shape_error(n, "strides must be ≥ 1");
        anchors += box[2] * box[3];
      }
      if (in(n.inputs.size() - 1) != Shape{1, a.reg_max, 1, 1}) shape_error(n, "the DFL bins must be [1, reg_max, 1, 1]");
      return Shape{batch, 4 + a.num_classes + nk, anchors};
    }
    case OpKind::Nms: {
      need_inputs(1, 1);
      const auto& a = n.attr<NmsAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 3 || a.num_classes < 1 || x[1] < 4 + a.num_classes || a.max_det < 1)
        shape_error(n, "input " + x.to_string() + " must be [B, 4 + classes + extras, anchors] and max_det ≥ 1");
      return Shape{x[0], a.max_det, 6 + x[1] - 4 - a.num_classes};
    }
  }
  shape_error(n, "unknown op");
}

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
