// backend/cuda/cublaslt_gemm.cpp — Linear on cuBLASLt; see cublaslt_gemm.h for the row-major →
// column-major mapping, the epilogues and the algorithm choice.
#include "backend/cuda/cublaslt_gemm.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/arch.h"
#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "core/bytes.h"
#include "core/error.h"

namespace vramfit::cuda {

namespace {

constexpr int kHeuristicCount = 8;

// ---- RAII for cuBLASLt descriptors (local to this file) ----
struct MatmulDesc {
  cublasLtMatmulDesc_t d = nullptr;
  MatmulDesc(cublasComputeType_t compute, cudaDataType_t scale) { CUBLAS_CHECK(cublasLtMatmulDescCreate(&d, compute, scale)); }
  ~MatmulDesc() {
    if (d) (void)cublasLtMatmulDescDestroy(d);
  }
  MatmulDesc(const MatmulDesc&) = delete;
  MatmulDesc& operator=(const MatmulDesc&) = delete;
  template <class T> void set(cublasLtMatmulDescAttributes_t attr, const T& value) {
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d, attr, &value, sizeof(value)));
  }
};

struct MatrixLayout {
  cublasLtMatrixLayout_t l = nullptr;
  MatrixLayout(cudaDataType_t type, std::uint64_t rows, std::uint64_t cols, std::int64_t ld) {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&l, type, rows, cols, ld));  // column-major by default
  }
  ~MatrixLayout() {
    if (l) (void)cublasLtMatrixLayoutDestroy(l);
  }
  MatrixLayout(const MatrixLayout&) = delete;
  MatrixLayout& operator=(const MatrixLayout&) = delete;
};

struct Preference {
  cublasLtMatmulPreference_t p = nullptr;
  Preference() { CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&p)); }
  ~Preference() {
    if (p) (void)cublasLtMatmulPreferenceDestroy(p);
  }
  Preference(const Preference&) = delete;
  Preference& operator=(const Preference&) = delete;
  template <class T> void set(cublasLtMatmulPreferenceAttributes_t attr, const T& value) {
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(p, attr, &value, sizeof(value)));
  }
};

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f32: return CUDA_R_32F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    default: throw Unsupported(fmt::format("cuBLASLt linear: dtype {} is not supported (f32, f16, bf16)", to_string(t)));
  }
}

const char* epilogue_name(cublasLtEpilogue_t e) {
  switch (e) {
    case CUBLASLT_EPILOGUE_DEFAULT: return "DEFAULT";
    case CUBLASLT_EPILOGUE_RELU: return "RELU";
    case CUBLASLT_EPILOGUE_BIAS: return "BIAS";
    case CUBLASLT_EPILOGUE_RELU_BIAS: return "RELU_BIAS";
    case CUBLASLT_EPILOGUE_GELU: return "GELU(tanh)";
    case CUBLASLT_EPILOGUE_GELU_BIAS: return "GELU_BIAS(tanh)";
    default: return "OTHER";
  }
}

bool misaligned(const void* p, std::uint32_t alignment) {
  return p != nullptr && reinterpret_cast<std::uintptr_t>(p) % alignment != 0;
}

bool overlap(const void* a, std::uint64_t an, const void* b, std::uint64_t bn) {
  const auto ua = reinterpret_cast<std::uintptr_t>(a), ub = reinterpret_cast<std::uintptr_t>(b);
  return ua < ub + bn && ub < ua + an;
}

}  // namespace

std::string LinearParams::to_string() const {
  std::string act_text(vramfit::to_string(act));
  if (act == Activation::Gelu) act_text += gelu == GeluMode::Exact ? "(exact)" : "(tanh)";
  return fmt::format("linear M{} N{} K{} {}{}{} act={}{}{} align{}", m, n, k, vramfit::to_string(dtype),
                     has_bias ? " bias" : "", has_residual ? " residual" : "", act_text, allow_tf32 ? " tf32" : "",
                     bias_dtype && *bias_dtype != dtype ? fmt::format(" bias:{}", vramfit::to_string(*bias_dtype)) : "",
                     pointer_alignment);
}

LinearParams linear_params_from_node(const Graph& g, const Node& n, bool allow_tf32, GeluMode gelu) {
  if (n.op != OpKind::Linear) throw InternalError("linear_params_from_node: node " + n.name + " is not a Linear");
  const auto& a = n.attr<LinearAttrs>();
  const Value& x = g.value(n.inputs.at(0));
  const Value& w = g.value(n.inputs.at(1));
  const Value& y = g.value(n.output);
  if (w.shape.rank() != 2 || x.shape.rank() < 1 || x.shape.back() != w.shape[1])
    throw InvalidInput(fmt::format("{}: linear weight {} does not fit input {}", n.name, w.shape.to_string(),
                                   x.shape.to_string()));
  if (x.dtype != y.dtype || w.dtype != y.dtype)
    throw Unsupported(fmt::format("{}: cuBLASLt linear needs x, W and y of one dtype (got {}, {}, {})", n.name,
                                  to_string(x.dtype), to_string(w.dtype), to_string(y.dtype)));
  LinearParams p;
  p.k = w.shape[1];
  p.n = w.shape[0];
  p.m = p.k > 0 ? x.shape.numel() / p.k : 0;
  p.dtype = y.dtype;
  p.has_bias = a.has_bias;
  p.has_residual = a.has_residual;
  p.act = a.act;
  p.gelu = gelu;
  p.allow_tf32 = allow_tf32;
  if (a.has_bias) {
    const DType bt = g.value(n.inputs.at(2)).dtype;
    if (bt != p.dtype) p.bias_dtype = bt;
  }
  return p;
}

struct LinearRunner::Impl {
  cublasLtHandle_t handle = nullptr;
  LinearParams p;
  std::uint64_t limit = 0;
  int device = 0;
  int cc = 0;
  std::size_t elem = 4;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
  Activation separate = Activation::None;
  std::unique_ptr<MatmulDesc> desc;
  std::unique_ptr<MatrixLayout> a_layout, b_layout, d_layout;  // C uses D's layout (in place allowed)
  LinearChoice choice;
  std::string key;
  AlgorithmCache* cache = nullptr;  // read at construction, filled by tune(); null: none

  std::uint64_t x_bytes() const { return static_cast<std::uint64_t>(p.m * p.k) * elem; }
  std::uint64_t w_bytes() const { return static_cast<std::uint64_t>(p.n * p.k) * elem; }
  std::uint64_t y_bytes() const { return static_cast<std::uint64_t>(p.m * p.n) * elem; }

  void build() {
    const cudaDataType_t t = cuda_type(p.dtype);
    // fp32 accumulate for every dtype; TF32 tensor cores for f32 only when allowed.
    compute = (p.dtype == DType::f32 && p.allow_tf32) ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    desc = std::make_unique<MatmulDesc>(compute, CUDA_R_32F);
    desc->set(CUBLASLT_MATMUL_DESC_TRANSA, static_cast<int32_t>(CUBLAS_OP_T));  // op(A) = W  (N×K)
    desc->set(CUBLASLT_MATMUL_DESC_TRANSB, static_cast<int32_t>(CUBLAS_OP_N));  // op(B) = xᵀ (K×M)

    const bool fuse_gelu = p.act == Activation::Gelu && p.gelu == GeluMode::TanhEpilogue;
    if (p.act == Activation::Relu) epi = p.has_bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    else if (fuse_gelu) epi = p.has_bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    else epi = p.has_bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    separate = (p.act == Activation::Gelu && !fuse_gelu) || p.act == Activation::Silu ? p.act : Activation::None;
    desc->set(CUBLASLT_MATMUL_DESC_EPILOGUE, static_cast<uint32_t>(epi));
    if (p.has_bias) {
      if (p.bias_dtype && *p.bias_dtype != p.dtype)
        desc->set(CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, static_cast<int32_t>(cuda_type(*p.bias_dtype)));
      // The heuristic reads the bias pointer's value (never dereferenced) to learn its alignment; until
      // run() sets the real one, a stand-in aligned exactly to what we promise.
      const void* stand_in = reinterpret_cast<const void*>(static_cast<std::uintptr_t>(p.pointer_alignment));
      desc->set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, stand_in);
    }
    const auto M = static_cast<std::uint64_t>(p.m), N = static_cast<std::uint64_t>(p.n), K = static_cast<std::uint64_t>(p.k);
    a_layout = std::make_unique<MatrixLayout>(t, K, N, p.k);  // W's buffer read column-major: Wᵀ, K×N, ld K
    b_layout = std::make_unique<MatrixLayout>(t, K, M, p.k);  // x's buffer read column-major: xᵀ, K×M, ld K
    d_layout = std::make_unique<MatrixLayout>(t, N, M, p.n);  // y's buffer read column-major: yᵀ, N×M, ld N
  }

  std::vector<cublasLtMatmulHeuristicResult_t> heuristics(int count) const {
    Preference pref;
    pref.set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, static_cast<uint64_t>(limit));
    const uint32_t align = p.pointer_alignment;
    pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align);
    pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align);
    pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align);
    pref.set(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align);
    std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(count));
    int returned = 0;
    const cublasStatus_t s = cublasLtMatmulAlgoGetHeuristic(handle, desc->d, a_layout->l, b_layout->l, d_layout->l,
                                                            d_layout->l, pref.p, count, results.data(), &returned);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED) returned = 0;  // "no heuristic function available": reported below
    else if (s != CUBLAS_STATUS_SUCCESS)
      detail::throw_cublas(s, "cublasLtMatmulAlgoGetHeuristic(...)", __func__, __FILE__, __LINE__);
    std::vector<cublasLtMatmulHeuristicResult_t> ok;
    for (int i = 0; i < returned; ++i) {
      const auto& r = results[static_cast<std::size_t>(i)];
      if (r.state == CUBLAS_STATUS_SUCCESS && r.workspaceSize <= limit) ok.push_back(r);
    }
    if (ok.empty())
      throw Unsupported(fmt::format("{}: cuBLASLt has no algorithm for this configuration (epilogue {}) on sm_{} "
                                    "within a workspace of {}",
                                    p.to_string(), epilogue_name(epi), cc, format_bytes(limit)));
    return ok;
  }

  cublasStatus_t launch(cudaStream_t stream, const cublasLtMatmulAlgo_t& algo, std::uint64_t ws_bytes, const void* x,
                        const void* w, const void* bias, const void* res, void* y, void* workspace) const {
    if (p.has_bias) {
      const cublasStatus_t s = cublasLtMatmulDescSetAttribute(desc->d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
      if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
    const float alpha = 1.0f;
    const float beta = p.has_residual ? 1.0f : 0.0f;
    const void* c = p.has_residual ? res : y;  // β = 0: C is not read; pointing it at D is the usual idiom
    return cublasLtMatmul(handle, desc->d, &alpha, w, a_layout->l, x, b_layout->l, &beta, c, d_layout->l, y,
                          d_layout->l, &algo, workspace, static_cast<std::size_t>(ws_bytes), stream);
  }
};

std::optional<std::string> LinearRunner::unsupported_reason(const LinearParams& p, int compute_capability) {
  if (p.dtype != DType::f32 && p.dtype != DType::f16 && p.dtype != DType::bf16)
    return fmt::format("cuBLASLt linear runs f32, f16 and bf16, not {}", to_string(p.dtype));
  if (p.dtype == DType::bf16 && compute_capability < 80)
    return fmt::format("bf16 matrix products need compute capability 8.0 (sm_80) or newer; this GPU is sm_{}",
                       compute_capability);
  if (p.dtype == DType::f16 && compute_capability < 53)
    return fmt::format("f16 matrix products need compute capability 5.3 or newer; this GPU is sm_{}", compute_capability);
  if (p.bias_dtype && *p.bias_dtype != DType::f32 && *p.bias_dtype != DType::f16 && *p.bias_dtype != DType::bf16)
    return fmt::format("bias dtype {} is not supported by cuBLASLt's bias epilogue", to_string(*p.bias_dtype));
  if (p.act != Activation::None && p.act != Activation::Relu && p.act != Activation::Gelu && p.act != Activation::Silu)
    return fmt::format("activation {} is not supported", to_string(p.act));
  return std::nullopt;
}

LinearRunner::LinearRunner(cublasLtHandle_t handle, const LinearParams& p, std::uint64_t workspace_limit,
                           AlgorithmCache* cache)
    : impl_(std::make_unique<Impl>()) {
  if (handle == nullptr) throw InternalError("LinearRunner: null cuBLASLt handle");
  if (p.m < 1 || p.n < 1 || p.k < 1)
    throw InvalidInput(fmt::format("{}: M, N and K must be ≥ 1", p.to_string()));
  if (p.pointer_alignment == 0 || (p.pointer_alignment & (p.pointer_alignment - 1)) != 0 || p.pointer_alignment > 256)
    throw InvalidInput(fmt::format("{}: pointer alignment must be a power of two ≤ 256", p.to_string()));
  Impl& m = *impl_;
  m.handle = handle;
  m.p = p;
  m.limit = workspace_limit;
  m.cache = cache;
  CUDA_CHECK(cudaGetDevice(&m.device));
  m.cc = device_cc(m.device);  // arch.h: the effective capability
  if (auto why = unsupported_reason(p, m.cc)) throw Unsupported(*why);
  m.elem = static_cast<std::size_t>(storage_bytes(p.dtype, 1));
  m.build();

  m.key = fmt::format("{}|ws={}|dev={}|sm={}|cublasLt={}", p.to_string(), workspace_limit, m.device, m.cc,
                      cublasLtGetVersion());
  if (cache) {
    std::optional<LinearChoice> known = cache->linear.find(m.key + "|measured");
    if (!known) known = cache->linear.find(m.key);
    if (known) {
      m.choice = *known;
      return;
    }
  }
  const auto results = m.heuristics(kHeuristicCount);
  m.choice.algo = results.front().algo;  // ordered by increasing estimated time
  m.choice.workspace_bytes = results.front().workspaceSize;
  m.choice.candidates = static_cast<int>(results.size());
  if (cache) cache->linear.add(m.key, m.choice);
}

LinearRunner::~LinearRunner() = default;
LinearRunner::LinearRunner(LinearRunner&&) noexcept = default;
LinearRunner& LinearRunner::operator=(LinearRunner&&) noexcept = default;

const LinearParams& LinearRunner::params() const { return impl_->p; }
const LinearChoice& LinearRunner::choice() const { return impl_->choice; }
cublasLtEpilogue_t LinearRunner::epilogue() const { return impl_->epi; }
Activation LinearRunner::separate_activation() const { return impl_->separate; }
std::uint64_t LinearRunner::workspace_bytes() const { return impl_->choice.workspace_bytes; }
std::uint64_t LinearRunner::workspace_limit() const { return impl_->limit; }

std::string LinearRunner::describe() const {
  const Impl& m = *impl_;
  const char* compute = m.compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? "32F_FAST_TF32" : "32F";
  std::string s = fmt::format("{}{}, {} compute, workspace {}", epilogue_name(m.epi),
                              m.p.has_residual ? " + residual (beta=1)" : "", compute,
                              format_bytes(m.choice.workspace_bytes));
  if (m.separate != Activation::None) s += fmt::format(", {} applied separately", to_string(m.separate));
  if (m.choice.measured) s += fmt::format(", measured {:.4f} ms (fastest of {})", m.choice.time_ms, m.choice.candidates);
  else s += fmt::format(", heuristic #0 of {}", m.choice.candidates);
  return s;
}

void LinearRunner::tune(cudaStream_t stream, const void* x, const void* w, const void* bias, void* y_scratch,
                        void* workspace, int candidates, int iterations) {
  Impl& m = *impl_;
  if (!x || !w || !y_scratch) throw InvalidInput("LinearRunner::tune: x, w and y_scratch must be device pointers");
  if (m.p.has_bias != (bias != nullptr)) throw InvalidInput("LinearRunner::tune: bias must be given iff the node has one");
  if (m.limit > 0 && workspace == nullptr) throw InvalidInput("LinearRunner::tune: needs a workspace of workspace_limit() bytes");
  candidates = std::clamp(candidates, 1, 64);
  iterations = std::clamp(iterations, 1, 1000);
  const auto results = m.heuristics(candidates);
  Event start, end;
  float best_ms = -1.0f;
  std::size_t best = 0;
  const void* res = m.p.has_residual ? y_scratch : nullptr;  // in place: the values do not matter here
  // A long product (≥ kLongMs per launch: a large batch's GEMM, hundreds of thousands of rows) is
  // compute-bound, where cuBLASLt's heuristic ranking is reliable and one launch is a stable timing:
  // its warm-up launch is the measurement and only the first kLongCandidates are timed. At the max
  // batch of a profile this was most of a worker's set-up (vit-b16 fp32 at batch 1782: 10.5 s of 29 s).
  constexpr float kLongMs = 5.0f;
  constexpr std::size_t kLongCandidates = 3;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    // Warm-up; an algorithm the library refuses at launch is skipped, any other failure reported.
    start.record(stream);
    cublasStatus_t s = m.launch(stream, r.algo, r.workspaceSize, x, w, bias, res, y_scratch, workspace);
    if (s == CUBLAS_STATUS_NOT_SUPPORTED || s == CUBLAS_STATUS_INVALID_VALUE) continue;
    if (s != CUBLAS_STATUS_SUCCESS) detail::throw_cublas(s, "cublasLtMatmul(warm-up)", __func__, __FILE__, __LINE__);
    end.record(stream);
    end.synchronize();
    const float warm = Event::elapsed_ms(start, end);
    if (warm >= kLongMs) {
      if (best_ms < 0 || warm < best_ms) {
        best_ms = warm;
        best = i;
      }
      if (i + 1 >= kLongCandidates) break;
      continue;
    }
    // One timed launch sizes the loop: a long GEMM (tens of ms at a large batch) is stable in a few
    // launches, so each candidate gets about kTuneBudgetMs of launches, at least one, at most `iterations`.
    constexpr float kTuneBudgetMs = 20.0f;
    start.record(stream);
    CUBLAS_CHECK(m.launch(stream, r.algo, r.workspaceSize, x, w, bias, res, y_scratch, workspace));
    end.record(stream);
    end.synchronize();
    const float once = Event::elapsed_ms(start, end);
    const int n = once > 0 ? std::clamp(static_cast<int>(kTuneBudgetMs / once), 1, iterations) : iterations;
    if (n == 1) {
      if (best_ms < 0 || once < best_ms) {
        best_ms = once;
        best = i;
      }
      continue;
    }
    start.record(stream);
    for (int it = 0; it < n; ++it)
      CUBLAS_CHECK(m.launch(stream, r.algo, r.workspaceSize, x, w, bias, res, y_scratch, workspace));
    end.record(stream);
    end.synchronize();
    const float ms = Event::elapsed_ms(start, end) / static_cast<float>(n);
    if (best_ms < 0 || ms < best_ms) {
      best_ms = ms;
      best = i;
    }
  }
  if (best_ms < 0)
    throw Unsupported(fmt::format("{}: none of cuBLASLt's {} heuristic algorithms ran", m.p.to_string(), results.size()));
  m.choice.algo = results[best].algo;
  m.choice.workspace_bytes = results[best].workspaceSize;
  m.choice.measured = true;
  m.choice.time_ms = best_ms;
  m.choice.candidates = static_cast<int>(results.size());
  if (m.cache) m.cache->linear.put(m.key + "|measured", m.choice);
}

void LinearRunner::run(cudaStream_t stream, const void* x, const void* w, const void* bias, const void* res, void* y,
                       void* workspace) const {
  const Impl& m = *impl_;
  const LinearParams& p = m.p;
  const auto fail = [&](const std::string& why) { throw InvalidInput(fmt::format("{}: {}", p.to_string(), why)); };
  if (!x || !w || !y) fail("x, w and y must be device pointers");
  if (p.has_bias != (bias != nullptr)) fail(p.has_bias ? "the node has a bias but none was passed" : "bias passed to a node without one");
  if (p.has_residual != (res != nullptr))
    fail(p.has_residual ? "the node has a residual but none was passed" : "residual passed to a node without one");
  if (m.choice.workspace_bytes > 0 && workspace == nullptr)
    fail(fmt::format("needs a workspace of {}", format_bytes(m.choice.workspace_bytes)));
  for (const void* ptr : {x, w, bias, res, static_cast<const void*>(y), static_cast<const void*>(workspace)})
    if (misaligned(ptr, p.pointer_alignment))
      fail(fmt::format("pointers must be {}-byte aligned (the alignment the algorithm was chosen for)", p.pointer_alignment));
  const std::uint64_t yb = m.y_bytes();
  if (overlap(x, m.x_bytes(), y, yb) || overlap(w, m.w_bytes(), y, yb)) fail("y overlaps x or W");
  if (res && res != y && overlap(res, yb, y, yb)) fail("res and y overlap without being the same buffer");
  CUBLAS_CHECK(m.launch(stream, m.choice.algo, m.choice.workspace_bytes, x, w, bias, res, y, workspace));
}

}  // namespace vramfit::cuda
