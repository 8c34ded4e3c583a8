// backend/cuda/cudnn_sdpa.cpp — cuDNN fused attention through the backend descriptor API; see
// cudnn_sdpa.h for the graphs, the tensor views and the plan choice.
// Just over 600 lines: the descriptor wrapper, both graph builders, the plan search and the runner
// share file-local helpers (Desc, status texts); a split would publish them in a header for one user.
#include "backend/cuda/cudnn_sdpa.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/arch.h"
#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "core/bytes.h"
#include "core/error.h"

namespace vramfit::cuda {

namespace {

// Unique ids: the caller's tensors (the variant pack binds these), then the composite graph's
// virtual intermediates.
constexpr std::int64_t kUidQ = 1, kUidK = 2, kUidV = 3, kUidO = 4, kUidScale = 5;
constexpr std::int64_t kUidScores = 100, kUidScaled = 101, kUidRowMax = 102, kUidShifted = 103, kUidExp = 104,
                       kUidRowSum = 105, kUidProbs = 106;
constexpr int kMaxPlansPerGraph = 3;   // each finalize may compile a kernel at run time (NVRTC): keep it small
constexpr std::int64_t kMaxConfigsTried = 24;
constexpr std::uintptr_t kPointerAlign = 16;

// The loaded library's detailed reason for its last failure (cuDNN 9), "" when none.
std::string last_error_detail() {
  char buf[1024] = {0};
  cudnnGetLastErrorString(buf, sizeof(buf));
  return std::string(buf);
}

// "CUDNN_STATUS_NOT_SUPPORTED (3000): <detail>" for a status we record instead of throwing.
std::string status_text(cudnnStatus_t s) {
  std::string t = fmt::format("{} ({})", cudnnGetErrorString(s), static_cast<int>(s));
  const std::string d = last_error_detail();
  if (!d.empty()) t += ": " + d;
  return t;
}

[[noreturn]] void fail(cudnnStatus_t s, const std::string& stmt, const char* func, int line) {
  detail::throw_cudnn(s, stmt.c_str(), func, __FILE__, line);
}

bool is_not_supported(cudnnStatus_t s) {
  return CUDNN_STATUS_CATEGORY(static_cast<int>(s)) == CUDNN_STATUS_NOT_SUPPORTED;
}

// One backend descriptor, destroyed once. `what` names it in error messages.
class Desc {
 public:
  Desc() = default;
  Desc(cudnnBackendDescriptorType_t type, std::string what) : what_(std::move(what)) {
    const cudnnStatus_t s = cudnnBackendCreateDescriptor(type, &d_);
    if (s != CUDNN_STATUS_SUCCESS) fail(s, "cudnnBackendCreateDescriptor(" + what_ + ")", __func__, __LINE__);
  }
  ~Desc() {
    if (d_) (void)cudnnBackendDestroyDescriptor(d_);
  }
  Desc(Desc&& o) noexcept : d_(std::exchange(o.d_, nullptr)), what_(std::move(o.what_)) {}
  Desc& operator=(Desc&& o) noexcept {
    if (this != &o) {
      if (d_) (void)cudnnBackendDestroyDescriptor(d_);
      d_ = std::exchange(o.d_, nullptr);
      what_ = std::move(o.what_);
    }
    return *this;
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;

  cudnnBackendDescriptor_t get() const { return d_; }
  const std::string& what() const { return what_; }

  void set(cudnnBackendAttributeName_t name, const char* name_text, cudnnBackendAttributeType_t type,
           std::int64_t count, const void* values) {
    const cudnnStatus_t s = cudnnBackendSetAttribute(d_, name, type, count, values);
    if (s != CUDNN_STATUS_SUCCESS)
      fail(s, "cudnnBackendSetAttribute(" + what_ + ", " + name_text + ")", __func__, __LINE__);
  }
  void set_desc(cudnnBackendAttributeName_t name, const char* name_text, const Desc& value) {
    cudnnBackendDescriptor_t v = value.get();
    set(name, name_text, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &v);
  }
  void finalize() {
    const cudnnStatus_t s = cudnnBackendFinalize(d_);
    if (s != CUDNN_STATUS_SUCCESS) fail(s, "cudnnBackendFinalize(" + what_ + ")", __func__, __LINE__);
  }
  cudnnStatus_t try_finalize() noexcept { return cudnnBackendFinalize(d_); }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
  std::string what_;
};

// The attribute and its spelling, for the error messages.
#define VF_ATTR(a) a, #a

cudnnDataType_t io_type(DType t) {
  switch (t) {
    case DType::f16: return CUDNN_DATA_HALF;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: throw Unsupported(fmt::format("cuDNN SDPA: dtype {} is not supported (f16, bf16)", to_string(t)));
  }
}

using Dims = std::array<std::int64_t, 4>;

Desc make_tensor(std::int64_t uid, const char* role, cudnnDataType_t dt, const Dims& dims, const Dims& strides,
                 bool is_virtual, bool by_value = false) {
  Desc t(CUDNN_BACKEND_TENSOR_DESCRIPTOR,
         fmt::format("tensor {} (uid {}, dims [{}], strides [{}])", role, uid, fmt::join(dims, ","),
                     fmt::join(strides, ",")));
  t.set(VF_ATTR(CUDNN_ATTR_TENSOR_DATA_TYPE), CUDNN_TYPE_DATA_TYPE, 1, &dt);
  t.set(VF_ATTR(CUDNN_ATTR_TENSOR_DIMENSIONS), CUDNN_TYPE_INT64, 4, dims.data());
  t.set(VF_ATTR(CUDNN_ATTR_TENSOR_STRIDES), CUDNN_TYPE_INT64, 4, strides.data());
  t.set(VF_ATTR(CUDNN_ATTR_TENSOR_UNIQUE_ID), CUDNN_TYPE_INT64, 1, &uid);
  const std::int64_t alignment = 16;
  t.set(VF_ATTR(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT), CUDNN_TYPE_INT64, 1, &alignment);
  if (is_virtual) {
    const bool v = true;
    t.set(VF_ATTR(CUDNN_ATTR_TENSOR_IS_VIRTUAL), CUDNN_TYPE_BOOLEAN, 1, &v);
  }
  if (by_value) {
    const bool v = true;
    t.set(VF_ATTR(CUDNN_ATTR_TENSOR_IS_BY_VALUE), CUDNN_TYPE_BOOLEAN, 1, &v);
  }
  t.finalize();
  return t;
}

// An operation graph and every descriptor it refers to (kept alive with it).
struct OpGraph {
  std::string kind;  // "composite" / "unified"
  std::vector<Desc> keep;
  Desc graph;
};

Desc matmul_op(const char* name, const Desc& a, const Desc& b, const Desc& c, std::vector<Desc>& keep) {
  Desc mm(CUDNN_BACKEND_MATMUL_DESCRIPTOR, std::string(name) + " matmul descriptor");
  const cudnnDataType_t f = CUDNN_DATA_FLOAT;
  mm.set(VF_ATTR(CUDNN_ATTR_MATMUL_COMP_TYPE), CUDNN_TYPE_DATA_TYPE, 1, &f);
  mm.finalize();
  Desc op(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, std::string(name) + " matmul operation");
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_MATMUL_ADESC), a);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_MATMUL_BDESC), b);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_MATMUL_CDESC), c);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_MATMUL_DESC), mm);
  op.finalize();
  keep.push_back(std::move(mm));
  return op;
}

// y = mode(x[, b]), fp32 math.
Desc pointwise_op(const char* name, cudnnPointwiseMode_t mode, const Desc& x, const Desc* b, const Desc& y,
                  std::vector<Desc>& keep) {
  Desc pw(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, std::string(name) + " pointwise descriptor");
  const cudnnDataType_t f = CUDNN_DATA_FLOAT;
  pw.set(VF_ATTR(CUDNN_ATTR_POINTWISE_MODE), CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
  pw.set(VF_ATTR(CUDNN_ATTR_POINTWISE_MATH_PREC), CUDNN_TYPE_DATA_TYPE, 1, &f);
  pw.finalize();
  Desc op(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, std::string(name) + " pointwise operation");
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR), pw);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_POINTWISE_XDESC), x);
  if (b) op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_POINTWISE_BDESC), *b);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_POINTWISE_YDESC), y);
  op.finalize();
  keep.push_back(std::move(pw));
  return op;
}

// y = reduce(x) over the dimensions where y has extent 1, fp32 math.
Desc reduction_op(const char* name, cudnnReduceTensorOp_t reduce, const Desc& x, const Desc& y, std::vector<Desc>& keep) {
  Desc rd(CUDNN_BACKEND_REDUCTION_DESCRIPTOR, std::string(name) + " reduction descriptor");
  const cudnnDataType_t f = CUDNN_DATA_FLOAT;
  rd.set(VF_ATTR(CUDNN_ATTR_REDUCTION_OPERATOR), CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &reduce);
  rd.set(VF_ATTR(CUDNN_ATTR_REDUCTION_COMP_TYPE), CUDNN_TYPE_DATA_TYPE, 1, &f);
  rd.finalize();
  Desc op(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, std::string(name) + " reduction operation");
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_REDUCTION_XDESC), x);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_REDUCTION_YDESC), y);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_REDUCTION_DESC), rd);
  op.finalize();
  keep.push_back(std::move(rd));
  return op;
}

Desc operation_graph(cudnnHandle_t handle, const std::string& kind, const std::vector<Desc*>& ops) {
  Desc g(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, kind + " operation graph");
  g.set(VF_ATTR(CUDNN_ATTR_OPERATIONGRAPH_HANDLE), CUDNN_TYPE_HANDLE, 1, &handle);
  std::vector<cudnnBackendDescriptor_t> raw;
  for (const Desc* d : ops) raw.push_back(d->get());
  g.set(VF_ATTR(CUDNN_ATTR_OPERATIONGRAPH_OPS), CUDNN_TYPE_BACKEND_DESCRIPTOR, static_cast<std::int64_t>(raw.size()),
        raw.data());
  g.finalize();
  return g;
}

// The caller's tensors as strided views of qkv [B, S, 3E] and y [B, S, E] (see the header).
struct IoTensors {
  Desc q, k, v, o, scale;
};

IoTensors io_tensors(const SdpaParams& p, bool k_transposed) {
  const cudnnDataType_t io = io_type(p.dtype);
  const std::int64_t B = p.batch, H = p.heads, S = p.seq, d = p.head_dim(), E = p.embed;
  const std::int64_t row = 3 * E, batch_stride = S * row;
  const Dims bhsd{B, H, S, d}, qkv_strides{batch_stride, d, row, 1};
  IoTensors t;
  t.q = make_tensor(kUidQ, "Q", io, bhsd, qkv_strides, false);
  if (k_transposed)
    t.k = make_tensor(kUidK, "K^T", io, Dims{B, H, d, S}, Dims{batch_stride, d, 1, row}, false);
  else
    t.k = make_tensor(kUidK, "K", io, bhsd, qkv_strides, false);
  t.v = make_tensor(kUidV, "V", io, bhsd, qkv_strides, false);
  t.o = make_tensor(kUidO, "O", io, bhsd, Dims{S * E, d, E, 1}, false);
  t.scale = make_tensor(kUidScale, "attention scale", CUDNN_DATA_FLOAT, Dims{1, 1, 1, 1}, Dims{1, 1, 1, 1}, false, true);
  return t;
}

// matmul → scale → max → sub → exp → sum → div → matmul (the fused flash-attention fprop pattern).
OpGraph build_composite(cudnnHandle_t handle, const SdpaParams& p) {
  OpGraph g;
  g.kind = "composite";
  IoTensors io = io_tensors(p, /*k_transposed=*/true);
  const cudnnDataType_t f = CUDNN_DATA_FLOAT, io_dt = io_type(p.dtype);
  const std::int64_t B = p.batch, H = p.heads, S = p.seq;
  const Dims full{B, H, S, S}, full_strides{H * S * S, S * S, S, 1};
  const Dims rows{B, H, S, 1}, rows_strides{H * S, S, 1, 1};
  Desc scores = make_tensor(kUidScores, "scores q·kT", f, full, full_strides, true);
  Desc scaled = make_tensor(kUidScaled, "scaled scores", f, full, full_strides, true);
  Desc row_max = make_tensor(kUidRowMax, "row max", f, rows, rows_strides, true);
  Desc shifted = make_tensor(kUidShifted, "scores - max", f, full, full_strides, true);
  Desc expd = make_tensor(kUidExp, "exp", f, full, full_strides, true);
  Desc row_sum = make_tensor(kUidRowSum, "row sum", f, rows, rows_strides, true);
  Desc probs = make_tensor(kUidProbs, "probabilities P", io_dt, full, full_strides, true);

  std::vector<Desc> ops;
  ops.push_back(matmul_op("bmm1 (Q·K^T)", io.q, io.k, scores, g.keep));
  ops.push_back(pointwise_op("attention scale", CUDNN_POINTWISE_MUL, scores, &io.scale, scaled, g.keep));
  ops.push_back(reduction_op("softmax max", CUDNN_REDUCE_TENSOR_MAX, scaled, row_max, g.keep));
  ops.push_back(pointwise_op("softmax sub", CUDNN_POINTWISE_SUB, scaled, &row_max, shifted, g.keep));
  ops.push_back(pointwise_op("softmax exp", CUDNN_POINTWISE_EXP, shifted, nullptr, expd, g.keep));
  ops.push_back(reduction_op("softmax sum", CUDNN_REDUCE_TENSOR_ADD, expd, row_sum, g.keep));
  ops.push_back(pointwise_op("softmax div", CUDNN_POINTWISE_DIV, expd, &row_sum, probs, g.keep));
  ops.push_back(matmul_op("bmm2 (P·V)", probs, io.v, io.o, g.keep));
  std::vector<Desc*> op_ptrs;
  for (Desc& d : ops) op_ptrs.push_back(&d);
  if (handle) g.graph = operation_graph(handle, g.kind, op_ptrs);  // null: operations only (check_sdpa_operations)

  for (Desc* t : {&io.q, &io.k, &io.v, &io.o, &io.scale, &scores, &scaled, &row_max, &shifted, &expd, &row_sum, &probs})
    g.keep.push_back(std::move(*t));
  for (Desc& d : ops) g.keep.push_back(std::move(d));
  return g;
}

// The single-operation SDPA forward (cuDNN ≥ 9.13.1 at run time).
bool unified_available() {
#if CUDNN_VERSION >= 91300
  return cudnnGetVersion() >= 91301;
#else
  return false;
#endif
}

OpGraph build_unified(cudnnHandle_t handle, const SdpaParams& p) {
  OpGraph g;
  g.kind = "unified";
#if CUDNN_VERSION >= 91300
  IoTensors io = io_tensors(p, /*k_transposed=*/false);
  Desc op(CUDNN_BACKEND_OPERATION_SDPA_FWD_DESCRIPTOR, "SDPA forward operation");
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_SDPA_FWD_QDESC), io.q);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_SDPA_FWD_KDESC), io.k);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_SDPA_FWD_VDESC), io.v);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_SDPA_FWD_ODESC), io.o);
  op.set_desc(VF_ATTR(CUDNN_ATTR_OPERATION_SDPA_FWD_SCALEDESC), io.scale);
  op.finalize();
  if (handle) g.graph = operation_graph(handle, g.kind, {&op});
  for (Desc* t : {&io.q, &io.k, &io.v, &io.o, &io.scale, &op}) g.keep.push_back(std::move(*t));
#else
  (void)handle, (void)p;
  throw Unsupported(fmt::format("cuDNN SDPA unified operation: built against cuDNN {} headers (needs 9.13+)", CUDNN_VERSION));
#endif
  return g;
}

// The global index of the engine behind an engine config; -1 where the library does not say.
std::int64_t engine_index(const Desc& cfg) {
  cudnnBackendDescriptor_t engine = nullptr;
  if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &engine) != CUDNN_STATUS_SUCCESS) return -1;
  std::int64_t count = 0, index = -1;
  if (cudnnBackendGetAttribute(cfg.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count,
                               &engine) != CUDNN_STATUS_SUCCESS ||
      cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &count, &index) !=
          CUDNN_STATUS_SUCCESS)
    index = -1;
  (void)cudnnBackendDestroyDescriptor(engine);
  return index;
}

struct Plan {
  SdpaPlanInfo info;
  Desc config;
  Desc plan;
  std::size_t graph = 0;  // index into Impl::graphs
};

const char* heur_mode_name(cudnnBackendHeurMode_t m) {
  switch (m) {
    case CUDNN_HEUR_MODE_A: return "HEUR_MODE_A";
    case CUDNN_HEUR_MODE_FALLBACK: return "HEUR_MODE_FALLBACK";
    default: return "HEUR_MODE_?";
  }
}

// Finalizes up to kMaxPlansPerGraph plans of `g` whose workspace fits `limit`; reasons for the
// others go to `rejected`.
void collect_plans(cudnnHandle_t handle, const OpGraph& g, std::size_t graph_index, std::uint64_t limit,
                   std::vector<Plan>& out, std::vector<std::string>& rejected) {
  int found = 0;
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, g.kind + " engine heuristics");
    heur.set_desc(VF_ATTR(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH), g.graph);
    heur.set(VF_ATTR(CUDNN_ATTR_ENGINEHEUR_MODE), CUDNN_TYPE_HEUR_MODE, 1, &mode);
    cudnnStatus_t s = heur.try_finalize();
    if (s != CUDNN_STATUS_SUCCESS) {
      rejected.push_back(fmt::format("{} graph, {}: heuristics did not finalize: {}", g.kind, heur_mode_name(mode),
                                     status_text(s)));
      continue;
    }
    std::int64_t n = 0;
    s = cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &n, nullptr);
    if (s != CUDNN_STATUS_SUCCESS)
      fail(s, "cudnnBackendGetAttribute(" + g.kind + " heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS count)", __func__, __LINE__);
    n = std::min(n, kMaxConfigsTried);
    if (n <= 0) {
      rejected.push_back(fmt::format("{} graph, {}: no engine configuration offered", g.kind, heur_mode_name(mode)));
      continue;
    }
    std::vector<Desc> configs;
    std::vector<cudnnBackendDescriptor_t> raw;
    for (std::int64_t i = 0; i < n; ++i) {
      configs.emplace_back(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, g.kind + " engine config");
      raw.push_back(configs.back().get());
    }
    std::int64_t got = 0;
    s = cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, n, &got,
                                 raw.data());
    if (s != CUDNN_STATUS_SUCCESS)
      fail(s, "cudnnBackendGetAttribute(" + g.kind + " heuristics, CUDNN_ATTR_ENGINEHEUR_RESULTS)", __func__, __LINE__);
    got = std::min(got, n);
    for (std::int64_t i = 0; i < got && found < kMaxPlansPerGraph; ++i) {
      const std::int64_t engine = engine_index(configs[static_cast<std::size_t>(i)]);
      const std::string name = fmt::format("{} engine {}", g.kind, engine);
      if (std::any_of(out.begin(), out.end(), [&](const Plan& p) { return p.info.name == name; })) continue;
      Desc plan(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, "execution plan (" + name + ")");
      plan.set(VF_ATTR(CUDNN_ATTR_EXECUTION_PLAN_HANDLE), CUDNN_TYPE_HANDLE, 1, &handle);
      plan.set_desc(VF_ATTR(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG), configs[static_cast<std::size_t>(i)]);
      s = plan.try_finalize();
      if (s != CUDNN_STATUS_SUCCESS) {
        rejected.push_back(fmt::format("{} ({}): plan did not finalize: {}", name, heur_mode_name(mode), status_text(s)));
        continue;
      }
      std::int64_t ws = 0, count = 0;
      s = cudnnBackendGetAttribute(plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &ws);
      if (s != CUDNN_STATUS_SUCCESS)
        fail(s, "cudnnBackendGetAttribute(" + plan.what() + ", CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE)", __func__,
             __LINE__);
      if (ws < 0 || static_cast<std::uint64_t>(ws) > limit) {
        rejected.push_back(fmt::format("{}: needs {} of workspace, the budget is {}", name,
                                       format_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(ws, 0))),
                                       format_bytes(limit)));
        continue;
      }
      Plan p;
      p.info.name = name;
      p.info.workspace_bytes = static_cast<std::uint64_t>(ws);
      p.config = std::move(configs[static_cast<std::size_t>(i)]);
      p.plan = std::move(plan);
      p.graph = graph_index;
      out.push_back(std::move(p));
      ++found;
    }
    if (found > 0) break;  // FALLBACK only where mode A offered nothing usable
  }
}

}  // namespace

double SdpaParams::flops() const {
  return 4.0 * static_cast<double>(batch) * static_cast<double>(heads) * static_cast<double>(seq) *
         static_cast<double>(seq) * static_cast<double>(head_dim());
}

std::string SdpaParams::to_string() const {
  return fmt::format("B{} S{} E{} H{} {}", batch, seq, embed, heads, vramfit::to_string(dtype));
}

std::optional<std::string> CudnnSdpa::unsupported_reason(const SdpaParams& p, int cc) {
  if (p.dtype != DType::f16 && p.dtype != DType::bf16)
    return fmt::format("cuDNN SDPA: dtype {} has no fused flash-attention engine (f16, bf16 only)", to_string(p.dtype));
  if (cc < 80)
    return fmt::format("cuDNN SDPA: fused flash attention needs sm_80 or newer (this GPU is sm_{})", cc);
  if (p.heads <= 0 || p.embed % p.heads != 0) return "cuDNN SDPA: heads must divide the embedding";
  const std::int64_t d = p.head_dim();
  const std::int64_t max_d = cc >= 90 ? 256 : 128;
  if (d % 8 != 0 || d > max_d)
    return fmt::format("cuDNN SDPA: head dim {} is not supported on sm_{} (a multiple of 8, at most {})", d, cc, max_d);
  const std::size_t v = cudnnGetVersion();
  if (v < 90000) return fmt::format("cuDNN SDPA: needs cuDNN 9 (loaded {})", v);
  if (v == 91000 || v == 91001)
    return fmt::format("cuDNN SDPA: cuDNN {} has known fp16/bf16 SDPA forward bugs (use 9.10.2 or newer)", v);
  return std::nullopt;
}

struct CudnnSdpa::Impl {
  cudnnHandle_t handle = nullptr;
  SdpaParams p;
  std::uint64_t limit = 0;
  float scale = 1.0f;  // 1/√d, bound by value (its address goes into the variant packs)
  std::vector<OpGraph> graphs;
  std::vector<Plan> plans;
  std::vector<SdpaPlanInfo> infos;
  std::vector<std::string> rejected;
  std::size_t chosen = 0;
  AlgorithmCache* cache = nullptr;  // shape → measured-fastest plan name; null: none
  // Variant packs by (qkv, y, workspace): executor steps reuse theirs on every eager run.
  mutable std::map<std::tuple<const void*, void*, void*>, Desc> packs;

  const Desc& pack(const void* qkv, void* y, void* workspace) const {
    const auto key = std::make_tuple(qkv, y, workspace);
    auto it = packs.find(key);
    if (it != packs.end()) return it->second;
    Desc vp(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, "variant pack (" + p.to_string() + ")");
    const std::size_t e_bytes = static_cast<std::size_t>(p.embed) * storage_bytes(p.dtype, 1);
    const char* base = static_cast<const char*>(qkv);
    // cuDNN takes non-const pointers; inputs are only read.
    std::array<void*, 5> ptrs{const_cast<char*>(base), const_cast<char*>(base + e_bytes),
                              const_cast<char*>(base + 2 * e_bytes), y, const_cast<float*>(&scale)};
    const std::array<std::int64_t, 5> uids{kUidQ, kUidK, kUidV, kUidO, kUidScale};
    vp.set(VF_ATTR(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS), CUDNN_TYPE_INT64, 5, uids.data());
    vp.set(VF_ATTR(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS), CUDNN_TYPE_VOID_PTR, 5, ptrs.data());
    vp.set(VF_ATTR(CUDNN_ATTR_VARIANT_PACK_WORKSPACE), CUDNN_TYPE_VOID_PTR, 1, &workspace);
    vp.finalize();
    return packs.emplace(key, std::move(vp)).first->second;
  }

  cudnnStatus_t execute(std::size_t plan, cudaStream_t stream, const Desc& vp) const {
    CUDNN_CHECK(cudnnSetStream(handle, stream));
    return cudnnBackendExecute(handle, plans[plan].plan.get(), vp.get());
  }

  void check_pointers(const char* who, const void* qkv, const void* y, const void* workspace, std::uint64_t need) const {
    if (!qkv || !y) throw InvalidInput(fmt::format("{}: qkv and y must be device pointers", who));
    if (reinterpret_cast<std::uintptr_t>(qkv) % kPointerAlign != 0 || reinterpret_cast<std::uintptr_t>(y) % kPointerAlign != 0)
      throw InvalidInput(fmt::format("{}: qkv and y must be 16-byte aligned", who));
    if (need > 0 && !workspace)
      throw InvalidInput(fmt::format("{}: needs a workspace of {} bytes", who, need));
  }
};

CudnnSdpa::CudnnSdpa(cudnnHandle_t handle, const SdpaParams& p, std::uint64_t workspace_limit, AlgorithmCache* cache)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.handle = handle;
  m.p = p;
  m.limit = workspace_limit;
  m.cache = cache;
  if (p.batch <= 0 || p.seq <= 0 || p.embed <= 0 || p.heads <= 0 || p.embed % p.heads != 0)
    throw InvalidInput("cuDNN SDPA: need positive batch, seq, embed, heads with heads dividing embed; got " + p.to_string());
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  if (auto why = unsupported_reason(p, device_cc(device))) throw Unsupported(*why + " (" + p.to_string() + ")");
  m.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.head_dim())));

  // Graphs: composite first (the long-standing flash fprop pattern), then the unified operation.
  // A graph cuDNN refuses is a recorded reason, not an error, as long as another one works.
  auto try_graph = [&](const char* kind, auto build) {
    try {
      m.graphs.push_back(build(handle, p));
    } catch (const Unsupported& e) {
      m.rejected.push_back(fmt::format("{} graph not supported: {}", kind, e.what()));
    } catch (const InternalError& e) {
      m.rejected.push_back(fmt::format("{} graph rejected: {}", kind, e.what()));
    }
  };
  try_graph("composite", build_composite);
  if (unified_available())
    try_graph("unified", build_unified);
  else
    m.rejected.push_back(fmt::format("unified graph: needs cuDNN 9.13.1 or newer (loaded {}, built against {})",
                                     cudnnGetVersion(), CUDNN_VERSION));
  for (std::size_t gi = 0; gi < m.graphs.size(); ++gi) {
    try {
      collect_plans(handle, m.graphs[gi], gi, workspace_limit, m.plans, m.rejected);
    } catch (const Unsupported& e) {
      m.rejected.push_back(fmt::format("{} graph: {}", m.graphs[gi].kind, e.what()));
    }
  }
  if (m.plans.empty()) {
    std::string why;
    for (const std::string& r : m.rejected) why += "\n  " + r;
    throw Unsupported(fmt::format("cuDNN SDPA ({}, cuDNN {} loaded, built against {}): no usable execution plan{}",
                                  p.to_string(), cudnnGetVersion(), CUDNN_VERSION, why));
  }
  for (const Plan& pl : m.plans) m.infos.push_back(pl.info);
  if (!cache) return;
  if (const std::optional<std::string> best = cache->sdpa.find(p.to_string()))
    for (std::size_t i = 0; i < m.plans.size(); ++i)
      if (m.plans[i].info.name == *best) m.chosen = i;
}

CudnnSdpa::~CudnnSdpa() = default;
CudnnSdpa::CudnnSdpa(CudnnSdpa&&) noexcept = default;
CudnnSdpa& CudnnSdpa::operator=(CudnnSdpa&&) noexcept = default;

const SdpaParams& CudnnSdpa::params() const { return impl_->p; }
const std::vector<SdpaPlanInfo>& CudnnSdpa::plans() const { return impl_->infos; }
std::size_t CudnnSdpa::chosen() const { return impl_->chosen; }
std::uint64_t CudnnSdpa::workspace_bytes() const { return impl_->plans[impl_->chosen].info.workspace_bytes; }
const std::vector<std::string>& CudnnSdpa::rejected() const { return impl_->rejected; }

std::string CudnnSdpa::describe() const {
  const SdpaPlanInfo& i = impl_->infos[impl_->chosen];
  std::string s = fmt::format("cuDNN SDPA {}, workspace {}", i.name, format_bytes(i.workspace_bytes));
  if (i.time_ms >= 0) s += fmt::format(", {:.3f} ms", i.time_ms);
  if (impl_->infos.size() > 1) s += fmt::format(" (best of {} plans)", impl_->infos.size());
  return s;
}

float CudnnSdpa::tune(cudaStream_t stream, const void* qkv, void* y, void* workspace) {
  Impl& m = *impl_;
  std::uint64_t need = 0;
  for (const Plan& p : m.plans) need = std::max(need, p.info.workspace_bytes);
  m.check_pointers("CudnnSdpa::tune", qkv, y, workspace, need);
  const Desc& vp = m.pack(qkv, y, workspace);
  Event start, end;
  float best_ms = -1.0f;
  std::size_t best = m.chosen;
  for (std::size_t i = 0; i < m.plans.size(); ++i) {
    // Warm-up (loads the kernel); a plan the library refuses at launch is skipped, anything else thrown.
    cudnnStatus_t s = m.execute(i, stream, vp);
    if (is_not_supported(s)) {
      m.rejected.push_back(fmt::format("{}: refused at launch: {}", m.plans[i].info.name, status_text(s)));
      continue;
    }
    if (s != CUDNN_STATUS_SUCCESS)
      fail(s, "cudnnBackendExecute(" + m.plans[i].info.name + ", " + m.p.to_string() + ", warm-up)", __func__, __LINE__);
    // One timed run sizes the loop: about kTuneBudgetMs of runs, at least 3, at most 200.
    constexpr float kTuneBudgetMs = 20.0f;
    start.record(stream);
    s = m.execute(i, stream, vp);
    end.record(stream);
    if (s != CUDNN_STATUS_SUCCESS)
      fail(s, "cudnnBackendExecute(" + m.plans[i].info.name + ", " + m.p.to_string() + ")", __func__, __LINE__);
    end.synchronize();
    const float once = Event::elapsed_ms(start, end);
    const int n = once > 0 ? std::clamp(static_cast<int>(kTuneBudgetMs / once), 3, 200) : 200;
    start.record(stream);
    for (int it = 0; it < n; ++it) {
      s = m.execute(i, stream, vp);
      if (s != CUDNN_STATUS_SUCCESS)
        fail(s, "cudnnBackendExecute(" + m.plans[i].info.name + ", " + m.p.to_string() + ")", __func__, __LINE__);
    }
    end.record(stream);
    end.synchronize();
    const float ms = Event::elapsed_ms(start, end) / static_cast<float>(n);
    m.plans[i].info.time_ms = ms;
    m.infos[i].time_ms = ms;
    if (best_ms < 0 || ms < best_ms) {
      best_ms = ms;
      best = i;
    }
  }
  if (best_ms < 0) {
    std::string why;
    for (const std::string& r : m.rejected) why += "\n  " + r;
    throw Unsupported(fmt::format("cuDNN SDPA ({}): every plan was refused at launch{}", m.p.to_string(), why));
  }
  m.chosen = best;
  if (m.cache) m.cache->sdpa.put(m.p.to_string(), m.plans[best].info.name);
  return best_ms;
}

void CudnnSdpa::select(std::size_t index) {
  if (index >= impl_->plans.size())
    throw InvalidInput(fmt::format("CudnnSdpa::select: plan {} of {}", index, impl_->plans.size()));
  impl_->chosen = index;
}

void CudnnSdpa::run(cudaStream_t stream, const void* qkv, void* y, void* workspace) const {
  const Impl& m = *impl_;
  m.check_pointers("CudnnSdpa::run", qkv, y, workspace, workspace_bytes());
  const Desc& vp = m.pack(qkv, y, workspace);
  const cudnnStatus_t s = m.execute(m.chosen, stream, vp);
  if (s != CUDNN_STATUS_SUCCESS)
    fail(s, "cudnnBackendExecute(" + m.plans[m.chosen].info.name + ", " + m.p.to_string() + ")", __func__, __LINE__);
}

std::vector<std::string> check_sdpa_operations(const SdpaParams& p) {
  std::vector<std::string> problems;
  auto check = [&](const char* kind, auto build) {
    try {
      (void)build(nullptr, p);
    } catch (const Error& e) {
      problems.push_back(fmt::format("{} graph: {}", kind, e.what()));
    }
  };
  check("composite", build_composite);
#if CUDNN_VERSION >= 91300
  if (cudnnGetVersion() >= 91300) check("unified", build_unified);
#endif
  return problems;
}

}  // namespace vramfit::cuda
