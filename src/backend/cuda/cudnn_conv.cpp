// backend/cuda/cudnn_conv.cpp — Conv2d on cuDNN's (legacy, still shipped) convolution API; see
// cudnn_conv.h for the layouts, the fusion rules and the algorithm choice.
#include "backend/cuda/cudnn_conv.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <type_traits>
#include <vector>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/arch.h"
#include "backend/cuda/check.h"
#include "core/bytes.h"
#include "core/error.h"
#include "graph/capability.h"

namespace vramfit::cuda {

namespace {

constexpr std::uint64_t kWorkspaceAlign = 256;
// cuDNN kernels use vector loads; we require 16-byte aligned tensors (arena regions are 256-aligned).
constexpr std::uintptr_t kPointerAlign = 16;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

// ---- RAII for cuDNN descriptors (local to this file) ----
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Desc {
 public:
  Desc() { CUDNN_CHECK(Create(&d_)); }
  ~Desc() {
    if (d_) (void)Destroy(d_);
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  T get() const { return d_; }

 private:
  T d_ = nullptr;
};
using TensorDesc = Desc<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Desc<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    Desc<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;
using ActDesc = Desc<cudnnActivationDescriptor_t, cudnnCreateActivationDescriptor, cudnnDestroyActivationDescriptor>;

cudnnDataType_t cudnn_type(DType t) {
  switch (t) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f16: return CUDNN_DATA_HALF;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: throw Unsupported(fmt::format("cuDNN convolution: dtype {} is not supported (f32, f16, bf16)", to_string(t)));
  }
}

const char* algo_name(cudnnConvolutionFwdAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM: return "IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM: return "IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM: return "GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT: return "DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT: return "FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING: return "FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD: return "WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED: return "WINOGRAD_NONFUSED";
    default: return "UNKNOWN";
  }
}

const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH: return "default math";
    case CUDNN_TENSOR_OP_MATH: return "tensor-op math";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor-op math (conversion allowed)";
    case CUDNN_FMA_MATH: return "FMA math";
    default: return "unknown math";
  }
}

// Winograd and FFT compute in a transformed domain: faster, but their fp32 rounding error grows with
// the transform and exceeds a direct/GEMM sum's (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016, discuss the accuracy). Strict fp32 is the reference precision: left out there.
bool is_transform_algo(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}

bool is_strict_f32(const ConvParams& p) { return p.dtype == DType::f32 && !p.allow_tf32; }

// The math type the descriptor starts with (cudnnMathType_t reference): FMA_MATH forbids TF32 for
// strict fp32; DEFAULT_MATH permits TF32 on sm_80+; TENSOR_OP_MATH for 16-bit tensor cores.
cudnnMathType_t base_math(const ConvParams& p) {
  if (p.dtype == DType::f32) return p.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
  return CUDNN_TENSOR_OP_MATH;
}

std::int64_t conv_out(std::int64_t in, std::int64_t k, std::int64_t stride, std::int64_t pad, std::int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

int to_int(std::int64_t v) { return static_cast<int>(v); }  // the gate checked the int range (graph/capability.h)

void validate(const ConvParams& p) {
  const auto bad = [&](const std::string& why) {
    throw InvalidInput(fmt::format("conv {}: {}", p.to_string(), why));
  };
  if (p.batch < 1 || p.in_channels < 1 || p.in_h < 1 || p.in_w < 1) bad("input extents must be ≥ 1");
  if (p.out_channels < 1 || p.kernel_h < 1 || p.kernel_w < 1) bad("weight extents must be ≥ 1");
  if (p.stride_h < 1 || p.stride_w < 1) bad("strides must be ≥ 1");
  if (p.dilation_h < 1 || p.dilation_w < 1) bad("dilations must be ≥ 1");
  if (p.pad_h < 0 || p.pad_w < 0) bad("padding must be ≥ 0");
  if (p.groups < 1 || p.in_channels % p.groups != 0 || p.out_channels % p.groups != 0)
    bad("channels must be divisible by groups");
  if (p.layout != Layout::NCHW && p.layout != Layout::NHWC) bad("layout must be NCHW or NHWC");
  if (p.out_h() < 1 || p.out_w() < 1) bad("the kernel does not fit the padded input");
}

}  // namespace

// ---- ConvParams ----

std::int64_t ConvParams::out_h() const { return conv_out(in_h, kernel_h, stride_h, pad_h, dilation_h); }
std::int64_t ConvParams::out_w() const { return conv_out(in_w, kernel_w, stride_w, pad_w, dilation_w); }

ConvGeometry ConvParams::geometry() const {
  ConvGeometry c;
  c.batch = batch;
  c.in_channels = in_channels;
  c.in_h = in_h;
  c.in_w = in_w;
  c.out_channels = out_channels;
  c.kernel_h = kernel_h;
  c.kernel_w = kernel_w;
  c.stride_h = stride_h;
  c.stride_w = stride_w;
  c.pad_h = pad_h;
  c.pad_w = pad_w;
  c.dilation_h = dilation_h;
  c.dilation_w = dilation_w;
  c.groups = groups;
  c.out_h = out_h();
  c.out_w = out_w();
  return c;
}

std::string ConvParams::to_string() const {
  return fmt::format("x[{},{},{},{}] k{} {}x{} s{},{} p{},{} d{},{} g{} {} {}{}{} act={}{}{}", batch, in_channels, in_h,
                     in_w, out_channels, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w,
                     groups, vramfit::to_string(dtype), layout == Layout::NHWC ? "NHWC" : "NCHW",
                     has_bias ? " bias" : "", has_residual ? " residual" : "", vramfit::to_string(act),
                     allow_tf32 ? " tf32" : "", allow_fused ? "" : " unfused");
}

ConvParams conv_params_from_node(const Graph& g, const Node& n, bool allow_tf32) {
  if (n.op != OpKind::Conv2d) throw InternalError("conv_params_from_node: node " + n.name + " is not a Conv2d");
  const auto& a = n.attr<Conv2dAttrs>();
  const Value& x = g.value(n.inputs.at(0));
  const Value& w = g.value(n.inputs.at(1));
  const Value& y = g.value(n.output);
  if (x.shape.rank() != 4 || w.shape.rank() != 4)
    throw InvalidInput(fmt::format("{}: conv input {} / weight {} must be 4-D", n.name, x.shape.to_string(),
                                   w.shape.to_string()));
  if (x.dtype != y.dtype || w.dtype != y.dtype)
    throw Unsupported(fmt::format("{}: cuDNN convolution needs x, w and y of one dtype (got {}, {}, {})", n.name,
                                  to_string(x.dtype), to_string(w.dtype), to_string(y.dtype)));
  ConvParams p;
  p.batch = x.shape[0];
  p.in_channels = x.shape[1];
  p.in_h = x.shape[2];
  p.in_w = x.shape[3];
  p.out_channels = a.out_channels;
  p.kernel_h = a.kernel_h;
  p.kernel_w = a.kernel_w;
  p.stride_h = a.stride_h;
  p.stride_w = a.stride_w;
  p.pad_h = a.pad_h;
  p.pad_w = a.pad_w;
  p.dilation_h = a.dilation_h;
  p.dilation_w = a.dilation_w;
  p.groups = a.groups;
  p.dtype = y.dtype;
  p.layout = image_layout(x);
  p.has_bias = a.has_bias;
  p.has_residual = a.has_residual;
  p.act = a.act;
  p.allow_tf32 = allow_tf32;
  return p;
}

// ---- ConvRunner ----

struct ConvRunner::Impl {
  cudnnHandle_t handle = nullptr;
  ConvParams p;
  std::uint64_t limit = 0;
  int device = 0;
  int cc = 0;
  double bandwidth = 0.0;  // bytes/s, for the fused-vs-unfused trade-off in tune()
  std::size_t elem = 4;
  TensorDesc x_desc, y_desc, bias_desc;
  FilterDesc w_desc;
  ConvDesc conv_desc;
  ActDesc act_desc;
  ConvChoice choice;
  std::uint64_t zero_bias_bytes = 0;  // at the start of the workspace when fused without a bias
  std::string key;
  AlgorithmCache* cache = nullptr;  // read at construction, filled by tune(); null: none
  mutable std::atomic<bool> fused_refused{false};  // the fused call said NOT_SUPPORTED once

  std::uint64_t x_bytes() const { return static_cast<std::uint64_t>(p.batch * p.in_channels * p.in_h * p.in_w) * elem; }
  std::uint64_t w_bytes() const {
    return static_cast<std::uint64_t>(p.out_channels * (p.in_channels / p.groups) * p.kernel_h * p.kernel_w) * elem;
  }
  std::uint64_t y_bytes() const {
    return static_cast<std::uint64_t>(p.batch * p.out_channels * p.out_h() * p.out_w()) * elem;
  }
  std::uint64_t b_bytes() const { return static_cast<std::uint64_t>(p.out_channels) * elem; }

  // The zero bias a fused ReLU call needs when the node has no bias.
  bool needs_zero_bias(bool fused) const { return fused && !p.has_bias; }
  std::uint64_t cudnn_limit() const {
    const std::uint64_t zb = (p.act == Activation::Relu && !p.has_bias && p.allow_fused) ? align_up(b_bytes(), kWorkspaceAlign) : 0;
    return limit > zb ? limit - zb : 0;
  }

  void build_descriptors() {
    const cudnnDataType_t dt = cudnn_type(p.dtype);
    const cudnnTensorFormat_t fmt = p.layout == Layout::NHWC ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    // cudnnSetTensor4dDescriptor takes logical n, c, h, w and derives the strides from the format;
    // for filters, NHWC means KRSC storage (cudnnSetFilter4dDescriptor reference).
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_desc.get(), fmt, dt, to_int(p.batch), to_int(p.in_channels),
                                           to_int(p.in_h), to_int(p.in_w)));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_desc.get(), dt, fmt, to_int(p.out_channels),
                                           to_int(p.in_channels / p.groups), to_int(p.kernel_h), to_int(p.kernel_w)));
    // PyTorch's Conv2d is a cross-correlation (no kernel flip). Compute type fp32 for every dtype.
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_desc.get(), to_int(p.pad_h), to_int(p.pad_w), to_int(p.stride_h),
                                                to_int(p.stride_w), to_int(p.dilation_h), to_int(p.dilation_w),
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_desc.get(), to_int(p.groups)));
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc.get(), base_math(p)));

    int n = 0, c = 0, h = 0, w = 0;
    CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_desc.get(), x_desc.get(), w_desc.get(), &n, &c, &h, &w));
    if (n != p.batch || c != p.out_channels || h != p.out_h() || w != p.out_w())
      throw InternalError(fmt::format("conv {}: cuDNN output [{},{},{},{}] differs from ours [{},{},{},{}]",
                                      p.to_string(), n, c, h, w, p.batch, p.out_channels, p.out_h(), p.out_w()));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_desc.get(), fmt, dt, n, c, h, w));
    // Bias [1, K, 1, 1] of y's type (cudnnConvolutionBiasActivationForward data-type table).
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias_desc.get(), fmt, dt, 1, c, 1, 1));
    // NOT_PROPAGATE_NAN is what the fused kernels have always accepted (RELU only reads the sign).
    CUDNN_CHECK(cudnnSetActivationDescriptor(act_desc.get(),
                                             p.act == Activation::Relu ? CUDNN_ACTIVATION_RELU : CUDNN_ACTIVATION_IDENTITY,
                                             CUDNN_NOT_PROPAGATE_NAN, 0.0));
  }

  struct Candidate {
    cudnnConvolutionFwdAlgo_t algo;
    cudnnMathType_t math;
    std::uint64_t ws;
    float time;
  };

  // Candidates cuDNN reported as working, filtered by the math rule and the workspace limit; the
  // workspace is re-queried for the (algo, math) pair we will actually set on the descriptor.
  std::vector<Candidate> usable(const cudnnConvolutionFwdAlgoPerf_t* perf, int n, std::uint64_t ws_limit,
                                std::uint64_t* smallest_needed) {
    std::vector<Candidate> out;
    *smallest_needed = UINT64_MAX;
    const bool strict = is_strict_f32(p);
    for (int i = 0; i < n; ++i) {
      const auto& r = perf[i];
      if (r.status != CUDNN_STATUS_SUCCESS) continue;
      if (strict && (r.mathType == CUDNN_TENSOR_OP_MATH || r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION))
        continue;  // would be TF32
      if (strict && is_transform_algo(r.algo)) continue;  // fp32 is the reference: GEMM-accurate only
      const cudnnMathType_t math = strict ? CUDNN_FMA_MATH : r.mathType;
      if (cudnnSetConvolutionMathType(conv_desc.get(), math) != CUDNN_STATUS_SUCCESS) continue;
      std::size_t ws = 0;
      const cudnnStatus_t s = cudnnGetConvolutionForwardWorkspaceSize(handle, x_desc.get(), w_desc.get(),
                                                                      conv_desc.get(), y_desc.get(), r.algo, &ws);
      if (s != CUDNN_STATUS_SUCCESS) continue;
      *smallest_needed = std::min<std::uint64_t>(*smallest_needed, ws);
      if (ws > ws_limit) continue;
      const bool dup = std::any_of(out.begin(), out.end(), [&](const Candidate& c) { return c.algo == r.algo && c.math == math; });
      if (!dup) out.push_back(Candidate{r.algo, math, ws, r.time});
    }
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc.get(), base_math(p)));
    return out;
  }

  // The sequence and algorithm for the node, from candidates in cuDNN's order (fastest first).
  ConvChoice decide(const std::vector<Candidate>& cands, bool measured) const {
    const Candidate& best = cands.front();
    ConvChoice c;
    c.measured = measured;
    auto take = [&](const Candidate& k, bool fused) {
      c.algo = k.algo;
      c.math = k.math;
      c.cudnn_workspace_bytes = k.ws;
      c.fused = fused;
      c.time_ms = measured ? k.time : -1.0f;
    };
    if (p.act == Activation::Relu) {
      take(best, p.allow_fused);
    } else if (!p.has_bias) {
      take(best, false);  // plain convolution; the residual rides on beta
    } else {
      // Identity + bias: the fused call needs IMPLICIT_PRECOMP_GEMM (cudnnActivationMode_t, IDENTITY).
      const auto pre = std::find_if(cands.begin(), cands.end(), [](const Candidate& k) {
        return k.algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
      });
      if (!p.allow_fused || pre == cands.end()) {
        take(best, false);
      } else if (!measured) {
        take(*pre, true);  // no timings: saving a pass over y is the safer bet
      } else {
        // Unfused costs one more read and write of y (cudnnAddTensor) plus a launch.
        const double pass_ms = bandwidth > 0 ? 2.0 * static_cast<double>(y_bytes()) / bandwidth * 1e3 + 0.004
                                             : 0.1 * static_cast<double>(best.time);
        if (static_cast<double>(pre->time) <= static_cast<double>(best.time) + pass_ms) take(*pre, true);
        else take(best, false);
      }
    }
    return c;
  }

  void apply(const ConvChoice& c) {
    choice = c;
    zero_bias_bytes = needs_zero_bias(c.fused) ? align_up(b_bytes(), kWorkspaceAlign) : 0;
    CUDNN_CHECK(cudnnSetConvolutionMathType(conv_desc.get(), c.math));
  }

  [[noreturn]] void no_algorithm(std::uint64_t ws_limit, std::uint64_t smallest, const char* how) const {
    if (smallest != UINT64_MAX)
      throw Unsupported(fmt::format("conv {}: no cuDNN forward algorithm ({}) fits the workspace limit {}; the "
                                    "smallest needs {}",
                                    p.to_string(), how, format_bytes(ws_limit), format_bytes(smallest)));
    throw Unsupported(fmt::format("conv {}: cuDNN offers no forward algorithm ({}) for this configuration on sm_{}",
                                  p.to_string(), how, cc));
  }

  void choose_heuristic() {
    int max_count = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &max_count));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
    int returned = 0;
    CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, x_desc.get(), w_desc.get(), conv_desc.get(),
                                                       y_desc.get(), max_count, &returned, perf.data()));
    std::uint64_t smallest = 0;
    const auto cands = usable(perf.data(), returned, cudnn_limit(), &smallest);
    if (cands.empty()) no_algorithm(cudnn_limit(), smallest, "heuristics");
    apply(decide(cands, false));
  }
};

std::optional<std::string> ConvRunner::unsupported_reason(const ConvParams& p, int compute_capability) {
  if (p.dtype != DType::f32 && p.dtype != DType::f16 && p.dtype != DType::bf16)
    return fmt::format("cuDNN convolution runs f32, f16 and bf16, not {}", to_string(p.dtype));
  if (p.dtype == DType::bf16 && compute_capability < 80)
    return fmt::format("bf16 convolution needs compute capability 8.0 (sm_80) or newer; this GPU is sm_{}",
                       compute_capability);
  if (p.dtype == DType::f16 && compute_capability < 53)
    return fmt::format("f16 convolution needs compute capability 5.3 or newer; this GPU is sm_{}", compute_capability);
  if (p.act != Activation::None && p.act != Activation::Relu)
    return fmt::format("activation {} is not a cuDNN convolution epilogue (ReLU or none); run the convolution with "
                       "act none and apply it separately",
                       to_string(p.act));
  // The legacy API describes tensors with int extents and strides (graph/capability.h has the rule,
  // which predict's max batch applies too).
  if (conv_exceeds_int_indexing(p.geometry()))
    return fmt::format("conv {}: a tensor exceeds the 2^31-element indexing of cuDNN's convolution API",
                       p.to_string());
  return std::nullopt;
}

ConvRunner::ConvRunner(cudnnHandle_t handle, const ConvParams& p, std::uint64_t workspace_limit, AlgorithmCache* cache)
    : impl_(std::make_unique<Impl>()) {
  if (handle == nullptr) throw InternalError("ConvRunner: null cuDNN handle");
  validate(p);
  Impl& m = *impl_;
  m.handle = handle;
  m.p = p;
  m.limit = workspace_limit;
  m.cache = cache;
  CUDA_CHECK(cudaGetDevice(&m.device));
  int mem_khz = 0, bus_bits = 0;
  m.cc = device_cc(m.device);  // arch.h: the effective capability
  if (cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, m.device) != cudaSuccess) {
    mem_khz = 0;
    (void)cudaGetLastError();
  }
  if (cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, m.device) != cudaSuccess) {
    bus_bits = 0;
    (void)cudaGetLastError();
  }
  m.bandwidth = 2.0 * mem_khz * 1e3 * bus_bits / 8.0;
  if (auto why = unsupported_reason(p, m.cc)) throw Unsupported(*why);
  m.elem = static_cast<std::size_t>(storage_bytes(p.dtype, 1));
  m.build_descriptors();

  m.key = fmt::format("{}|ws={}|dev={}|sm={}|cudnn={}", p.to_string(), workspace_limit, m.device, m.cc,
                      cudnnGetVersion());
  if (cache) {
    std::optional<ConvChoice> known = cache->conv.find(m.key + "|measured");
    if (!known) known = cache->conv.find(m.key);
    if (known) {
      m.apply(*known);
      return;
    }
  }
  m.choose_heuristic();
  if (cache) cache->conv.add(m.key, m.choice);
}

ConvRunner::~ConvRunner() = default;
ConvRunner::ConvRunner(ConvRunner&&) noexcept = default;
ConvRunner& ConvRunner::operator=(ConvRunner&&) noexcept = default;

const ConvParams& ConvRunner::params() const { return impl_->p; }
const ConvChoice& ConvRunner::choice() const { return impl_->choice; }
Shape ConvRunner::output_shape() const {
  const auto& p = impl_->p;
  return Shape{p.batch, p.out_channels, p.out_h(), p.out_w()};
}
std::uint64_t ConvRunner::input_bytes() const { return impl_->x_bytes(); }
std::uint64_t ConvRunner::weight_bytes() const { return impl_->w_bytes(); }
std::uint64_t ConvRunner::output_bytes() const { return impl_->y_bytes(); }
std::uint64_t ConvRunner::bias_bytes() const { return impl_->b_bytes(); }
std::uint64_t ConvRunner::workspace_bytes() const {
  return impl_->zero_bias_bytes + impl_->choice.cudnn_workspace_bytes;
}
std::uint64_t ConvRunner::workspace_limit() const { return impl_->limit; }

std::string ConvRunner::describe() const {
  const Impl& m = *impl_;
  const bool fused = m.choice.fused && !m.fused_refused.load();
  std::string what;
  if (m.p.has_bias) what += "+bias";
  if (m.p.has_residual) what += "+residual";
  if (m.p.act == Activation::Relu) what += "+relu";
  if (!what.empty()) what[0] = ' ';  // "+bias+relu" → " bias+relu"
  return fmt::format("{}, {}, {}{}, workspace {}{}", algo_name(m.choice.algo), math_name(m.choice.math),
                     fused ? "fused" : "unfused", what,
                     format_bytes(workspace_bytes()),
                     m.choice.measured ? fmt::format(", measured {:.3f} ms", m.choice.time_ms) : "");
}

void ConvRunner::tune(cudaStream_t stream, const void* x, const void* w, void* y_scratch, void* workspace) {
  Impl& m = *impl_;
  if (x == nullptr || w == nullptr || y_scratch == nullptr)
    throw InvalidInput("ConvRunner::tune: x, w and y_scratch must be device pointers");
  if (workspace == nullptr && m.limit > 0) throw InvalidInput("ConvRunner::tune: needs a workspace of workspace_limit() bytes");
  const std::uint64_t zb = m.p.act == Activation::Relu && !m.p.has_bias && m.p.allow_fused
                               ? align_up(m.b_bytes(), kWorkspaceAlign)
                               : 0;
  void* ws = workspace ? static_cast<char*>(workspace) + zb : nullptr;
  const std::uint64_t ws_limit = m.cudnn_limit();
  CUDNN_CHECK(cudnnSetStream(m.handle, stream));
  int max_count = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(m.handle, &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(std::max(max_count, 1)));
  int returned = 0;
  // Times cudnnConvolutionForward for every algorithm on our buffers, sorted fastest first; an
  // algorithm needing more than ws_limit reports an allocation failure in its status and is skipped.
  CUDNN_CHECK(cudnnSetConvolutionMathType(m.conv_desc.get(), base_math(m.p)));
  CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(m.handle, m.x_desc.get(), x, m.w_desc.get(), w,
                                                     m.conv_desc.get(), m.y_desc.get(), y_scratch, max_count, &returned,
                                                     perf.data(), ws, static_cast<std::size_t>(ws_limit)));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  std::uint64_t smallest = 0;
  const auto cands = m.usable(perf.data(), returned, ws_limit, &smallest);
  if (cands.empty()) {
    CUDNN_CHECK(cudnnSetConvolutionMathType(m.conv_desc.get(), m.choice.math));  // keep the heuristic choice
    m.no_algorithm(ws_limit, smallest, "measured");
  }
  m.apply(m.decide(cands, true));
  m.fused_refused.store(false);
  if (m.cache) m.cache->conv.put(m.key + "|measured", m.choice);
}

void ConvRunner::run(cudaStream_t stream, const void* x, const void* w, const void* bias, const void* z, void* y,
                     void* workspace) const {
  const Impl& m = *impl_;
  const ConvParams& p = m.p;
  const auto fail = [&](const std::string& why) { throw InvalidInput(fmt::format("conv {}: {}", p.to_string(), why)); };
  if (!x || !w || !y) fail("x, w and y must be device pointers");
  if (p.has_bias != (bias != nullptr)) fail(p.has_bias ? "the node has a bias but none was passed" : "bias passed to a node without one");
  if (p.has_residual != (z != nullptr))
    fail(p.has_residual ? "the node has a residual but none was passed" : "residual passed to a node without one");
  const std::uint64_t ws_bytes = workspace_bytes();
  if (ws_bytes > 0 && workspace == nullptr) fail(fmt::format("needs a workspace of {}", format_bytes(ws_bytes)));
  if (workspace && reinterpret_cast<std::uintptr_t>(workspace) % kWorkspaceAlign != 0) fail("workspace must be 256-byte aligned");
  for (const void* ptr : {x, w, bias, z, static_cast<const void*>(y)})
    if (ptr && reinterpret_cast<std::uintptr_t>(ptr) % kPointerAlign != 0) fail("tensor pointers must be 16-byte aligned");
  const auto overlap = [](const void* a, std::uint64_t an, const void* b, std::uint64_t bn) {
    const auto ua = reinterpret_cast<std::uintptr_t>(a), ub = reinterpret_cast<std::uintptr_t>(b);
    return ua < ub + bn && ub < ua + an;
  };
  const std::uint64_t yb = m.y_bytes();
  if (overlap(x, m.x_bytes(), y, yb)) fail("x and y overlap (a convolution cannot run in place)");
  if (z && z != y && overlap(z, yb, y, yb)) fail("z and y overlap without being the same buffer");

  CUDNN_CHECK(cudnnSetStream(m.handle, stream));
  const float one = 1.0f, zero = 0.0f;
  void* cudnn_ws = workspace ? static_cast<char*>(workspace) + m.zero_bias_bytes : nullptr;
  const std::size_t cudnn_ws_bytes = static_cast<std::size_t>(m.choice.cudnn_workspace_bytes);
  const ConvChoice& c = m.choice;

  if (c.fused && !m.fused_refused.load()) {
    const void* b = bias;
    if (!p.has_bias) {  // ReLU without a bias: cuDNN still reads a bias tensor
      CUDA_CHECK(cudaMemsetAsync(workspace, 0, static_cast<std::size_t>(m.b_bytes()), stream));
      b = workspace;
    }
    // alpha2 = 0 without a residual; z then points at y and is not read for its value.
    const float alpha2 = p.has_residual ? 1.0f : 0.0f;
    const void* zp = p.has_residual ? z : y;
    const cudnnStatus_t s = cudnnConvolutionBiasActivationForward(
        m.handle, &one, m.x_desc.get(), x, m.w_desc.get(), w, m.conv_desc.get(), c.algo, cudnn_ws, cudnn_ws_bytes,
        &alpha2, m.y_desc.get(), zp, m.bias_desc.get(), b, m.act_desc.get(), m.y_desc.get(), y);
    if (s == CUDNN_STATUS_SUCCESS) return;
    if (CUDNN_STATUS_CATEGORY(static_cast<int>(s)) != CUDNN_STATUS_NOT_SUPPORTED)
      detail::throw_cudnn(s, "cudnnConvolutionBiasActivationForward(...)", __func__, __FILE__, __LINE__);
    // Refused before any launch: use the unfused sequence from now on.
    m.fused_refused.store(true);
  }

  // Unfused: y = conv(x) (+ z via beta = 1), then y += bias, then y = relu(y).
  float beta = 0.0f;
  if (p.has_residual) {
    if (z != y)
      CUDA_CHECK(cudaMemcpyAsync(y, z, static_cast<std::size_t>(yb), cudaMemcpyDeviceToDevice, stream));
    beta = 1.0f;
  }
  CUDNN_CHECK(cudnnConvolutionForward(m.handle, &one, m.x_desc.get(), x, m.w_desc.get(), w, m.conv_desc.get(), c.algo,
                                      cudnn_ws, cudnn_ws_bytes, &beta, m.y_desc.get(), y));
  if (p.has_bias)  // broadcast over the dims where the bias tensor is 1 (cudnnAddTensor reference)
    CUDNN_CHECK(cudnnAddTensor(m.handle, &one, m.bias_desc.get(), bias, &one, m.y_desc.get(), y));
  if (p.act == Activation::Relu)  // in place is allowed (cudnnActivationForward reference)
    CUDNN_CHECK(cudnnActivationForward(m.handle, m.act_desc.get(), &one, m.y_desc.get(), y, &zero, m.y_desc.get(), y));
}

}  // namespace vramfit::cuda
