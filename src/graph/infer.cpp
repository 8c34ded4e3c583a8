// Shape inference (graph.h Graph::infer): one function per op family, each checking its node's inputs
// against the attributes and saying the output shape; InvalidInput naming the node otherwise.
#include <fmt/format.h>

#include <string>

#include "core/error.h"
#include "graph/graph.h"

namespace vramfit {

namespace {

[[noreturn]] void shape_error(const Node& n, const std::string& what) {
  throw InvalidInput(fmt::format("{} '{}': {}", to_string(n.op), n.name, what));
}

std::int64_t conv_out(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d) {
  return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

// in(i): the shape of node n's input i.
struct InputShapes {
  const Graph& g;
  const Node& n;
  const Shape& operator()(std::size_t i) const { return g.value(n.inputs.at(i)).shape; }
};

void need_inputs(const Node& n, std::size_t lo, std::size_t hi) {
  if (n.inputs.size() < lo || n.inputs.size() > hi)
    shape_error(n, fmt::format("expects {}..{} inputs, got {}", lo, hi, n.inputs.size()));
}

// Conv2d: [N, C, H, W] → [N, K, OH, OW]; the weight must match the attributes, a residual the output.
Shape infer_conv(const Graph& g, const Node& n) {
  const InputShapes in{g, n};
  const auto& a = n.attr<Conv2dAttrs>();
  need_inputs(n, 2, 4);
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

// Ops whose output has their input's shape: batch norm, activations, add, layer norm.
Shape infer_elementwise(const Graph& g, const Node& n) {
  const InputShapes in{g, n};
  switch (n.op) {
    case OpKind::BatchNorm:
      need_inputs(n, 5, 5);
      if (in(0).rank() < 2) shape_error(n, "input must have channels");
      return in(0);
    case OpKind::Relu:
    case OpKind::Gelu:
    case OpKind::Silu:
      need_inputs(n, 1, 1);
      return in(0);
    case OpKind::Add:
      need_inputs(n, 2, 2);
      if (in(0) != in(1)) shape_error(n, "shapes differ: " + in(0).to_string() + " vs " + in(1).to_string());
      return in(0);
    case OpKind::LayerNorm:
      need_inputs(n, 3, 3);
      if (in(1) != Shape{in(0).back()}) shape_error(n, "gamma must match the last dim");
      return in(0);
    default:
      break;
  }
  shape_error(n, "not an elementwise op");
}

// Windowed and global pooling over [N, C, H, W].
Shape infer_pool(const Graph& g, const Node& n) {
  const InputShapes in{g, n};
  switch (n.op) {
    case OpKind::MaxPool:
    case OpKind::AvgPool: {
      need_inputs(n, 1, 1);
      const auto& a = n.attr<PoolAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 4) shape_error(n, "input must be 4-D");
      const std::int64_t oh = conv_out(x[2], a.kernel_h, a.stride_h, a.pad_h, 1);
      const std::int64_t ow = conv_out(x[3], a.kernel_w, a.stride_w, a.pad_w, 1);
      if (oh <= 0 || ow <= 0) shape_error(n, "input too small for the window");
      return Shape{x[0], x[1], oh, ow};
    }
    case OpKind::GlobalAvgPool:
      need_inputs(n, 1, 1);
      if (in(0).rank() != 4) shape_error(n, "input must be 4-D");
      return Shape{in(0)[0], in(0)[1], 1, 1};
    default:
      break;
  }
  shape_error(n, "not a pool op");
}

// Linear over the last dim: [..., K] → [..., N]; a residual must match the output.
Shape infer_linear(const Graph& g, const Node& n) {
  const InputShapes in{g, n};
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

// The transformer ops on token sequences [B, S, E] and the image → tokens reshapes.
Shape infer_tokens(const Graph& g, const Node& n) {
  const InputShapes in{g, n};
  switch (n.op) {
    case OpKind::Attention: {
      need_inputs(n, 1, 1);
      const auto& a = n.attr<AttentionAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 3 || x[2] % 3 || (x[2] / 3) % a.num_heads)
        shape_error(n, "qkv " + x.to_string() + " must be [B, S, 3E] with E divisible by heads");
      return Shape{x[0], x[1], x[2] / 3};
    }
    case OpKind::ConcatClassToken:
      need_inputs(n, 2, 2);
      if (in(0).rank() != 3 || in(1) != Shape{1, 1, in(0)[2]}) shape_error(n, "class token must be [1, 1, E]");
      return Shape{in(0)[0], in(0)[1] + 1, in(0)[2]};
    case OpKind::AddPositional:
      need_inputs(n, 2, 2);
      if (in(0).rank() != 3 || in(1) != Shape{1, in(0)[1], in(0)[2]})
        shape_error(n, "positional " + in(1).to_string() + " must be [1, S, E] for " + in(0).to_string());
      return in(0);
    case OpKind::PatchFlatten:
      need_inputs(n, 1, 1);
      if (in(0).rank() != 4) shape_error(n, "input must be 4-D");
      return Shape{in(0)[0], in(0)[2] * in(0)[3], in(0)[1]};
    case OpKind::Flatten:
      need_inputs(n, 1, 1);
      return Shape{in(0)[0], in(0).numel_per_sample()};
    case OpKind::Patchify: {
      need_inputs(n, 1, 1);
      const std::int64_t p = n.attr<PatchifyAttrs>().patch;
      const Shape& x = in(0);
      if (x.rank() != 4 || p < 1 || x[2] % p || x[3] % p)
        shape_error(n, "input " + x.to_string() + " must be 4-D with H and W divisible by the patch " + std::to_string(p));
      return Shape{x[0], (x[2] / p) * (x[3] / p), x[1] * p * p};
    }
    case OpKind::TakeToken: {
      need_inputs(n, 1, 1);
      const auto& a = n.attr<TakeTokenAttrs>();
      if (in(0).rank() != 3 || a.index < 0 || a.index >= in(0)[1]) shape_error(n, "token index out of range");
      return Shape{in(0)[0], in(0)[2]};
    }
    default:
      break;
  }
  shape_error(n, "not a tokens op");
}

// YOLO's image ops: nearest upsampling, channel concat and slices, area attention, NMS.
Shape infer_yolo(const Graph& g, const Node& n) {
  const InputShapes in{g, n};
  switch (n.op) {
    case OpKind::Upsample: {
      need_inputs(n, 1, 1);
      const std::int64_t s = n.attr<UpsampleAttrs>().scale;
      if (in(0).rank() != 4 || s < 1) shape_error(n, "needs a 4-D input and a scale ≥ 1");
      return Shape{in(0)[0], in(0)[1], in(0)[2] * s, in(0)[3] * s};
    }
    case OpKind::Concat: {
      need_inputs(n, 1, 64);
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
      need_inputs(n, 1, 1);
      const auto& a = n.attr<SliceAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 4 || a.groups < 1 || x[1] % a.groups) shape_error(n, "needs a 4-D input whose channels split into the groups");
      const std::int64_t block = x[1] / a.groups;
      if (a.begin < 0 || a.end > block || a.begin >= a.end)
        shape_error(n, fmt::format("channel range [{}, {}) is empty or outside a block of {}", a.begin, a.end, block));
      return Shape{x[0], a.groups * (a.end - a.begin), x[2], x[3]};
    }
    case OpKind::SpatialAttention: {
      need_inputs(n, 1, 1);
      const auto& a = n.attr<SpatialAttentionAttrs>();
      const Shape& x = in(0);
      if (a.num_heads < 1 || a.key_dim < 1 || a.head_dim < 1) shape_error(n, "heads and dims must be ≥ 1");
      if (x.rank() != 4 || x[1] != a.num_heads * (2 * a.key_dim + a.head_dim))
        shape_error(n, fmt::format("qkv {} must be [B, {}·(2·{} + {}), H, W]", x.to_string(), a.num_heads, a.key_dim, a.head_dim));
      return Shape{x[0], a.num_heads * a.head_dim, x[2], x[3]};
    }
    case OpKind::Nms: {
      need_inputs(n, 1, 1);
      const auto& a = n.attr<NmsAttrs>();
      const Shape& x = in(0);
      if (x.rank() != 3 || a.num_classes < 1 || x[1] < 4 + a.num_classes || a.max_det < 1)
        shape_error(n, "input " + x.to_string() + " must be [B, 4 + classes + extras, anchors] and max_det ≥ 1");
      return Shape{x[0], a.max_det, 6 + x[1] - 4 - a.num_classes};
    }
    default:
      break;
  }
  shape_error(n, "not a yolo op");
}

// The YOLO pose head's decode: per level box, class (and keypoint) maps + the DFL bins → [B, 4 + classes + keypoints, anchors].
Shape infer_pose(const Graph& g, const Node& n) {
  const InputShapes in{g, n};
  const auto& a = n.attr<PoseDecodeAttrs>();
  const std::size_t per_level = a.kpt_count > 0 ? 3 : 2;
  const std::size_t levels = a.strides.size();
  if (levels == 0 || a.reg_max < 1 || a.num_classes < 1 || a.kpt_count < 0 || (a.kpt_count > 0 && a.kpt_dims != 2 && a.kpt_dims != 3))
    shape_error(n, "needs ≥ 1 level, reg_max ≥ 1, ≥ 1 class and keypoints of 2 or 3 dims");
  need_inputs(n, per_level * levels + 1, per_level * levels + 1);
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

}  // namespace

// One function per op family above: each checks its inputs and says the output shape.
Shape Graph::infer(const Node& n) const {
  switch (n.op) {
    case OpKind::Conv2d:
      return infer_conv(*this, n);
    case OpKind::BatchNorm:
    case OpKind::Relu:
    case OpKind::Gelu:
    case OpKind::Silu:
    case OpKind::Add:
    case OpKind::LayerNorm:
      return infer_elementwise(*this, n);
    case OpKind::MaxPool:
    case OpKind::AvgPool:
    case OpKind::GlobalAvgPool:
      return infer_pool(*this, n);
    case OpKind::Linear:
      return infer_linear(*this, n);
    case OpKind::Attention:
    case OpKind::ConcatClassToken:
    case OpKind::AddPositional:
    case OpKind::PatchFlatten:
    case OpKind::Flatten:
    case OpKind::Patchify:
    case OpKind::TakeToken:
      return infer_tokens(*this, n);
    case OpKind::Upsample:
    case OpKind::Concat:
    case OpKind::Slice:
    case OpKind::SpatialAttention:
    case OpKind::Nms:
      return infer_yolo(*this, n);
    case OpKind::PoseDecode:
      return infer_pose(*this, n);
  }
  shape_error(n, "unknown op");
}

}  // namespace vramfit
