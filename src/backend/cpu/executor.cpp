// The CPU executor: walks the graph's nodes in order and calls the reference op (ops.h) for each,
// holding one host tensor per live value. Both a builder's training-shaped graph (BatchNorm, separate
// Relu and Add) and a pass-optimised one (folded BN as conv bias, fused residual and activation) run
// through the same per-op code, since fusion only changes attributes and inputs of Conv2d/Linear/Add.
#include <fmt/format.h>
#include <limits>
#include <string>
#include <utility>

#include "backend/cpu/executor.h"
#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"

namespace vramfit::cpu {

void round_in_place(std::span<float> values, Rounding r) {
  if (r == Rounding::None) return;
  const auto n = static_cast<std::int64_t>(values.size());
  float* v = values.data();
  parallel_for(n, [&](std::int64_t b, std::int64_t e) {
    if (r == Rounding::F16)
      for (std::int64_t i = b; i < e; ++i) v[i] = round_to_half(v[i]);
    else
      for (std::int64_t i = b; i < e; ++i) v[i] = round_to_bf16(v[i]);
  });
}

namespace {

constexpr std::int64_t kKeepForever = std::numeric_limits<std::int64_t>::max();

class Runner {
 public:
  Runner(const Graph& g, const TensorMap& weights, const RunOptions& opt)
      : g_(g), weights_(weights), opt_(opt), values_(g.values().size()), params_(g.values().size(), nullptr),
        rounded_params_(g.values().size()), last_use_(g.values().size(), -1) {}

  std::vector<Tensor> run(std::span<const Tensor> inputs) {
    g_.validate();
    bind_inputs(inputs);
    bind_params();
    plan_lifetimes();
    for (const Node& n : g_.nodes()) {
      const Value& out = g_.value(n.output);
      round_params_for(n);
      Tensor y = execute(n, out.shape);
      VRAMFIT_CHECK(y.numel() == out.shape.numel(), fmt::format("node '{}' produced the wrong size", n.name));
      round_in_place(y.span(), opt_.rounding);
      values_[index(n.output)] = std::move(y);
      release_after(n);
    }
    std::vector<Tensor> results;
    for (ValueId o : g_.outputs()) {
      const Value& v = g_.value(o);
      const float* src = v.kind == ValueKind::Param ? params_[index(o)] : data(o);
      results.emplace_back(v.shape, std::vector<float>(src, src + v.shape.numel()));
      if (v.kind == ValueKind::Param) round_in_place(results.back().span(), opt_.rounding);
    }
    return results;
  }

 private:
  static std::size_t index(ValueId v) { return static_cast<std::size_t>(v); }

  void bind_inputs(std::span<const Tensor> inputs) {
    const auto& ids = g_.inputs();
    if (inputs.size() != ids.size())
      throw InvalidInput(fmt::format("graph '{}' takes {} input(s), got {}", g_.name(), ids.size(), inputs.size()));
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const Value& v = g_.value(ids[i]);
      if (inputs[i].shape != v.shape)
        throw InvalidInput(fmt::format("graph '{}': input '{}' must have shape {}, got {}", g_.name(), v.name,
                                       v.shape.to_string(), inputs[i].shape.to_string()));
      if (static_cast<std::int64_t>(inputs[i].data.size()) != v.shape.numel())
        throw InvalidInput(fmt::format("graph '{}': input '{}' holds {} values for shape {}", g_.name(), v.name,
                                       inputs[i].data.size(), v.shape.to_string()));
      Tensor t = inputs[i];
      round_in_place(t.span(), opt_.rounding);
      values_[index(ids[i])] = std::move(t);
    }
  }

  // Every parameter a node reads, looked up and checked before anything runs, so a missing weight
  // fails fast rather than after minutes of convolutions.
  void bind_params() {
    for (const Node& n : g_.nodes())
      for (ValueId id : n.inputs) bind_param(id, fmt::format("read by node '{}'", n.name));
    for (ValueId o : g_.outputs()) bind_param(o, "a graph output");
  }

  void bind_param(ValueId id, const std::string& role) {
    const Value& v = g_.value(id);
    if (v.kind != ValueKind::Param || params_[index(id)]) return;
    const auto it = weights_.find(v.name);
    if (it == weights_.end())
      throw InvalidInput(fmt::format("graph '{}': parameter '{}' (shape {}, {}) is missing from the weights",
                                     g_.name(), v.name, v.shape.to_string(), role));
    const Tensor& t = it->second;
    if (t.numel() != v.shape.numel() || static_cast<std::int64_t>(t.data.size()) != v.shape.numel())
      throw InvalidInput(fmt::format("graph '{}': parameter '{}' must have shape {} ({} values), the weights "
                                     "hold shape {} ({} values)",
                                     g_.name(), v.name, v.shape.to_string(), v.shape.numel(), t.shape.to_string(),
                                     t.data.size()));
    params_[index(id)] = t.ptr();
  }

  void plan_lifetimes() {
    for (const Node& n : g_.nodes())
      for (ValueId id : n.inputs) last_use_[index(id)] = n.id;
    for (ValueId o : g_.outputs()) last_use_[index(o)] = kKeepForever;
    for (ValueId id : g_.inputs())
      if (last_use_[index(id)] < 0) values_[index(id)] = Tensor();  // an input nobody reads
  }

  // With 16-bit rounding, the parameters of `n` are rounded copies, made when first read and dropped
  // after their last reader (so at most a few layers' weights are duplicated at a time).
  void round_params_for(const Node& n) {
    if (opt_.rounding == Rounding::None) return;
    for (ValueId id : n.inputs) {
      if (g_.value(id).kind != ValueKind::Param || !rounded_params_[index(id)].data.empty()) continue;
      rounded_params_[index(id)] = weights_.find(g_.value(id).name)->second;
      round_in_place(rounded_params_[index(id)].span(), opt_.rounding);
    }
  }

  // Drops the activations (and graph inputs) whose last reader was `n`, and `n`'s own output if
  // nobody reads it and it is not a graph output.
  void release_after(const Node& n) {
    for (ValueId id : n.inputs) {
      if (last_use_[index(id)] != n.id) continue;
      if (g_.value(id).kind == ValueKind::Param)
        rounded_params_[index(id)] = Tensor();
      else
        values_[index(id)] = Tensor();
    }
    if (last_use_[index(n.output)] < 0) values_[index(n.output)] = Tensor();
  }

  const float* data(ValueId id) const {
    if (g_.value(id).kind == ValueKind::Param)
      return opt_.rounding == Rounding::None ? params_[index(id)] : rounded_params_[index(id)].ptr();
    const Tensor& t = values_[index(id)];
    VRAMFIT_CHECK(t.numel() == g_.value(id).shape.numel() && !t.data.empty(),
                  fmt::format("value '{}' read before it was produced or after it was freed", g_.value(id).name));
    return t.ptr();
  }
  const float* in(const Node& n, std::size_t i) const { return data(n.inputs.at(i)); }
  const Shape& shape(const Node& n, std::size_t i) const { return g_.value(n.inputs.at(i)).shape; }

  Tensor execute(const Node& n, const Shape& out_shape) {
    if (n.op == OpKind::Flatten) {
      // A view in logical order: take over the buffer when this node is its last reader.
      const ValueId src = n.inputs.at(0);
      if (g_.value(src).kind != ValueKind::Param && last_use_[index(src)] == n.id) {
        (void)data(src);  // checks that it is live
        return Tensor(out_shape, std::move(values_[index(src)].data));
      }
    }
    Tensor y(out_shape);
    switch (n.op) {  // one function per op family below
      case OpKind::Conv2d:
      case OpKind::BatchNorm:
      case OpKind::MaxPool:
      case OpKind::AvgPool:
      case OpKind::GlobalAvgPool:
        image_op(n, y);
        return y;
      case OpKind::Relu:
      case OpKind::Gelu:
      case OpKind::Silu:
      case OpKind::Add:
      case OpKind::Linear:
      case OpKind::LayerNorm:
        elementwise_op(n, y);
        return y;
      case OpKind::Attention:
      case OpKind::ConcatClassToken:
      case OpKind::AddPositional:
      case OpKind::PatchFlatten:
      case OpKind::Flatten:
      case OpKind::Patchify:
      case OpKind::TakeToken:
        tokens_op(n, y);
        return y;
      case OpKind::Upsample:
      case OpKind::Concat:
      case OpKind::Slice:
      case OpKind::SpatialAttention:
      case OpKind::PoseDecode:
      case OpKind::Nms:
        yolo_op(n, y);
        return y;
    }
    // No default above, so -Wswitch flags an OpKind added to graph.h without a reference here.
    throw Unsupported(fmt::format("CPU reference: op {} (node '{}') is not implemented", to_string(n.op), n.name));
  }

  // Convolution, batch norm and pooling over [N, C, H, W].
  void image_op(const Node& n, Tensor& y) {
    switch (n.op) {
      case OpKind::Conv2d: {
        const auto& a = n.attr<Conv2dAttrs>();
        const Shape& x = shape(n, 0);
        const Conv2dShape s{.batch = x[0], .in_channels = x[1], .in_h = x[2], .in_w = x[3],
                            .out_channels = a.out_channels, .kernel_h = a.kernel_h, .kernel_w = a.kernel_w,
                            .stride_h = a.stride_h, .stride_w = a.stride_w, .pad_h = a.pad_h, .pad_w = a.pad_w,
                            .dilation_h = a.dilation_h, .dilation_w = a.dilation_w, .groups = a.groups};
        std::size_t next = 2;
        const float* bias = a.has_bias ? in(n, next++) : nullptr;
        const float* residual = a.has_residual ? in(n, next++) : nullptr;
        conv2d(in(n, 0), in(n, 1), bias, residual, y.ptr(), s, a.act);
        return;
      }
      case OpKind::BatchNorm: {
        const Shape& x = shape(n, 0);
        const std::int64_t inner = x.numel() / (x[0] * x[1]);
        batch_norm(in(n, 0), in(n, 1), in(n, 2), in(n, 3), in(n, 4), y.ptr(), x[0], x[1], inner,
                   n.attr<BatchNormAttrs>().eps);
        return;
      }
      case OpKind::MaxPool:
      case OpKind::AvgPool: {
        const auto& a = n.attr<PoolAttrs>();
        const Shape& x = shape(n, 0);
        const Pool2dShape s{.batch = x[0], .channels = x[1], .in_h = x[2], .in_w = x[3], .kernel_h = a.kernel_h,
                            .kernel_w = a.kernel_w, .stride_h = a.stride_h, .stride_w = a.stride_w,
                            .pad_h = a.pad_h, .pad_w = a.pad_w};
        if (n.op == OpKind::MaxPool)
          max_pool2d(in(n, 0), y.ptr(), s);
        else
          avg_pool2d(in(n, 0), y.ptr(), s);
        return;
      }
      case OpKind::GlobalAvgPool: {
        const Shape& x = shape(n, 0);
        global_avg_pool(in(n, 0), y.ptr(), x[0], x[1], x[2] * x[3]);
        return;
      }
      default:
        throw InternalError(fmt::format("CPU reference: {} is not an image op", to_string(n.op)));
    }
  }

  // Activations, add, linear and layer norm (over the last dim).
  void elementwise_op(const Node& n, Tensor& y) {
    switch (n.op) {
      case OpKind::Relu: relu(in(n, 0), y.ptr(), y.numel()); return;
      case OpKind::Gelu: gelu(in(n, 0), y.ptr(), y.numel()); return;
      case OpKind::Silu: silu(in(n, 0), y.ptr(), y.numel()); return;
      case OpKind::Add: add(in(n, 0), in(n, 1), y.ptr(), y.numel(), n.attr<AddAttrs>().act); return;
      case OpKind::Linear: {
        const auto& a = n.attr<LinearAttrs>();
        const std::int64_t k = shape(n, 0).back();
        const LinearShape s{.rows = shape(n, 0).numel() / k, .in_features = k, .out_features = a.out_features};
        std::size_t next = 2;
        const float* bias = a.has_bias ? in(n, next++) : nullptr;
        const float* residual = a.has_residual ? in(n, next++) : nullptr;
        linear(in(n, 0), in(n, 1), bias, residual, y.ptr(), s, a.act);
        return;
      }
      case OpKind::LayerNorm: {
        const std::int64_t e = shape(n, 0).back();
        layer_norm(in(n, 0), in(n, 1), in(n, 2), y.ptr(), shape(n, 0).numel() / e, e,
                   n.attr<LayerNormAttrs>().eps);
        return;
      }
      default:
        throw InternalError(fmt::format("CPU reference: {} is not an elementwise op", to_string(n.op)));
    }
  }

  // The transformer ops on token sequences [B, S, E] and the image → tokens reshapes.
  void tokens_op(const Node& n, Tensor& y) {
    switch (n.op) {
      case OpKind::Attention: {
        const Shape& x = shape(n, 0);
        attention(in(n, 0), y.ptr(),
                  AttentionShape{.batch = x[0], .seq = x[1], .embed = x[2] / 3,
                                 .heads = n.attr<AttentionAttrs>().num_heads});
        return;
      }
      case OpKind::ConcatClassToken: {
        const Shape& x = shape(n, 0);
        concat_class_token(in(n, 0), in(n, 1), y.ptr(), x[0], x[1], x[2]);
        return;
      }
      case OpKind::AddPositional: {
        const Shape& x = shape(n, 0);
        add_positional(in(n, 0), in(n, 1), y.ptr(), x[0], x[1], x[2]);
        return;
      }
      case OpKind::PatchFlatten: {
        const Shape& x = shape(n, 0);
        patch_flatten(in(n, 0), y.ptr(), x[0], x[1], x[2], x[3]);
        return;
      }
      case OpKind::Flatten: flatten(in(n, 0), y.ptr(), y.numel()); return;
      case OpKind::Patchify: {
        const Shape& x = shape(n, 0);
        patchify(in(n, 0), y.ptr(), x[0], x[1], x[2], x[3], n.attr<PatchifyAttrs>().patch);
        return;
      }
      case OpKind::TakeToken: {
        const Shape& x = shape(n, 0);
        take_token(in(n, 0), y.ptr(), x[0], x[1], x[2], n.attr<TakeTokenAttrs>().index);
        return;
      }
      default:
        throw InternalError(fmt::format("CPU reference: {} is not a tokens op", to_string(n.op)));
    }
  }

  // YOLO's ops: nearest upsampling, channel concat and slices, area attention, the pose decode, NMS.
  void yolo_op(const Node& n, Tensor& y) {
    const Shape& out_shape = y.shape;
    switch (n.op) {
      case OpKind::Upsample: {
        const Shape& x = shape(n, 0);
        upsample_nearest(in(n, 0), y.ptr(), x[0], x[1], x[2], x[3], n.attr<UpsampleAttrs>().scale);
        return;
      }
      case OpKind::Concat: {
        std::vector<const float*> xs;
        std::vector<std::int64_t> channels;
        for (std::size_t i = 0; i < n.inputs.size(); ++i) {
          xs.push_back(in(n, i));
          channels.push_back(shape(n, i)[1]);
        }
        concat_channels(xs, channels, y.ptr(), out_shape[0], out_shape[2] * out_shape[3]);
        return;
      }
      case OpKind::Slice: {
        const Shape& x = shape(n, 0);
        const auto& a = n.attr<SliceAttrs>();
        slice_channels(in(n, 0), y.ptr(), x[0], x[1], x[2] * x[3], a.begin, a.end, a.groups);
        return;
      }
      case OpKind::SpatialAttention: {
        const Shape& x = shape(n, 0);
        const auto& a = n.attr<SpatialAttentionAttrs>();
        spatial_attention(in(n, 0), y.ptr(),
                          SpatialAttentionShape{.batch = x[0], .heads = a.num_heads, .key_dim = a.key_dim,
                                                .head_dim = a.head_dim, .positions = x[2] * x[3], .scale = a.scale});
        return;
      }
      case OpKind::PoseDecode: {
        const auto& a = n.attr<PoseDecodeAttrs>();
        const std::size_t per_level = a.kpt_count > 0 ? 3 : 2;
        PoseDecodeShape s{.batch = out_shape[0], .num_classes = a.num_classes, .reg_max = a.reg_max,
                          .kpt_count = a.kpt_count, .kpt_dims = a.kpt_dims, .levels = {}};
        std::vector<const float*> box, cls, kpt;
        for (std::size_t l = 0; l < a.strides.size(); ++l) {
          const Shape& bs = shape(n, l * per_level);
          s.levels.push_back(DetectLevel{bs[2], bs[3], a.strides[l]});
          box.push_back(in(n, l * per_level));
          cls.push_back(in(n, l * per_level + 1));
          if (per_level == 3) kpt.push_back(in(n, l * per_level + 2));
        }
        pose_decode(box, cls, kpt, in(n, n.inputs.size() - 1), y.ptr(), s);
        return;
      }
      case OpKind::Nms: {
        const Shape& x = shape(n, 0);
        const auto& a = n.attr<NmsAttrs>();
        nms(in(n, 0), y.ptr(), x[0], x[1], x[2],
            NmsParams{.num_classes = a.num_classes, .conf_threshold = a.conf_threshold, .iou_threshold = a.iou_threshold,
                      .max_det = a.max_det, .agnostic = a.agnostic});
        return;
      }
      default:
        throw InternalError(fmt::format("CPU reference: {} is not a yolo op", to_string(n.op)));
    }
  }

  const Graph& g_;
  const TensorMap& weights_;
  const RunOptions& opt_;
  std::vector<Tensor> values_;           // live activations and inputs, by value id
  std::vector<const float*> params_;     // bound parameter data, by value id
  std::vector<Tensor> rounded_params_;   // 16-bit-rounded copies of the live parameters
  std::vector<std::int64_t> last_use_;   // node id of the last reader; kKeepForever for outputs
};

}  // namespace

std::vector<Tensor> run_graph(const Graph& g, const TensorMap& weights, std::span<const Tensor> inputs,
                              const RunOptions& opt) {
  return Runner(g, weights, opt).run(inputs);
}

}  // namespace vramfit::cpu
