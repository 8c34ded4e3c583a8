// The executor's gate and lowering (executor_lowering.h): one function per op family.
#include "backend/cuda/executor_lowering.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "backend/cuda/kernels/attention.cuh"
#include "backend/cuda/kernels/channel_copy.cuh"
#include "backend/cuda/kernels/elementwise.cuh"
#include "backend/cuda/kernels/layernorm.cuh"
#include "backend/cuda/kernels/nms.cuh"
#include "backend/cuda/kernels/patchify.cuh"
#include "backend/cuda/kernels/pooling.cuh"
#include "backend/cuda/kernels/pose_decode.cuh"
#include "backend/cuda/kernels/spatial_attention.cuh"
#include "backend/cuda/kernels/tokens.cuh"
#include "backend/cuda/kernels/upsample.cuh"
#include "core/error.h"

namespace vramfit::cuda {

namespace {

// The ConvParams cuDNN runs for a Conv2d node, and the activation that then runs as its own kernel:
// cuDNN's fused epilogue has ReLU only, so SiLU (YOLO) or GELU runs as the elementwise kernel on y,
// after bias and residual (graph.h: act(conv + b + res)).
ConvParams cudnn_conv_params(const Graph& g, const Node& n, bool allow_tf32, Activation* separate) {
  ConvParams cp = conv_params_from_node(g, n, allow_tf32);
  *separate = Activation::None;
  if (cp.act != Activation::None && cp.act != Activation::Relu) std::swap(*separate, cp.act);
  return cp;
}

kernels::AttentionDims attention_dims(const Graph& g, const Node& n) {
  const Shape& qs = g.value(n.inputs[0]).shape;
  kernels::AttentionDims d;
  d.batch = qs[0];
  d.seq = qs[1];
  d.embed = qs[2] / 3;
  d.heads = n.attr<AttentionAttrs>().num_heads;
  return d;
}

// ViT's class token is prepended and the positional embedding added in one kernel: the CUDA backend
// runs a ConcatClassToken only when the AddPositional that consumes it comes next (torchvision's order).
bool fused_with_positional(const Graph& g, std::size_t i) {
  const auto& nodes = g.nodes();
  const std::size_t j = i + 1;
  return j < nodes.size() && nodes[j].op == OpKind::AddPositional && nodes[j].inputs[0] == nodes[i].output &&
         g.consumers(nodes[i].output).size() == 1;
}

[[noreturn]] void refuse(const Node& n, const std::string& why) { throw Unsupported(n.name + ": " + why); }

// One node's gate; returns whether the next node is fused into this one (and so needs no gate).
bool gate_node(const Graph& g, std::size_t i, const ExecutorOptions& opt, int cc) {
  const Node& n = g.nodes()[i];
  const DType dt = g.value(n.output).dtype;
  switch (n.op) {
    case OpKind::Conv2d: {
      Activation separate = Activation::None;
      const ConvParams cp = cudnn_conv_params(g, n, opt.allow_tf32, &separate);
      if (auto why = ConvRunner::unsupported_reason(cp, cc)) refuse(n, *why);
      return false;
    }
    case OpKind::Linear:
      if (auto why = LinearRunner::unsupported_reason(linear_params_from_node(g, n, opt.allow_tf32), cc)) refuse(n, *why);
      return false;
    case OpKind::Attention:
      if (auto why = AttentionRunner::unsupported_reason(dt, attention_dims(g, n), cc)) refuse(n, *why);
      return false;
    case OpKind::ConcatClassToken:
      if (!fused_with_positional(g, i)) refuse(n, "a class token not followed by a positional add is not implemented on CUDA");
      return true;
    case OpKind::AddPositional:
      refuse(n, "a positional add without a class token is not implemented on CUDA");
    case OpKind::Flatten:
      if (!is_view(g, n)) refuse(n, "flatten of an NHWC tensor with H·W > 1 is not implemented on CUDA");
      return false;
    case OpKind::SpatialAttention: {
      const auto& a = n.attr<SpatialAttentionAttrs>();
      if (auto why = kernels::spatial_attention_unsupported(dt, a.key_dim, a.head_dim)) refuse(n, *why);
      return false;
    }
    case OpKind::Nms:
      if (auto why = kernels::nms_unsupported(dt, g.value(n.inputs[0]).shape[2])) refuse(n, *why);
      return false;
    case OpKind::BatchNorm:
      refuse(n, "batch norm must be folded into its convolution before the CUDA backend (graph/passes.h)");
    default:
      return false;
  }
}

}  // namespace

void gate_graph(const Graph& g, const ExecutorOptions& opt, int compute_capability) {
  for (std::size_t i = 0; i < g.nodes().size(); ++i)
    if (gate_node(g, i, opt, compute_capability)) ++i;
  if (opt.shared_weights) return;  // no weights of its own to store
  for (ValueId p : g.params()) {
    const DType t = g.value(p).dtype;
    if (t != DType::f32 && t != DType::f16 && t != DType::bf16)  // what executor.cpp's to_device_format stores
      throw Unsupported(fmt::format("the CUDA executor cannot store dtype {} yet", to_string(t)));
  }
}

void Executor::Lowering::lower_all() {
  const auto& nodes = g.nodes();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    const std::size_t steps_before = e.steps_.size();
    label_ = std::string(to_string(n.op));  // Attention adds the implementation chosen
    bool took_next = false;
    switch (n.op) {
      case OpKind::Conv2d: conv(n); break;
      case OpKind::Linear: linear(n); break;
      case OpKind::Attention: attention(n); break;
      case OpKind::Relu:
      case OpKind::Gelu:
      case OpKind::Silu:
      case OpKind::Add:
      case OpKind::LayerNorm: elementwise(n); break;
      case OpKind::MaxPool:
      case OpKind::AvgPool:
      case OpKind::GlobalAvgPool: pooling(n); break;
      case OpKind::ConcatClassToken:
      case OpKind::PatchFlatten:
      case OpKind::Flatten:
      case OpKind::Patchify:
      case OpKind::TakeToken: took_next = tokens(n, i + 1 < nodes.size() ? &nodes[i + 1] : nullptr); break;
      case OpKind::Upsample:
      case OpKind::Concat:
      case OpKind::Slice:
      case OpKind::SpatialAttention:
      case OpKind::PoseDecode:
      case OpKind::Nms: yolo(n); break;
      case OpKind::AddPositional:  // only fused (tokens()); the gate refused it alone
      case OpKind::BatchNorm:      // folded by the passes; the gate refused it
        throw InternalError(n.name + ": " + std::string(to_string(n.op)) + " passed the CUDA gate");
    }
    for (std::size_t k = steps_before; k < e.steps_.size(); ++k) e.step_labels_.emplace_back(n.name, label_);
    if (took_next) ++i;
  }
}

void Executor::Lowering::chose(const Node& n, const std::string& what, std::uint64_t workspace) {
  e.workspace_used_ = std::max(e.workspace_used_, workspace);
  e.choices_.push_back(n.name + ": " + what);
}

void Executor::Lowering::conv(const Node& n) {
  Activation sep = Activation::None;
  const ConvParams cp = cudnn_conv_params(g, n, opt.allow_tf32, &sep);
  auto runner = std::make_unique<ConvRunner>(e.handles_->cudnn.get(), cp, opt.workspace_bytes, e.handles_->algorithms);
  const auto& a = n.attr<Conv2dAttrs>();
  const void* x = ptr(n.inputs[0]);
  const void* w = ptr(n.inputs[1]);
  const void* b = a.has_bias ? ptr(n.inputs[2]) : nullptr;
  const void* z = a.has_residual ? ptr(n.inputs.back()) : nullptr;
  void* y = ptr(n.output);
  void* wsp_ = wsp;
  // Tune writes y: only when y does not alias the residual it would clobber (set-up order is
  // irrelevant otherwise: nothing meaningful lives in the arena yet).
  // A shape this process measured before (another node of the same shape, another stream, an
  // earlier session) keeps that measured choice (the AlgorithmCache) instead of timing again.
  if (opt.autotune && !runner->choice().measured) runner->tune(stream, x, w, y, wsp_);
  chose(n, runner->describe(), runner->workspace_bytes());
  const ConvRunner* r = runner.get();
  const DType dt = g.value(n.output).dtype;
  const std::int64_t count = g.value(n.output).shape.numel();
  step([r, x, w, b, z, y, wsp_, sep, dt, count](cudaStream_t s) {
    r->run(s, x, w, b, z, y, wsp_);
    if (sep != Activation::None) kernels::activation(dt, y, y, count, sep, s);
  });
  e.handles_->convs.push_back(std::move(runner));
}

void Executor::Lowering::linear(const Node& n) {
  const LinearParams lp = linear_params_from_node(g, n, opt.allow_tf32);
  auto runner = std::make_unique<LinearRunner>(e.handles_->cublaslt.get(), lp, opt.workspace_bytes, e.handles_->algorithms);
  const auto& a = n.attr<LinearAttrs>();
  const void* x = ptr(n.inputs[0]);
  const void* w = ptr(n.inputs[1]);
  const void* b = a.has_bias ? ptr(n.inputs[2]) : nullptr;
  const void* res = a.has_residual ? ptr(n.inputs.back()) : nullptr;
  void* y = ptr(n.output);
  void* wsp_ = wsp;
  if (opt.autotune && !a.has_residual && !runner->choice().measured) runner->tune(stream, x, w, b, y, wsp_);
  chose(n, runner->describe(), runner->workspace_bytes());
  const LinearRunner* r = runner.get();
  const Activation sep = r->separate_activation();
  const DType dt = g.value(n.output).dtype;
  const std::int64_t count = g.value(n.output).shape.numel();
  step([r, x, w, b, res, y, wsp_, sep, dt, count](cudaStream_t s) {
    r->run(s, x, w, b, res, y, wsp_);
    if (sep != Activation::None) kernels::activation(dt, y, y, count, sep, s);
  });
  e.handles_->linears.push_back(std::move(runner));
}

void Executor::Lowering::attention(const Node& n) {
  const DType dt = g.value(n.output).dtype;
  const kernels::AttentionDims d = attention_dims(g, n);
  const void* x = ptr(n.inputs[0]);
  void* y = ptr(n.output);
  void* wsp_ = wsp;
  // Our kernel or cuDNN's fused SDPA, the faster for this shape (attention_runner.h); one runner
  // per shape, timed once (with autotune) on the first node's buffers.
  auto [it, fresh] = e.handles_->attention.try_emplace(
      fmt::format("B{} S{} E{} H{} {}", d.batch, d.seq, d.embed, d.heads, to_string(dt)));
  if (fresh) {
    try {
      it->second = std::make_unique<AttentionRunner>(e.handles_->cudnn.get(), dt, d, opt.workspace_bytes, e.handles_->cc,
                                                     e.handles_->algorithms);
    } catch (const Unsupported& err) {
      throw Unsupported(n.name + ": " + err.what());
    }
    if (opt.autotune && !it->second->choice().measured) it->second->tune(stream, x, y, wsp_);
    else if (it->second->impl() == AttentionImpl::Cudnn) it->second->run(stream, x, y, wsp_);  // warm up before capture
  }
  const AttentionRunner* r = it->second.get();
  chose(n, r->describe(), r->workspace_bytes());
  label_ = fmt::format("Attention[{}]", r->impl_label());
  step([r, x, y, wsp_](cudaStream_t s) { r->run(s, x, y, wsp_); });
}

void Executor::Lowering::elementwise(const Node& n) {
  const Value& out = g.value(n.output);
  const DType dt = out.dtype;
  const void* x = ptr(n.inputs[0]);
  void* y = ptr(n.output);
  const std::int64_t count = out.shape.numel();
  switch (n.op) {
    case OpKind::Relu:
    case OpKind::Gelu:
    case OpKind::Silu: {
      const Activation act = n.op == OpKind::Relu ? Activation::Relu : n.op == OpKind::Gelu ? Activation::Gelu : Activation::Silu;
      step([=](cudaStream_t s) { kernels::activation(dt, x, y, count, act, s); });
      return;
    }
    case OpKind::Add: {
      const void* b2 = ptr(n.inputs[1]);
      const Activation act = n.attr<AddAttrs>().act;
      step([=](cudaStream_t s) { kernels::add(dt, x, b2, y, count, act, s); });
      return;
    }
    case OpKind::LayerNorm: {
      const void* gamma = ptr(n.inputs[1]);
      const void* beta = ptr(n.inputs[2]);
      const std::int64_t e_dim = out.shape.back(), rows = count / e_dim;
      const float eps = n.attr<LayerNormAttrs>().eps;
      step([=](cudaStream_t s) { kernels::layer_norm(dt, x, gamma, beta, y, rows, e_dim, eps, s); });
      return;
    }
    default:
      throw InternalError(n.name + ": not an elementwise op");
  }
}

void Executor::Lowering::pooling(const Node& n) {
  const DType dt = g.value(n.output).dtype;
  const Value& in = g.value(n.inputs[0]);
  const Shape& xs = in.shape;
  const Layout lay = image_layout(in);
  const void* x = ptr(n.inputs[0]);
  void* y = ptr(n.output);
  if (n.op == OpKind::GlobalAvgPool) {
    const std::int64_t nb = xs[0], c = xs[1], plane = xs[2] * xs[3];
    step([=](cudaStream_t s) { kernels::global_avg_pool(dt, lay, x, y, nb, c, plane, s); });
    return;
  }
  const auto& a = n.attr<PoolAttrs>();
  kernels::Pool2dDims d;
  d.batch = xs[0]; d.channels = xs[1]; d.in_h = xs[2]; d.in_w = xs[3];
  d.kernel_h = a.kernel_h; d.kernel_w = a.kernel_w; d.stride_h = a.stride_h; d.stride_w = a.stride_w;
  d.pad_h = a.pad_h; d.pad_w = a.pad_w;
  const bool is_max = n.op == OpKind::MaxPool;
  step([=](cudaStream_t s) {
    if (is_max) kernels::max_pool2d(dt, lay, x, y, d, s);
    else kernels::avg_pool2d(dt, lay, x, y, d, s);
  });
}

bool Executor::Lowering::tokens(const Node& n, const Node* next) {
  const DType dt = g.value(n.output).dtype;
  const Value& in = g.value(n.inputs[0]);
  const Shape& xs = in.shape;
  const void* x = ptr(n.inputs[0]);
  void* y = ptr(n.output);
  switch (n.op) {
    case OpKind::ConcatClassToken: {
      // Fused with the AddPositional that must follow (torchvision's ViT order; the gate checked it).
      VRAMFIT_CHECK(next != nullptr && next->op == OpKind::AddPositional, n.name + ": the class token's positional add");
      const void* cls = ptr(n.inputs[1]);
      const void* pos = ptr(next->inputs[1]);
      void* y2 = ptr(next->output);
      const std::int64_t nb = xs[0], seq = xs[1], e_dim = xs[2];
      if (y2 == x) throw InternalError(n.name + ": fused class token output aliases its input");
      step([=](cudaStream_t s) { kernels::class_token_positional(dt, x, cls, pos, y2, nb, seq, e_dim, s); });
      return true;
    }
    case OpKind::PatchFlatten: {
      if (is_view(g, n)) return false;
      const std::int64_t nb = xs[0], c = xs[1], h = xs[2], w = xs[3];
      step([=](cudaStream_t s) { kernels::patch_flatten(dt, x, y, nb, c, h, w, s); });
      return false;
    }
    case OpKind::Flatten:
      return false;  // a view (the gate refused the others)
    case OpKind::Patchify: {
      const Layout lay = image_layout(in);
      const std::int64_t nb = xs[0], c = xs[1], h = xs[2], w = xs[3], p = n.attr<PatchifyAttrs>().patch;
      step([=](cudaStream_t s) { kernels::patchify(dt, lay, x, y, nb, c, h, w, p, s); });
      return false;
    }
    case OpKind::TakeToken: {
      const std::int64_t nb = xs[0], seq = xs[1], e_dim = xs[2], idx = n.attr<TakeTokenAttrs>().index;
      step([=](cudaStream_t s) { kernels::take_token(dt, x, y, nb, seq, e_dim, idx, s); });
      return false;
    }
    default:
      throw InternalError(n.name + ": not a token op");
  }
}

void Executor::Lowering::yolo(const Node& n) {
  const Value& out = g.value(n.output);
  const DType dt = out.dtype;
  const Value& in = g.value(n.inputs[0]);
  const Shape& xs = in.shape;
  const Layout lay = image_layout(in);
  const void* x = ptr(n.inputs[0]);
  void* y = ptr(n.output);
  switch (n.op) {
    case OpKind::Upsample: {
      const std::int64_t nb = xs[0], c = xs[1], h = xs[2], w = xs[3], sc = n.attr<UpsampleAttrs>().scale;
      step([=](cudaStream_t s) { kernels::upsample_nearest(dt, lay, x, y, nb, c, h, w, sc, s); });
      return;
    }
    case OpKind::Concat: {
      std::vector<const void*> srcs;
      std::vector<std::int64_t> channels;
      for (ValueId v : n.inputs) {
        srcs.push_back(ptr(v));
        channels.push_back(g.value(v).shape[1]);
      }
      const Layout out_lay = image_layout(out);
      const std::int64_t nb = out.shape[0], plane = out.shape[2] * out.shape[3];
      step([=](cudaStream_t s) { kernels::concat_channels(dt, out_lay, srcs, channels, y, nb, plane, s); });
      return;
    }
    case OpKind::Slice: {
      const auto& a = n.attr<SliceAttrs>();
      const std::int64_t nb = xs[0], c = xs[1], plane = xs[2] * xs[3], b0 = a.begin, b1 = a.end, gr = a.groups;
      step([=](cudaStream_t s) { kernels::slice_channels(dt, lay, x, y, nb, c, plane, b0, b1, gr, s); });
      return;
    }
    case OpKind::SpatialAttention: {
      const auto& a = n.attr<SpatialAttentionAttrs>();
      kernels::SpatialAttentionDims d;
      d.batch = xs[0]; d.heads = a.num_heads; d.key_dim = a.key_dim; d.head_dim = a.head_dim;
      d.positions = xs[2] * xs[3]; d.scale = a.scale;
      step([=](cudaStream_t s) { kernels::spatial_attention(dt, lay, x, y, d, s); });
      return;
    }
    case OpKind::PoseDecode: {
      const auto& a = n.attr<PoseDecodeAttrs>();
      const std::size_t per_level = a.kpt_count > 0 ? 3 : 2;
      std::vector<kernels::PoseDecodeLevel> levels;
      for (std::size_t l = 0; l < a.strides.size(); ++l) {
        kernels::PoseDecodeLevel L;
        const Shape& bs = g.value(n.inputs[l * per_level]).shape;
        L.box = ptr(n.inputs[l * per_level]);
        L.cls = ptr(n.inputs[l * per_level + 1]);
        L.kpt = per_level == 3 ? ptr(n.inputs[l * per_level + 2]) : nullptr;
        L.h = bs[2]; L.w = bs[3]; L.stride = a.strides[l];
        levels.push_back(L);
      }
      kernels::PoseDecodeDims d;
      d.batch = out.shape[0]; d.num_classes = a.num_classes; d.reg_max = a.reg_max; d.kpt_count = a.kpt_count;
      d.kpt_dims = a.kpt_dims;
      const void* bins = ptr(n.inputs.back());
      step([=](cudaStream_t s) { kernels::pose_decode(dt, lay, levels, bins, y, d, s); });
      return;
    }
    case OpKind::Nms: {
      const auto& a = n.attr<NmsAttrs>();
      kernels::NmsDims d;
      d.batch = xs[0]; d.channels = xs[1]; d.anchors = xs[2]; d.num_classes = a.num_classes; d.max_det = a.max_det;
      d.conf_threshold = a.conf_threshold; d.iou_threshold = a.iou_threshold; d.agnostic = a.agnostic;
      step([=](cudaStream_t s) { kernels::nms(dt, x, y, d, s); });
      return;
    }
    default:
      throw InternalError(n.name + ": not a YOLO op");
  }
}

}  // namespace vramfit::cuda
