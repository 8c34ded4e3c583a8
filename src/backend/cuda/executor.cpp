#include "backend/cuda/executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "backend/cuda/attention_runner.h"
#include "backend/cuda/check.h"
#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/cudnn_conv.h"
#include "backend/cuda/kernels/fault.cuh"
#include "backend/cuda/kernels/layout.cuh"
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
#include "core/fault.h"
#include "core/rng.h"
#include "core/half.h"
#include "graph/cost.h"

namespace vramfit::cuda {

namespace {

constexpr std::uint64_t kAlign = 256;
std::uint64_t align_up(std::uint64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

void store(DType t, float v, std::uint8_t* dst) {
  switch (t) {
    case DType::f32: std::memcpy(dst, &v, 4); return;
    case DType::f16: { const std::uint16_t h = float_to_half_bits(v); std::memcpy(dst, &h, 2); return; }
    case DType::bf16: { const std::uint16_t h = float_to_bf16_bits(v); std::memcpy(dst, &h, 2); return; }
    default: throw Unsupported(fmt::format("the CUDA executor cannot store dtype {} yet", to_string(t)));
  }
}

float load(DType t, const std::uint8_t* src) {
  switch (t) {
    case DType::f32: { float v; std::memcpy(&v, src, 4); return v; }
    case DType::f16: { std::uint16_t h; std::memcpy(&h, src, 2); return half_bits_to_float(h); }
    case DType::bf16: { std::uint16_t h; std::memcpy(&h, src, 2); return bf16_bits_to_float(h); }
    default: throw Unsupported(fmt::format("the CUDA executor cannot load dtype {} yet", to_string(t)));
  }
}

// Index of logical NCHW element (n, c, h, w) in NHWC storage.
inline std::size_t nhwc_index(const Shape& s, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return static_cast<std::size_t>(((n * s[2] + h) * s[3] + w) * s[1] + c);
}

}  // namespace

std::vector<std::uint8_t> to_device_format(std::span<const float> src, const Shape& logical, DType dtype, Layout layout) {
  VRAMFIT_CHECK(static_cast<std::int64_t>(src.size()) == logical.numel(), "to_device_format size");
  const std::size_t es = storage_bytes(dtype, 1);
  std::vector<std::uint8_t> out(src.size() * es);
  if (layout == Layout::NHWC && logical.rank() == 4) {
    std::size_t i = 0;
    for (std::int64_t n = 0; n < logical[0]; ++n)
      for (std::int64_t c = 0; c < logical[1]; ++c)
        for (std::int64_t h = 0; h < logical[2]; ++h)
          for (std::int64_t w = 0; w < logical[3]; ++w) store(dtype, src[i++], out.data() + nhwc_index(logical, n, c, h, w) * es);
  } else {
    for (std::size_t i = 0; i < src.size(); ++i) store(dtype, src[i], out.data() + i * es);
  }
  return out;
}

std::vector<float> from_device_format(std::span<const std::uint8_t> src, const Shape& logical, DType dtype, Layout layout) {
  const std::size_t es = storage_bytes(dtype, 1);
  VRAMFIT_CHECK(src.size() == static_cast<std::size_t>(logical.numel()) * es, "from_device_format size");
  std::vector<float> out(static_cast<std::size_t>(logical.numel()));
  if (layout == Layout::NHWC && logical.rank() == 4) {
    std::size_t i = 0;
    for (std::int64_t n = 0; n < logical[0]; ++n)
      for (std::int64_t c = 0; c < logical[1]; ++c)
        for (std::int64_t h = 0; h < logical[2]; ++h)
          for (std::int64_t w = 0; w < logical[3]; ++w) out[i++] = load(dtype, src.data() + nhwc_index(logical, n, c, h, w) * es);
  } else {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = load(dtype, src.data() + i * es);
  }
  return out;
}

std::uint64_t weights_region_bytes(const Graph& g) { return aligned_weight_bytes(g, kAlign); }

std::uint64_t required_arena_bytes(const Graph& g, const Plan& plan, const ExecutorOptions& opt, int streams) {
  // Regions are allocated in this order, each 256-aligned, so the sum of aligned sizes is exact.
  VRAMFIT_CHECK(plan.weight_bytes == weights_region_bytes(g), "plan and executor disagree on the weights region");
  VRAMFIT_CHECK(streams >= 1, "streams must be ≥ 1");
  return plan.weight_bytes + static_cast<std::uint64_t>(streams) * (align_up(plan.arena_bytes) + align_up(opt.workspace_bytes));
}

struct Executor::Handles {
  CudnnHandle cudnn;
  CublasLtHandle cublaslt;
  std::vector<std::unique_ptr<ConvRunner>> convs;
  std::vector<std::unique_ptr<LinearRunner>> linears;
  std::map<std::string, std::unique_ptr<AttentionRunner>> attention;  // one per shape
  int cc = 0;
};

Executor::Executor(const Graph& g, const Plan& plan, const TensorMap& weights, DeviceArena& arena,
                   const ExecutorOptions& opt, cudaStream_t stream)
    : g_(g), plan_(plan), handles_(std::make_unique<Handles>()) {
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  handles_->cc = query(dev).compute_capability();
  value_ptr_.assign(g.values().size(), nullptr);

  // --- weights region: one region per parameter, converted on the host -------------------------
  // Conv weights follow their convolution's storage layout (KRSC for NHWC).
  std::map<ValueId, Layout> weight_layout;
  for (const Node& n : g.nodes())
    if (n.op == OpKind::Conv2d) weight_layout[n.inputs[1]] = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
  for (ValueId p : g.params()) {
    const Value& v = g.value(p);
    if (opt.shared_weights) {  // another stream's executor of this graph holds them
      VRAMFIT_CHECK(&opt.shared_weights->g_ == &g, "shared weights come from an executor of another graph");
      value_ptr_[static_cast<std::size_t>(p)] = opt.shared_weights->value_ptr_.at(static_cast<std::size_t>(p));
      continue;
    }
    auto it = weights.find(v.name);
    if (it == weights.end()) throw InvalidInput(fmt::format("no weights for parameter '{}'", v.name));
    if (it->second.numel() != v.shape.numel())
      throw InvalidInput(fmt::format("weights for '{}' have {} values, the graph needs {} ({})", v.name,
                                     it->second.numel(), v.shape.numel(), v.shape.to_string()));
    const Layout lay = weight_layout.count(p) ? weight_layout[p] : Layout::Plain;
    const auto bytes = to_device_format(it->second.span(), v.shape, v.dtype, lay);
    Region r = arena.allocate(bytes.size(), kAlign, "weights");
    CUDA_CHECK(cudaMemcpyAsync(r.ptr, bytes.data(), bytes.size(), cudaMemcpyHostToDevice, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));  // `bytes` is pageable and about to go away
    value_ptr_[static_cast<std::size_t>(p)] = r.ptr;
    weights_bytes_ += align_up(bytes.size());
  }

  // --- activations region: exactly the plan --------------------------------------------------
  Region acts = arena.allocate(plan.arena_bytes, kAlign, "activations");
  activation_bytes_ = plan.arena_bytes;
  for (const Value& v : g.values()) {
    if (v.kind == ValueKind::Param) continue;
    const std::uint64_t off = plan.offset_of(v.id);
    VRAMFIT_CHECK(off != kNoOffset, "value without a planned offset: " + v.name);
    value_ptr_[static_cast<std::size_t>(v.id)] = static_cast<char*>(acts.ptr) + off;
  }

  // --- workspace region: the fixed budget ----------------------------------------------------
  Region ws = arena.allocate(opt.workspace_bytes, kAlign, "workspace");
  void* wsp = ws.ptr;

  auto ptr = [this](ValueId v) { return value_ptr_.at(static_cast<std::size_t>(v)); };
  const auto& nodes = g.nodes();
  std::vector<bool> skip(nodes.size(), false);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (skip[i]) continue;
    const Node& n = nodes[i];
    const Value& out = g.value(n.output);
    const DType dt = out.dtype;
    void* y = ptr(n.output);
    const void* x = ptr(n.inputs.at(0));
    const std::size_t steps_before = steps_.size();
    std::string op_label(to_string(n.op));  // step label; Attention adds the implementation chosen
    switch (n.op) {
      case OpKind::Conv2d: {
        ConvParams cp = conv_params_from_node(g, n, opt.allow_tf32);
        // cuDNN's fused epilogue has ReLU only: SiLU (YOLO) or GELU runs as the elementwise kernel on y,
        // after bias and residual (graph.h: act(conv + b + res)).
        Activation sep = Activation::None;
        if (cp.act != Activation::None && cp.act != Activation::Relu) std::swap(sep, cp.act);
        if (auto why = ConvRunner::unsupported_reason(cp, handles_->cc)) throw Unsupported(n.name + ": " + *why);
        auto runner = std::make_unique<ConvRunner>(handles_->cudnn.get(), cp, opt.workspace_bytes);
        const auto& a = n.attr<Conv2dAttrs>();
        const void* w = ptr(n.inputs[1]);
        const void* b = a.has_bias ? ptr(n.inputs[2]) : nullptr;
        const void* z = a.has_residual ? ptr(n.inputs.back()) : nullptr;
        // Tune writes y: only when y does not alias the residual it would clobber (set-up order is
        // irrelevant otherwise: nothing meaningful lives in the arena yet).
        // A shape this process measured before (another node of the same shape, another stream, an
        // earlier session) keeps that measured choice (cudnn_conv.h's cache) instead of timing again.
        if (opt.autotune && !runner->choice().measured) runner->tune(stream, x, w, y, wsp);
        workspace_used_ = std::max(workspace_used_, runner->workspace_bytes());
        choices_.push_back(n.name + ": " + runner->describe());
        const ConvRunner* r = runner.get();
        const std::int64_t count = out.shape.numel();
        steps_.push_back([r, x, w, b, z, y, wsp, sep, dt, count](cudaStream_t s) {
          r->run(s, x, w, b, z, y, wsp);
          if (sep != Activation::None) kernels::activation(dt, y, y, count, sep, s);
        });
        handles_->convs.push_back(std::move(runner));
        break;
      }
      case OpKind::Linear: {
        const LinearParams lp = linear_params_from_node(g, n, opt.allow_tf32);
        if (auto why = LinearRunner::unsupported_reason(lp, handles_->cc)) throw Unsupported(n.name + ": " + *why);
        auto runner = std::make_unique<LinearRunner>(handles_->cublaslt.get(), lp, opt.workspace_bytes);
        const auto& a = n.attr<LinearAttrs>();
        const void* w = ptr(n.inputs[1]);
        const void* b = a.has_bias ? ptr(n.inputs[2]) : nullptr;
        const void* res = a.has_residual ? ptr(n.inputs.back()) : nullptr;
        if (opt.autotune && !a.has_residual && !runner->choice().measured) runner->tune(stream, x, w, b, y, wsp);
        workspace_used_ = std::max(workspace_used_, runner->workspace_bytes());
        choices_.push_back(n.name + ": " + runner->describe());
        const LinearRunner* r = runner.get();
        const Activation sep = r->separate_activation();
        const std::int64_t count = out.shape.numel();
        steps_.push_back([r, x, w, b, res, y, wsp, sep, dt, count](cudaStream_t s) {
          r->run(s, x, w, b, res, y, wsp);
          if (sep != Activation::None) kernels::activation(dt, y, y, count, sep, s);
        });
        handles_->linears.push_back(std::move(runner));
        break;
      }
      case OpKind::Relu:
      case OpKind::Gelu:
      case OpKind::Silu: {
        const Activation act = n.op == OpKind::Relu ? Activation::Relu : n.op == OpKind::Gelu ? Activation::Gelu : Activation::Silu;
        const std::int64_t count = out.shape.numel();
        steps_.push_back([=](cudaStream_t s) { kernels::activation(dt, x, y, count, act, s); });
        break;
      }
      case OpKind::Add: {
        const void* b2 = ptr(n.inputs[1]);
        const Activation act = n.attr<AddAttrs>().act;
        const std::int64_t count = out.shape.numel();
        steps_.push_back([=](cudaStream_t s) { kernels::add(dt, x, b2, y, count, act, s); });
        break;
      }
      case OpKind::MaxPool:
      case OpKind::AvgPool: {
        const auto& a = n.attr<PoolAttrs>();
        const Shape& xs = g.value(n.inputs[0]).shape;
        kernels::Pool2dDims d;
        d.batch = xs[0]; d.channels = xs[1]; d.in_h = xs[2]; d.in_w = xs[3];
        d.kernel_h = a.kernel_h; d.kernel_w = a.kernel_w; d.stride_h = a.stride_h; d.stride_w = a.stride_w;
        d.pad_h = a.pad_h; d.pad_w = a.pad_w;
        const Layout lay = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        const bool is_max = n.op == OpKind::MaxPool;
        steps_.push_back([=](cudaStream_t s) {
          if (is_max) kernels::max_pool2d(dt, lay, x, y, d, s);
          else kernels::avg_pool2d(dt, lay, x, y, d, s);
        });
        break;
      }
      case OpKind::GlobalAvgPool: {
        const Shape& xs = g.value(n.inputs[0]).shape;
        const Layout lay = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        const std::int64_t nb = xs[0], c = xs[1], plane = xs[2] * xs[3];
        steps_.push_back([=](cudaStream_t s) { kernels::global_avg_pool(dt, lay, x, y, nb, c, plane, s); });
        break;
      }
      case OpKind::LayerNorm: {
        const void* gamma = ptr(n.inputs[1]);
        const void* beta = ptr(n.inputs[2]);
        const std::int64_t e = out.shape.back(), rows = out.shape.numel() / e;
        const float eps = n.attr<LayerNormAttrs>().eps;
        steps_.push_back([=](cudaStream_t s) { kernels::layer_norm(dt, x, gamma, beta, y, rows, e, eps, s); });
        break;
      }
      case OpKind::Attention: {
        const Shape& qs = g.value(n.inputs[0]).shape;
        kernels::AttentionDims d;
        d.batch = qs[0]; d.seq = qs[1]; d.embed = qs[2] / 3; d.heads = n.attr<AttentionAttrs>().num_heads;
        // Our kernel or cuDNN's fused SDPA, the faster for this shape (attention_runner.h); one runner
        // per shape, timed once (with autotune) on the first node's buffers.
        auto [it, fresh] = handles_->attention.try_emplace(
            fmt::format("B{} S{} E{} H{} {}", d.batch, d.seq, d.embed, d.heads, to_string(dt)));
        if (fresh) {
          try {
            it->second = std::make_unique<AttentionRunner>(handles_->cudnn.get(), dt, d, opt.workspace_bytes, handles_->cc);
          } catch (const Unsupported& e) {
            throw Unsupported(n.name + ": " + e.what());
          }
          if (opt.autotune && !it->second->choice().measured) it->second->tune(stream, x, y, wsp);
          else if (it->second->impl() == AttentionImpl::Cudnn) it->second->run(stream, x, y, wsp);  // warm up before capture
        }
        const AttentionRunner* r = it->second.get();
        workspace_used_ = std::max(workspace_used_, r->workspace_bytes());
        choices_.push_back(n.name + ": " + r->describe());
        op_label = fmt::format("Attention[{}]", r->impl_label());
        steps_.push_back([r, x, y, wsp](cudaStream_t s) { r->run(s, x, y, wsp); });
        break;
      }
      case OpKind::ConcatClassToken: {
        // Fused with the AddPositional that must follow (torchvision's ViT order).
        const std::size_t j = i + 1;
        if (j >= nodes.size() || nodes[j].op != OpKind::AddPositional || nodes[j].inputs[0] != n.output ||
            g.consumers(n.output).size() != 1)
          throw Unsupported(n.name + ": a class token not followed by a positional add is not implemented on CUDA");
        const Node& pn = nodes[j];
        const void* cls = ptr(n.inputs[1]);
        const void* pos = ptr(pn.inputs[1]);
        void* y2 = ptr(pn.output);
        const Shape& xs = g.value(n.inputs[0]).shape;
        const std::int64_t nb = xs[0], seq = xs[1], e = xs[2];
        if (y2 == x) throw InternalError(n.name + ": fused class token output aliases its input");
        steps_.push_back([=](cudaStream_t s) { kernels::class_token_positional(dt, x, cls, pos, y2, nb, seq, e, s); });
        skip[j] = true;
        break;
      }
      case OpKind::AddPositional:
        throw Unsupported(n.name + ": a positional add without a class token is not implemented on CUDA");
      case OpKind::PatchFlatten: {
        if (is_view(g, n)) break;
        const Shape& xs = g.value(n.inputs[0]).shape;
        const std::int64_t nb = xs[0], c = xs[1], h = xs[2], w = xs[3];
        steps_.push_back([=](cudaStream_t s) { kernels::patch_flatten(dt, x, y, nb, c, h, w, s); });
        break;
      }
      case OpKind::Flatten:
        if (!is_view(g, n)) throw Unsupported(n.name + ": flatten of an NHWC tensor with H·W > 1 is not implemented on CUDA");
        break;
      case OpKind::Patchify: {
        const Shape& xs = g.value(n.inputs[0]).shape;
        const Layout lay = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        const std::int64_t nb = xs[0], c = xs[1], h = xs[2], w = xs[3], p = n.attr<PatchifyAttrs>().patch;
        steps_.push_back([=](cudaStream_t s) { kernels::patchify(dt, lay, x, y, nb, c, h, w, p, s); });
        break;
      }
      case OpKind::TakeToken: {
        const Shape& xs = g.value(n.inputs[0]).shape;
        const std::int64_t nb = xs[0], seq = xs[1], e = xs[2], idx = n.attr<TakeTokenAttrs>().index;
        steps_.push_back([=](cudaStream_t s) { kernels::take_token(dt, x, y, nb, seq, e, idx, s); });
        break;
      }
      case OpKind::Upsample: {
        const Shape& xs = g.value(n.inputs[0]).shape;
        const Layout lay = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        const std::int64_t nb = xs[0], c = xs[1], h = xs[2], w = xs[3], sc = n.attr<UpsampleAttrs>().scale;
        steps_.push_back([=](cudaStream_t s) { kernels::upsample_nearest(dt, lay, x, y, nb, c, h, w, sc, s); });
        break;
      }
      case OpKind::Concat: {
        std::vector<const void*> xs;
        std::vector<std::int64_t> channels;
        for (ValueId in : n.inputs) {
          xs.push_back(ptr(in));
          channels.push_back(g.value(in).shape[1]);
        }
        const Layout lay = out.layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        const std::int64_t nb = out.shape[0], plane = out.shape[2] * out.shape[3];
        steps_.push_back([=](cudaStream_t s) { kernels::concat_channels(dt, lay, xs, channels, y, nb, plane, s); });
        break;
      }
      case OpKind::Slice: {
        const Shape& xs = g.value(n.inputs[0]).shape;
        const Layout lay = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        const auto& a = n.attr<SliceAttrs>();
        const std::int64_t nb = xs[0], c = xs[1], plane = xs[2] * xs[3], b0 = a.begin, b1 = a.end, gr = a.groups;
        steps_.push_back([=](cudaStream_t s) { kernels::slice_channels(dt, lay, x, y, nb, c, plane, b0, b1, gr, s); });
        break;
      }
      case OpKind::SpatialAttention: {
        const Shape& xs = g.value(n.inputs[0]).shape;
        const Layout lay = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        const auto& a = n.attr<SpatialAttentionAttrs>();
        kernels::SpatialAttentionDims d;
        d.batch = xs[0]; d.heads = a.num_heads; d.key_dim = a.key_dim; d.head_dim = a.head_dim;
        d.positions = xs[2] * xs[3]; d.scale = a.scale;
        if (auto why = kernels::spatial_attention_unsupported(dt, d.key_dim, d.head_dim)) throw Unsupported(n.name + ": " + *why);
        steps_.push_back([=](cudaStream_t s) { kernels::spatial_attention(dt, lay, x, y, d, s); });
        break;
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
        const Layout lay = g.value(n.inputs[0]).layout == Layout::NHWC ? Layout::NHWC : Layout::NCHW;
        kernels::PoseDecodeDims d;
        d.batch = out.shape[0]; d.num_classes = a.num_classes; d.reg_max = a.reg_max; d.kpt_count = a.kpt_count;
        d.kpt_dims = a.kpt_dims;
        const void* bins = ptr(n.inputs.back());
        steps_.push_back([=](cudaStream_t s) { kernels::pose_decode(dt, lay, levels, bins, y, d, s); });
        break;
      }
      case OpKind::Nms: {
        const Shape& xs = g.value(n.inputs[0]).shape;
        const auto& a = n.attr<NmsAttrs>();
        kernels::NmsDims d;
        d.batch = xs[0]; d.channels = xs[1]; d.anchors = xs[2]; d.num_classes = a.num_classes; d.max_det = a.max_det;
        d.conf_threshold = a.conf_threshold; d.iou_threshold = a.iou_threshold; d.agnostic = a.agnostic;
        if (auto why = kernels::nms_unsupported(dt, d.anchors)) throw Unsupported(n.name + ": " + *why);
        steps_.push_back([=](cudaStream_t s) { kernels::nms(dt, x, y, d, s); });
        break;
      }
      case OpKind::BatchNorm:
        throw Unsupported(n.name + ": batch norm must be folded into its convolution before the CUDA backend (graph/passes.h)");
    }
    for (std::size_t k = steps_before; k < steps_.size(); ++k) step_labels_.emplace_back(n.name, op_label);
  }
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

Executor::~Executor() = default;

void Executor::set_input(std::size_t index, const Tensor& host) {
  const ValueId id = g_.inputs().at(index);
  const Value& v = g_.value(id);
  if (host.shape != v.shape)
    throw InvalidInput(fmt::format("input '{}' must be {}, got {}", v.name, v.shape.to_string(), host.shape.to_string()));
  const auto bytes = to_device_format(host.span(), v.shape, v.dtype, v.layout);
  CUDA_CHECK(cudaMemcpy(value_ptr_.at(static_cast<std::size_t>(id)), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
}

void Executor::fill_input_normal(std::size_t index, std::uint64_t seed, cudaStream_t stream) {
  const ValueId id = g_.inputs().at(index);
  const Value& v = g_.value(id);
  kernels::NormalFill f;
  f.seed = seed;
  f.stream_id = stream_id("input");
  kernels::fill_normal(v.dtype, value_ptr_.at(static_cast<std::size_t>(id)), v.shape.numel(), f, stream);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaStreamSynchronize(stream));
}

void Executor::enqueue(cudaStream_t stream) const {
  // VRAMFIT_FAULT (core/fault.h): real failures at the real place, for the profile's fault tests.
  if (fault::armed("launch-abort")) std::abort();
  if (fault::armed("trap")) kernels::fault_trap(stream);
  if (fault::armed("spin")) kernels::fault_spin(stream);
  for (const auto& step : steps_) step(stream);
  CUDA_CHECK(cudaGetLastError());
}

void Executor::capture(cudaStream_t stream) {
  graph_ = std::make_unique<GraphExec>(GraphExec::capture(stream, [this](cudaStream_t s) { enqueue(s); }));
}

void Executor::launch(cudaStream_t stream) const {
  if (graph_) graph_->launch(stream);
  else enqueue(stream);
}

std::vector<Executor::StepTime> Executor::time_steps(cudaStream_t stream, int iterations) const {
  std::vector<StepTime> out(steps_.size());
  std::vector<std::vector<float>> samples(steps_.size());
  std::vector<Event> ev(steps_.size() + 1);
  for (int it = 0; it < iterations; ++it) {
    ev[0].record(stream);
    for (std::size_t k = 0; k < steps_.size(); ++k) {
      steps_[k](stream);
      ev[k + 1].record(stream);
    }
    CUDA_CHECK(cudaStreamSynchronize(stream));
    for (std::size_t k = 0; k < steps_.size(); ++k) samples[k].push_back(Event::elapsed_ms(ev[k], ev[k + 1]));
  }
  for (std::size_t k = 0; k < steps_.size(); ++k) {
    auto& v = samples[k];
    std::sort(v.begin(), v.end());
    out[k] = StepTime{step_labels_[k].first, step_labels_[k].second, v.empty() ? 0.0 : static_cast<double>(v[v.size() / 2])};
  }
  return out;
}

Tensor Executor::output(std::size_t index) const {
  const ValueId id = g_.outputs().at(index);
  const Value& v = g_.value(id);
  std::vector<std::uint8_t> bytes(value_bytes(v));
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(bytes.data(), value_ptr_.at(static_cast<std::size_t>(id)), bytes.size(), cudaMemcpyDeviceToHost));
  return Tensor(v.shape, from_device_format(bytes, v.shape, v.dtype, v.layout));
}

}  // namespace vramfit::cuda
