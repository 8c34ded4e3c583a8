#include "backend/cpu/train.h"

#include <fmt/format.h>

#include "backend/cpu/backward.h"
#include "backend/cpu/ops.h"
#include "core/error.h"

namespace vramfit::cpu {

namespace {

// One step over a graph: every value kept (a reference favours clarity over memory), gradients
// accumulated per value as the nodes are walked backwards.
class Step {
 public:
  Step(const Graph& g, TensorMap& w, bool update_running) : g_(g), w_(w), update_(update_running), vals_(g.values().size()),
                                                            grads_(g.values().size()), bn_mean_(g.values().size()),
                                                            bn_invstd_(g.values().size()) {}

  LossAndGradients run(const Tensor& input, std::span<const std::int64_t> labels, bool backward_too = true) {
    if (g_.inputs().size() != 1 || g_.outputs().size() != 1)
      throw InvalidInput(fmt::format("training step: graph '{}' must have one input and one output", g_.name()));
    const Value& in = g_.value(g_.inputs()[0]);
    if (input.shape != in.shape) throw InvalidInput(fmt::format("training step: input must have shape {}, got {}", in.shape.to_string(), input.shape.to_string()));
    vals_[id(in.id)] = input;
    for (const Node& n : g_.nodes()) forward(n);
    const Value& out = g_.value(g_.outputs()[0]);
    if (out.shape.rank() != 2 || static_cast<std::int64_t>(labels.size()) != out.shape[0])
      throw InvalidInput(fmt::format("training step: the output must be [batch, classes] with one label per row; output {}, {} labels",
                                     out.shape.to_string(), labels.size()));
    LossAndGradients r;
    Tensor& dlogits = grad(out.id);
    r.loss = softmax_cross_entropy(value(out.id), labels.data(), dlogits.ptr(), out.shape[0], out.shape[1]);
    if (!backward_too) return r;
    for (auto it = g_.nodes().rbegin(); it != g_.nodes().rend(); ++it) backward(*it);
    for (const Value& v : g_.values())
      if (v.kind == ValueKind::Param && v.trainable && !grads_[id(v.id)].data.empty()) r.gradients[v.name] = grads_[id(v.id)];
    r.input_gradient = grads_[id(in.id)].data.empty() ? Tensor(in.shape) : grads_[id(in.id)];
    return r;
  }

 private:
  static std::size_t id(ValueId v) { return static_cast<std::size_t>(v); }
  const Shape& shape(ValueId v) const { return g_.value(v).shape; }
  const float* value(ValueId v) {
    const Value& x = g_.value(v);
    if (x.kind == ValueKind::Param) {
      const auto it = w_.find(x.name);
      if (it == w_.end()) throw InvalidInput(fmt::format("training step: parameter '{}' is missing from the weights", x.name));
      if (it->second.numel() != x.shape.numel())
        throw InvalidInput(fmt::format("training step: parameter '{}' must hold {} values", x.name, x.shape.numel()));
      return it->second.ptr();
    }
    return vals_[id(v)].ptr();
  }
  float* param_mut(ValueId v) { return w_.find(g_.value(v).name)->second.ptr(); }
  Tensor& grad(ValueId v) {
    Tensor& t = grads_[id(v)];
    if (t.data.empty()) t = Tensor(shape(v));
    return t;
  }
  // Adds src (n values) into the gradient of v.
  void accumulate(ValueId v, const std::vector<float>& src) {
    Tensor& t = grad(v);
    for (std::size_t i = 0; i < src.size(); ++i) t.data[i] += src[i];
  }
  const float* in(const Node& n, std::size_t i) { return value(n.inputs.at(i)); }

  Conv2dShape conv_shape(const Node& n) const {
    const auto& a = n.attr<Conv2dAttrs>();
    const Shape& x = shape(n.inputs[0]);
    return {x[0], x[1], x[2], x[3], a.out_channels, a.kernel_h, a.kernel_w, a.stride_h, a.stride_w, a.pad_h, a.pad_w, a.dilation_h, a.dilation_w, a.groups};
  }
  Pool2dShape pool_shape(const Node& n) const {
    const auto& a = n.attr<PoolAttrs>();
    const Shape& x = shape(n.inputs[0]);
    return {x[0], x[1], x[2], x[3], a.kernel_h, a.kernel_w, a.stride_h, a.stride_w, a.pad_h, a.pad_w};
  }
  LinearShape linear_shape(const Node& n) const {
    const std::int64_t k = shape(n.inputs[0]).back();
    return {shape(n.inputs[0]).numel() / k, k, n.attr<LinearAttrs>().out_features};
  }

  void forward(const Node& n) {
    Tensor y(shape(n.output));
    switch (n.op) {
      case OpKind::BatchNorm: {
        const Shape& x = shape(n.inputs[0]);
        const std::int64_t C = x[1], inner = x.numel() / (x[0] * C);
        bn_mean_[id(n.output)].assign(static_cast<std::size_t>(C), 0.0f);
        bn_invstd_[id(n.output)].assign(static_cast<std::size_t>(C), 0.0f);
        batch_norm_train(in(n, 0), in(n, 1), in(n, 2), y.ptr(), bn_mean_[id(n.output)].data(), bn_invstd_[id(n.output)].data(),
                         update_ ? param_mut(n.inputs[3]) : nullptr, update_ ? param_mut(n.inputs[4]) : nullptr, x[0], C, inner,
                         n.attr<BatchNormAttrs>().eps, 0.1f);
        break;
      }
      case OpKind::Conv2d: {
        const auto& a = n.attr<Conv2dAttrs>();
        std::size_t next = 2;
        const float* bias = a.has_bias ? in(n, next++) : nullptr;
        const float* residual = a.has_residual ? in(n, next++) : nullptr;
        conv2d(in(n, 0), in(n, 1), bias, residual, y.ptr(), conv_shape(n), a.act);
        break;
      }
      case OpKind::Linear: {
        const auto& a = n.attr<LinearAttrs>();
        std::size_t next = 2;
        const float* bias = a.has_bias ? in(n, next++) : nullptr;
        const float* residual = a.has_residual ? in(n, next++) : nullptr;
        linear(in(n, 0), in(n, 1), bias, residual, y.ptr(), linear_shape(n), a.act);
        break;
      }
      case OpKind::Relu: relu(in(n, 0), y.ptr(), y.numel()); break;
      case OpKind::Gelu: gelu(in(n, 0), y.ptr(), y.numel()); break;
      case OpKind::Silu: silu(in(n, 0), y.ptr(), y.numel()); break;
      case OpKind::Add: add(in(n, 0), in(n, 1), y.ptr(), y.numel(), n.attr<AddAttrs>().act); break;
      case OpKind::MaxPool: max_pool2d(in(n, 0), y.ptr(), pool_shape(n)); break;
      case OpKind::AvgPool: avg_pool2d(in(n, 0), y.ptr(), pool_shape(n)); break;
      case OpKind::GlobalAvgPool: {
        const Shape& x = shape(n.inputs[0]);
        global_avg_pool(in(n, 0), y.ptr(), x[0], x[1], x[2] * x[3]);
        break;
      }
      case OpKind::LayerNorm: {
        const std::int64_t e = shape(n.inputs[0]).back();
        layer_norm(in(n, 0), in(n, 1), in(n, 2), y.ptr(), shape(n.inputs[0]).numel() / e, e, n.attr<LayerNormAttrs>().eps);
        break;
      }
      case OpKind::Attention: {
        const Shape& x = shape(n.inputs[0]);
        attention(in(n, 0), y.ptr(), {x[0], x[1], x[2] / 3, n.attr<AttentionAttrs>().num_heads});
        break;
      }
      case OpKind::ConcatClassToken: {
        const Shape& x = shape(n.inputs[0]);
        concat_class_token(in(n, 0), in(n, 1), y.ptr(), x[0], x[1], x[2]);
        break;
      }
      case OpKind::AddPositional: {
        const Shape& x = shape(n.inputs[0]);
        add_positional(in(n, 0), in(n, 1), y.ptr(), x[0], x[1], x[2]);
        break;
      }
      case OpKind::PatchFlatten: {
        const Shape& x = shape(n.inputs[0]);
        patch_flatten(in(n, 0), y.ptr(), x[0], x[1], x[2], x[3]);
        break;
      }
      case OpKind::Flatten: flatten(in(n, 0), y.ptr(), y.numel()); break;
      case OpKind::Patchify: {
        const Shape& x = shape(n.inputs[0]);
        patchify(in(n, 0), y.ptr(), x[0], x[1], x[2], x[3], n.attr<PatchifyAttrs>().patch);
        break;
      }
      case OpKind::TakeToken: {
        const Shape& x = shape(n.inputs[0]);
        take_token(in(n, 0), y.ptr(), x[0], x[1], x[2], n.attr<TakeTokenAttrs>().index);
        break;
      }
      default:
        throw Unsupported(fmt::format("training step: {} (node '{}') has no backward here (detection training is not implemented)",
                                      to_string(n.op), n.name));
    }
    vals_[id(n.output)] = std::move(y);
  }

  // dy of a node with a fused activation: through the activation, recomputing the pre-activation
  // (the output of the same op without it).
  std::vector<float> through_activation(const Node& n, Activation act, const Tensor& dy) {
    std::vector<float> d(dy.data);
    if (act == Activation::None) return d;
    Tensor pre(shape(n.output));
    if (n.op == OpKind::Conv2d || n.op == OpKind::Linear) {
      const bool conv = n.op == OpKind::Conv2d;
      const bool has_bias = conv ? n.attr<Conv2dAttrs>().has_bias : n.attr<LinearAttrs>().has_bias;
      const bool has_res = conv ? n.attr<Conv2dAttrs>().has_residual : n.attr<LinearAttrs>().has_residual;
      std::size_t next = 2;
      const float* bias = has_bias ? in(n, next++) : nullptr;
      const float* res = has_res ? in(n, next++) : nullptr;
      if (conv) conv2d(in(n, 0), in(n, 1), bias, res, pre.ptr(), conv_shape(n), Activation::None);
      else linear(in(n, 0), in(n, 1), bias, res, pre.ptr(), linear_shape(n), Activation::None);
    } else {  // Add
      add(in(n, 0), in(n, 1), pre.ptr(), pre.numel(), Activation::None);
    }
    activation_backward(pre.ptr(), dy.ptr(), d.data(), pre.numel(), act);
    return d;
  }

  void backward(const Node& n) {
    if (grads_[id(n.output)].data.empty()) return;  // nothing downstream reached the loss
    const Tensor dy = grads_[id(n.output)];
    auto sized = [&](ValueId v) { return std::vector<float>(static_cast<std::size_t>(shape(v).numel())); };
    auto grad_to = [&](ValueId v, const std::vector<float>& g) { accumulate(v, g); };
    switch (n.op) {
      case OpKind::Conv2d:
      case OpKind::Linear: {
        const bool conv = n.op == OpKind::Conv2d;
        const Activation act = conv ? n.attr<Conv2dAttrs>().act : n.attr<LinearAttrs>().act;
        const bool has_bias = conv ? n.attr<Conv2dAttrs>().has_bias : n.attr<LinearAttrs>().has_bias;
        const bool has_res = conv ? n.attr<Conv2dAttrs>().has_residual : n.attr<LinearAttrs>().has_residual;
        const std::vector<float> d = through_activation(n, act, dy);
        std::vector<float> dx = sized(n.inputs[0]), dw = sized(n.inputs[1]);
        std::vector<float> db = has_bias ? sized(n.inputs[2]) : std::vector<float>{};
        if (conv) conv2d_backward(in(n, 0), in(n, 1), d.data(), dx.data(), dw.data(), has_bias ? db.data() : nullptr, conv_shape(n));
        else linear_backward(in(n, 0), in(n, 1), d.data(), dx.data(), dw.data(), has_bias ? db.data() : nullptr, linear_shape(n));
        grad_to(n.inputs[0], dx);
        grad_to(n.inputs[1], dw);
        if (has_bias) grad_to(n.inputs[2], db);
        if (has_res) grad_to(n.inputs[has_bias ? 3 : 2], d);
        return;
      }
      case OpKind::BatchNorm: {
        const Shape& x = shape(n.inputs[0]);
        const std::int64_t C = x[1], inner = x.numel() / (x[0] * C);
        std::vector<float> dx = sized(n.inputs[0]), dg = sized(n.inputs[1]), dbt = sized(n.inputs[2]);
        batch_norm_backward(in(n, 0), in(n, 1), bn_mean_[id(n.output)].data(), bn_invstd_[id(n.output)].data(), dy.ptr(), dx.data(), dg.data(),
                            dbt.data(), x[0], C, inner);
        grad_to(n.inputs[0], dx);
        grad_to(n.inputs[1], dg);
        grad_to(n.inputs[2], dbt);
        return;
      }
      case OpKind::Relu:
      case OpKind::Gelu:
      case OpKind::Silu: {
        std::vector<float> dx = sized(n.inputs[0]);
        const Activation act = n.op == OpKind::Relu ? Activation::Relu : n.op == OpKind::Gelu ? Activation::Gelu : Activation::Silu;
        activation_backward(in(n, 0), dy.ptr(), dx.data(), dy.numel(), act);
        grad_to(n.inputs[0], dx);
        return;
      }
      case OpKind::Add: {
        const std::vector<float> d = through_activation(n, n.attr<AddAttrs>().act, dy);
        grad_to(n.inputs[0], d);
        grad_to(n.inputs[1], d);
        return;
      }
      case OpKind::MaxPool:
      case OpKind::AvgPool:
      case OpKind::GlobalAvgPool: {
        std::vector<float> dx = sized(n.inputs[0]);
        const Shape& x = shape(n.inputs[0]);
        if (n.op == OpKind::MaxPool) max_pool2d_backward(in(n, 0), dy.ptr(), dx.data(), pool_shape(n));
        else if (n.op == OpKind::AvgPool) avg_pool2d_backward(dy.ptr(), dx.data(), pool_shape(n));
        else global_avg_pool_backward(dy.ptr(), dx.data(), x[0], x[1], x[2] * x[3]);
        grad_to(n.inputs[0], dx);
        return;
      }
      case OpKind::LayerNorm: {
        const std::int64_t e = shape(n.inputs[0]).back();
        std::vector<float> dx = sized(n.inputs[0]), dg = sized(n.inputs[1]), dbt = sized(n.inputs[2]);
        layer_norm_backward(in(n, 0), in(n, 1), dy.ptr(), dx.data(), dg.data(), dbt.data(), shape(n.inputs[0]).numel() / e, e,
                            n.attr<LayerNormAttrs>().eps);
        grad_to(n.inputs[0], dx);
        grad_to(n.inputs[1], dg);
        grad_to(n.inputs[2], dbt);
        return;
      }
      case OpKind::Attention: {
        const Shape& x = shape(n.inputs[0]);
        std::vector<float> dq = sized(n.inputs[0]);
        attention_backward(in(n, 0), dy.ptr(), dq.data(), {x[0], x[1], x[2] / 3, n.attr<AttentionAttrs>().num_heads});
        grad_to(n.inputs[0], dq);
        return;
      }
      default: token_backward(n, dy); return;
    }
  }

  // The reshapes and copies of the token ops: each output element is one input element (or a
  // parameter's), so the gradient goes back along the same map.
  void token_backward(const Node& n, const Tensor& dy) {
    const Shape& x = shape(n.inputs[0]);
    std::vector<float> dx(static_cast<std::size_t>(x.numel()), 0.0f);
    switch (n.op) {
      case OpKind::ConcatClassToken: {  // y [B, S+1, E]: token 0 is the class token
        const std::int64_t B = x[0], S = x[1], E = x[2];
        std::vector<float> dcls(static_cast<std::size_t>(E), 0.0f);
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t e = 0; e < E; ++e) {
            dcls[static_cast<std::size_t>(e)] += dy.data[static_cast<std::size_t>(b * (S + 1) * E + e)];
            for (std::int64_t s = 0; s < S; ++s) dx[static_cast<std::size_t>((b * S + s) * E + e)] = dy.data[static_cast<std::size_t>((b * (S + 1) + s + 1) * E + e)];
          }
        accumulate(n.inputs[1], dcls);
        break;
      }
      case OpKind::AddPositional: {
        const std::int64_t B = x[0], SE = x[1] * x[2];
        std::vector<float> dpos(static_cast<std::size_t>(SE), 0.0f);
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t i = 0; i < SE; ++i) {
            dx[static_cast<std::size_t>(b * SE + i)] = dy.data[static_cast<std::size_t>(b * SE + i)];
            dpos[static_cast<std::size_t>(i)] += dy.data[static_cast<std::size_t>(b * SE + i)];
          }
        accumulate(n.inputs[1], dpos);
        break;
      }
      case OpKind::PatchFlatten: {  // x [B, C, H, W] → y [B, H·W, C]
        const std::int64_t B = x[0], C = x[1], P = x[2] * x[3];
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t c = 0; c < C; ++c)
            for (std::int64_t p = 0; p < P; ++p) dx[static_cast<std::size_t>((b * C + c) * P + p)] = dy.data[static_cast<std::size_t>((b * P + p) * C + c)];
        break;
      }
      case OpKind::Flatten: dx = dy.data; break;
      case OpKind::Patchify: {  // x [B, C, H, W] → y [B, (H/p)(W/p), C·p·p], rows in (c, u, v) order
        const std::int64_t B = x[0], C = x[1], H = x[2], W = x[3], p = n.attr<PatchifyAttrs>().patch;
        const std::int64_t gw = W / p, rows = (H / p) * gw, cols = C * p * p;
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t r = 0; r < rows; ++r)
            for (std::int64_t c = 0; c < C; ++c)
              for (std::int64_t u = 0; u < p; ++u)
                for (std::int64_t v = 0; v < p; ++v)
                  dx[static_cast<std::size_t>(((b * C + c) * H + (r / gw) * p + u) * W + (r % gw) * p + v)] =
                      dy.data[static_cast<std::size_t>((b * rows + r) * cols + (c * p + u) * p + v)];
        break;
      }
      case OpKind::TakeToken: {  // y [B, E] = x[:, index, :]
        const std::int64_t B = x[0], S = x[1], E = x[2], t = n.attr<TakeTokenAttrs>().index;
        for (std::int64_t b = 0; b < B; ++b)
          for (std::int64_t e = 0; e < E; ++e) dx[static_cast<std::size_t>((b * S + t) * E + e)] = dy.data[static_cast<std::size_t>(b * E + e)];
        break;
      }
      default:
        throw Unsupported(fmt::format("training step: {} (node '{}') has no backward here", to_string(n.op), n.name));
    }
    accumulate(n.inputs[0], dx);
  }

  const Graph& g_;
  TensorMap& w_;
  bool update_;
  std::vector<Tensor> vals_, grads_;
  std::vector<std::vector<float>> bn_mean_, bn_invstd_;  // per BatchNorm output value
};

}  // namespace

LossAndGradients loss_and_gradients(const Graph& g, TensorMap& weights, const Tensor& input, std::span<const std::int64_t> labels,
                                    bool update_running_stats) {
  Step s(g, weights, update_running_stats);
  return s.run(input, labels);
}

double training_loss(const Graph& g, const TensorMap& weights, const Tensor& input, std::span<const std::int64_t> labels) {
  TensorMap& w = const_cast<TensorMap&>(weights);  // not written: running statistics are not updated here
  Step s(g, w, /*update_running=*/false);
  return s.run(input, labels, /*backward_too=*/false).loss;
}

void optimizer_step(TensorMap& weights, const TensorMap& gradients, const OptimizerConfig& c, OptimizerState& state) {
  ++state.step;
  for (const auto& [name, g] : gradients) {
    const auto it = weights.find(name);
    if (it == weights.end()) throw InvalidInput(fmt::format("optimizer step: no weight '{}' for its gradient", name));
    Tensor& w = it->second;
    if (w.numel() != g.numel()) throw InvalidInput(fmt::format("optimizer step: '{}' has {} values, its gradient {}", name, w.numel(), g.numel()));
    auto& m = state.m[name];
    if (m.data.empty()) m = Tensor(w.shape);
    if (c.kind == OptimizerKind::sgd) {
      sgd_momentum_step(w.ptr(), g.ptr(), m.ptr(), w.numel(), c.lr, c.momentum, c.weight_decay, state.step == 1);
    } else {
      auto& v = state.v[name];
      if (v.data.empty()) v = Tensor(w.shape);
      adamw_step(w.ptr(), g.ptr(), m.ptr(), v.ptr(), w.numel(), c.lr, c.beta1, c.beta2, c.eps, c.weight_decay, state.step);
    }
  }
}

}  // namespace vramfit::cpu
