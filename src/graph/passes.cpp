#include "graph/passes.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <unordered_set>

#include "core/error.h"

namespace vramfit {

namespace {

// Nodes removed by a pass stay in the node list until the pass ends (ids must stay stable while it
// walks); they are skipped when counting a value's readers.
class DeadSet {
 public:
  void add(NodeId n) { dead_.insert(n); }
  bool has(NodeId n) const { return dead_.count(n) != 0; }
  std::vector<NodeId> list() const {
    std::vector<NodeId> out(dead_.begin(), dead_.end());
    std::sort(out.begin(), out.end());
    return out;
  }
  bool empty() const { return dead_.empty(); }

 private:
  std::unordered_set<NodeId> dead_;
};

bool is_graph_output(const Graph& g, ValueId v) {
  return std::find(g.outputs().begin(), g.outputs().end(), v) != g.outputs().end();
}

// The live nodes that read `v` (a node reading it twice counts once).
std::vector<NodeId> live_consumers(const Graph& g, ValueId v, const DeadSet& dead) {
  std::vector<NodeId> out;
  for (NodeId c : g.consumers(v))
    if (!dead.has(c)) out.push_back(c);
  return out;
}

// True when `v` is read by `reader` alone and is not a graph output: rewriting its producer can then
// change what `v` holds without anyone else noticing.
bool only_reader(const Graph& g, ValueId v, NodeId reader, const DeadSet& dead) {
  if (is_graph_output(g, v)) return false;
  const auto readers = live_consumers(g, v, dead);
  return readers.size() == 1 && readers[0] == reader;
}

// True when no node other than `owner` reads `v` (parameters that a rewrite modifies in place).
bool param_private_to(const Graph& g, ValueId v, NodeId owner) {
  for (NodeId c : g.consumers(v))
    if (c != owner) return false;
  return true;
}

void finish(Graph& g, const DeadSet& dead) {
  if (!dead.empty()) g.erase_nodes(dead.list());
  g.validate();
}

const Tensor& tensor_for(const TensorMap& w, const Value& v, std::int64_t expect_numel) {
  const auto it = w.find(v.name);
  if (it == w.end()) throw InvalidInput(fmt::format("fold_batchnorm: weights lack tensor '{}'", v.name));
  if (it->second.numel() != expect_numel || static_cast<std::int64_t>(it->second.data.size()) != expect_numel)
    throw InvalidInput(fmt::format("fold_batchnorm: tensor '{}' has {} elements, expected {} (shape {})", v.name,
                                   it->second.numel(), expect_numel, v.shape.to_string()));
  return it->second;
}

// w' = w·γ/√(σ²+ε) per output channel, b' = (b − μ)·γ/√(σ²+ε) + β (Ioffe & Szegedy 2015, eq. of the
// inference-time transform y = γ(x − μ)/√(σ²+ε) + β, applied to x = w∗in + b). Computed in double.
void fold_numerically(const Graph& g, const Node& conv, const Node& bn, const TensorMap& w, const std::string& bias_name,
                      std::vector<std::pair<std::string, Tensor>>& staged) {
  const std::int64_t o = conv.attr<Conv2dAttrs>().out_channels;
  const Value& wv = g.value(conv.inputs[1]);
  const std::int64_t per_channel = wv.shape.numel() / o;
  const Tensor& gamma = tensor_for(w, g.value(bn.inputs[1]), o);
  const Tensor& beta = tensor_for(w, g.value(bn.inputs[2]), o);
  const Tensor& mean = tensor_for(w, g.value(bn.inputs[3]), o);
  const Tensor& var = tensor_for(w, g.value(bn.inputs[4]), o);
  const Tensor& weight = tensor_for(w, wv, wv.shape.numel());
  const double eps = static_cast<double>(bn.attr<BatchNormAttrs>().eps);

  std::vector<float> old_bias(static_cast<std::size_t>(o), 0.0f);
  if (conv.attr<Conv2dAttrs>().has_bias) old_bias = tensor_for(w, g.value(conv.inputs[2]), o).data;

  Tensor new_weight(weight.shape);
  Tensor new_bias(Shape{o});
  for (std::int64_t c = 0; c < o; ++c) {
    const auto ci = static_cast<std::size_t>(c);
    const double v = static_cast<double>(var.data[ci]);
    if (!(v + eps > 0.0))
      throw InvalidInput(fmt::format("fold_batchnorm: '{}' channel {}: running_var + eps = {} is not positive",
                                     bn.name, c, v + eps));
    const double scale = static_cast<double>(gamma.data[ci]) / std::sqrt(v + eps);
    for (std::int64_t k = 0; k < per_channel; ++k) {
      const auto idx = static_cast<std::size_t>(c * per_channel + k);
      new_weight.data[idx] = static_cast<float>(static_cast<double>(weight.data[idx]) * scale);
    }
    new_bias.data[ci] = static_cast<float>(
        (static_cast<double>(old_bias[ci]) - static_cast<double>(mean.data[ci])) * scale +
        static_cast<double>(beta.data[ci]));
  }
  staged.emplace_back(wv.name, std::move(new_weight));
  staged.emplace_back(bias_name, std::move(new_bias));
}

bool fusable_producer(OpKind op) { return op == OpKind::Conv2d || op == OpKind::Linear; }

Activation act_of(const Node& n) {
  switch (n.op) {
    case OpKind::Conv2d: return n.attr<Conv2dAttrs>().act;
    case OpKind::Linear: return n.attr<LinearAttrs>().act;
    case OpKind::Add: return n.attr<AddAttrs>().act;
    default: throw InternalError(fmt::format("node '{}' ({}) has no fused activation", n.name, to_string(n.op)));
  }
}

void set_act(Node& n, Activation a) {
  switch (n.op) {
    case OpKind::Conv2d: n.attr<Conv2dAttrs>().act = a; return;
    case OpKind::Linear: n.attr<LinearAttrs>().act = a; return;
    case OpKind::Add: n.attr<AddAttrs>().act = a; return;
    default: throw InternalError(fmt::format("node '{}' ({}) has no fused activation", n.name, to_string(n.op)));
  }
}

bool has_residual(const Node& n) {
  if (n.op == OpKind::Conv2d) return n.attr<Conv2dAttrs>().has_residual;
  if (n.op == OpKind::Linear) return n.attr<LinearAttrs>().has_residual;
  return false;
}

void set_residual(Node& n) {
  if (n.op == OpKind::Conv2d) n.attr<Conv2dAttrs>().has_residual = true;
  else n.attr<LinearAttrs>().has_residual = true;
}

// The gate ("can it run here?") apart from the rewrite: fp8 and the integer and GGUF types need
// scales and kernels the graph engine does not have yet.
void require_graph_precision(Precision p) {
  if (p != Precision::fp32 && p != Precision::fp16 && p != Precision::bf16)
    throw Unsupported(fmt::format("precision {} is not implemented for vision graphs yet (supported: fp32, fp16, bf16)",
                                  to_string(p)));
}

bool is_16bit(DType t) { return t == DType::f16 || t == DType::bf16; }

}  // namespace

void fold_batchnorm(Graph& g, TensorMap* weights) {
  struct Site {
    NodeId conv, bn;
    std::string bias_name;
  };
  // Find every fold first and compute the folded tensors apart: a missing or bad tensor then throws
  // before the graph or the map has changed.
  std::vector<Site> sites;
  DeadSet dead;
  for (const Node& bn : g.nodes()) {
    if (bn.op != OpKind::BatchNorm) continue;
    const ValueId x = bn.inputs[0];
    const NodeId conv_id = g.value(x).producer;
    if (conv_id == kNoNode) continue;
    const Node& conv = g.node(conv_id);
    if (conv.op != OpKind::Conv2d) continue;
    const auto& ca = conv.attr<Conv2dAttrs>();
    // A fused activation or residual sits between the conv and the BN: the BN's affine map would
    // then not commute into the conv's weights.
    if (ca.act != Activation::None || ca.has_residual) continue;
    if (!only_reader(g, x, bn.id, dead)) continue;
    // Rewriting shared tensors would change another node's result.
    bool shared = !param_private_to(g, conv.inputs[1], conv_id) ||
                  (ca.has_bias && !param_private_to(g, conv.inputs[2], conv_id));
    for (std::size_t k = 1; k < 5; ++k) shared = shared || !param_private_to(g, bn.inputs[k], bn.id);
    if (shared) continue;

    std::string bias_name = conv.name + ".bias";
    if (ca.has_bias) {
      bias_name = g.value(conv.inputs[2]).name;
    } else if (g.find_value(bias_name)) {
      throw InvalidInput(fmt::format("fold_batchnorm: conv '{}' has no bias but a value named '{}' already exists",
                                     conv.name, bias_name));
    }
    sites.push_back(Site{conv_id, bn.id, std::move(bias_name)});
    dead.add(bn.id);
  }

  if (weights) {
    std::vector<std::pair<std::string, Tensor>> staged;
    for (const Site& s : sites) fold_numerically(g, g.node(s.conv), g.node(s.bn), *weights, s.bias_name, staged);
    for (const Site& s : sites)
      for (std::size_t k = 1; k < 5; ++k) weights->erase(g.value(g.node(s.bn).inputs[k]).name);
    for (auto& [name, t] : staged) (*weights)[name] = std::move(t);
  }

  for (const Site& s : sites) {
    const Node& bn = g.node(s.bn);
    const ValueId bn_out = bn.output;
    const DType bias_dtype = g.value(bn.inputs[2]).dtype;  // β's dtype: biases follow activations
    if (!g.node(s.conv).attr<Conv2dAttrs>().has_bias) {
      const std::int64_t o = g.node(s.conv).attr<Conv2dAttrs>().out_channels;
      const ValueId b = g.add_param(s.bias_name, Shape{o}, ParamRole::Bias, /*trainable=*/true);
      g.value(b).dtype = bias_dtype;
      Node& c = g.node(s.conv);
      c.inputs.insert(c.inputs.begin() + 2, b);  // conv inputs: x, weight, bias (, residual)
      c.attr<Conv2dAttrs>().has_bias = true;
    }
    g.replace_uses(bn_out, g.node(s.conv).output);
  }
  finish(g, dead);
}

void fuse_residual_add(Graph& g) {
  DeadSet dead;
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& add = g.nodes()[i];
    if (add.op != OpKind::Add) continue;
    NodeId best = kNoNode;
    std::size_t best_operand = 0;
    for (std::size_t k = 0; k < 2; ++k) {
      const ValueId v = add.inputs[k];
      const ValueId other = add.inputs[1 - k];
      const NodeId p = g.value(v).producer;
      if (p == kNoNode || dead.has(p)) continue;
      const Node& prod = g.node(p);
      if (!fusable_producer(prod.op) || has_residual(prod)) continue;
      if (act_of(prod) != Activation::None) continue;
      if (!only_reader(g, v, add.id, dead)) continue;
      // The residual must exist when the producer runs: the fused node keeps the producer's slot.
      const NodeId other_p = g.value(other).producer;
      if (other_p != kNoNode && other_p >= p) continue;
      // Both qualify: the later producer, so the earlier result is the one that waits (it is
      // already computed; the later one would otherwise be held until the add).
      if (best == kNoNode || p > best) {
        best = p;
        best_operand = k;
      }
    }
    if (best == kNoNode) continue;
    const ValueId residual = add.inputs[1 - best_operand];
    const ValueId add_out = add.output;
    const Activation add_act = add.attr<AddAttrs>().act;
    const NodeId add_id = add.id;
    Node& prod = g.node(best);
    prod.inputs.push_back(residual);
    set_residual(prod);
    set_act(prod, add_act);
    g.replace_uses(add_out, prod.output);
    dead.add(add_id);
  }
  finish(g, dead);
}

void fuse_activations(Graph& g) {
  DeadSet dead;
  for (std::size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    Activation act;
    switch (n.op) {
      case OpKind::Relu: act = Activation::Relu; break;
      case OpKind::Gelu: act = Activation::Gelu; break;
      case OpKind::Silu: act = Activation::Silu; break;
      default: continue;
    }
    const ValueId v = n.inputs[0];
    const NodeId p = g.value(v).producer;
    if (p == kNoNode || dead.has(p)) continue;
    Node& prod = g.node(p);
    if (!fusable_producer(prod.op) && prod.op != OpKind::Add) continue;
    if (act_of(prod) != Activation::None) continue;
    if (!only_reader(g, v, n.id, dead)) continue;
    set_act(prod, act);
    const ValueId out = n.output;
    const NodeId id = n.id;
    g.replace_uses(out, v);
    dead.add(id);
  }
  finish(g, dead);
}

void assign_precision(Graph& g, Precision p) {
  require_graph_precision(p);
  const DType wt = weight_dtype(p);
  const DType at = activation_dtype(p);
  for (const Value& cv : g.values()) {
    Value& v = g.value(cv.id);
    // Matrices and filters take the weight type; biases, norm parameters, the class token and the
    // positional embedding are added to activations and take theirs (core/dtype.h).
    if (v.kind == ValueKind::Param) v.dtype = v.role == ParamRole::Weight ? wt : at;
    else v.dtype = at;
  }
}

void assign_layout(Graph& g, bool channels_last_fp32) {
  for (const Value& cv : g.values()) {
    Value& v = g.value(cv.id);
    if (v.kind == ValueKind::Param) continue;
    if (v.shape.rank() != 4) v.layout = Layout::Plain;
    else v.layout = is_16bit(v.dtype) || channels_last_fp32 ? Layout::NHWC : Layout::NCHW;
  }
}

void patchify_convolutions(Graph& g) {
  bool changed = false;
  for (const Node& cn : g.nodes()) {
    if (cn.op != OpKind::Conv2d) continue;
    const auto& a = cn.attr<Conv2dAttrs>();
    const bool patch_like = a.kernel_h == a.kernel_w && a.stride_h == a.kernel_h && a.stride_w == a.kernel_w &&
                            a.pad_h == 0 && a.pad_w == 0 && a.dilation_h == 1 && a.dilation_w == 1 && a.groups == 1 &&
                            !a.has_residual && a.act == Activation::None && a.kernel_h > 1;
    if (!patch_like) continue;
    const std::vector<NodeId> users = g.consumers(cn.output);
    if (users.size() != 1 || g.node(users[0]).op != OpKind::PatchFlatten) continue;
    if (std::find(g.outputs().begin(), g.outputs().end(), cn.output) != g.outputs().end()) continue;
    const Shape& xs = g.value(cn.inputs[0]).shape;
    if (xs[2] % a.kernel_h || xs[3] % a.kernel_w) continue;  // a conv that drops a remainder is not a patchify
    const NodeId conv_id = cn.id, flat_id = users[0];
    const std::int64_t p = a.kernel_h, out_ch = a.out_channels, in_ch = xs[1];
    const ValueId weight = cn.inputs[1];
    const bool has_bias = a.has_bias;
    const std::optional<ValueId> bias = has_bias ? std::optional<ValueId>(cn.inputs[2]) : std::nullopt;
    // The conv node becomes the Patchify (same position), the PatchFlatten becomes the Linear.
    Node& conv = g.node(conv_id);
    conv.op = OpKind::Patchify;
    conv.inputs = {conv.inputs[0]};
    conv.attrs = PatchifyAttrs{p};
    g.value(weight).shape = Shape{out_ch, in_ch * p * p};
    Node& flat = g.node(flat_id);
    flat.op = OpKind::Linear;
    LinearAttrs la;
    la.out_features = out_ch;
    la.has_bias = has_bias;
    flat.attrs = la;
    flat.inputs = {conv.output, weight};
    if (bias) flat.inputs.push_back(*bias);
    g.value(conv.output).layout = Layout::Plain;
    changed = true;
  }
  if (changed) {
    g.infer_shapes();
    g.validate();
  }
}

void optimize_for_inference(Graph& g, Precision p, TensorMap* weights, bool channels_last_fp32) {
  // Precision first only as a gate: an unsupported request fails before any rewrite (and before
  // the weight map is modified).
  require_graph_precision(p);
  fold_batchnorm(g, weights);
  fuse_residual_add(g);
  fuse_activations(g);
  patchify_convolutions(g);
  assign_precision(g, p);
  assign_layout(g, channels_last_fp32);
}

}  // namespace vramfit
