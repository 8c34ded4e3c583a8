// backend/cuda/attention_runner.cpp — see attention_runner.h.
#include "backend/cuda/attention_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/check.h"
#include "backend/cuda/cudnn_sdpa.h"
#include "backend/cuda/device.h"
#include "core/error.h"

namespace vramfit::cuda {

namespace {

// Mean time of fn() on `stream`: one warm-up, one run to size the loop, then about 20 ms of runs
// (at least 3, at most 200).
template <class F>
float time_ms(cudaStream_t stream, F&& fn) {
  Event start, end;
  fn();
  start.record(stream);
  fn();
  end.record(stream);
  end.synchronize();
  const float once = Event::elapsed_ms(start, end);
  constexpr float kBudgetMs = 20.0f;
  const int n = once > 0 ? std::clamp(static_cast<int>(kBudgetMs / once), 3, 200) : 200;
  start.record(stream);
  for (int i = 0; i < n; ++i) fn();
  end.record(stream);
  end.synchronize();
  return Event::elapsed_ms(start, end) / static_cast<float>(n);
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string neither_runs(const std::string& key, const std::string& flash_why, const std::string& cudnn_why) {
  return fmt::format("attention {}: neither our kernel ({}) nor cuDNN SDPA ({}) runs it", key, flash_why, cudnn_why);
}

SdpaParams sdpa_params_of(DType dtype, const kernels::AttentionDims& dims) {
  SdpaParams p;
  p.batch = dims.batch;
  p.seq = dims.seq;
  p.embed = dims.embed;
  p.heads = dims.heads;
  p.dtype = dtype;
  return p;
}

}  // namespace

const char* to_string(AttentionImpl i) { return i == AttentionImpl::Cudnn ? "cudnn" : "flash"; }

struct AttentionRunner::Impl {
  cudnnHandle_t handle = nullptr;
  DType dtype = DType::f16;
  kernels::AttentionDims dims;
  std::uint64_t limit = 0;
  int cc = 0;
  std::optional<std::string> flash_why;  // nullopt: our kernel runs this shape
  std::unique_ptr<CudnnSdpa> cudnn;
  bool cudnn_tried = false;
  std::string cudnn_why;  // why `cudnn` is null after a try
  AttentionChoice choice;
  std::string key;
  AlgorithmCache* cache = nullptr;  // null: none

  SdpaParams sdpa_params() const { return sdpa_params_of(dtype, dims); }

  // Builds the cuDNN runner once; a shape cuDNN cannot do is a recorded reason. A failure of our own
  // graph construction (InternalError) is recorded too where our kernel can take over, so a cuDNN
  // problem never stops a model our kernel runs; tests/gpu/test_sdpa.cpp calls CudnnSdpa directly
  // and sees every error.
  void ensure_cudnn() {
    if (cudnn_tried) return;
    cudnn_tried = true;
    const SdpaParams p = sdpa_params();
    if (auto why = CudnnSdpa::unsupported_reason(p, cc)) {
      cudnn_why = *why;
      return;
    }
    try {
      cudnn = std::make_unique<CudnnSdpa>(handle, p, limit, cache);
    } catch (const Unsupported& e) {
      cudnn_why = e.what();
    } catch (const InternalError& e) {
      if (flash_why) throw;
      cudnn_why = e.what();
    }
  }

  [[noreturn]] void throw_neither() const { throw Unsupported(neither_runs(key, flash_why.value_or("?"), cudnn_why)); }
};

std::optional<std::string> AttentionRunner::unsupported_reason(DType dtype, const kernels::AttentionDims& dims,
                                                                int compute_capability) {
  const auto flash_why = kernels::attention_unsupported(dtype, dims.head_dim(), compute_capability);
  if (!flash_why) return std::nullopt;
  const SdpaParams p = sdpa_params_of(dtype, dims);
  const auto cudnn_why = CudnnSdpa::unsupported_reason(p, compute_capability);
  if (!cudnn_why) return std::nullopt;
  return neither_runs(p.to_string(), *flash_why, *cudnn_why);
}

AttentionRunner::AttentionRunner(cudnnHandle_t handle, DType dtype, const kernels::AttentionDims& dims,
                                 std::uint64_t workspace_limit, int compute_capability, AlgorithmCache* cache)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.handle = handle;
  m.dtype = dtype;
  m.dims = dims;
  m.limit = workspace_limit;
  m.cc = compute_capability;
  m.cache = cache;
  m.key = m.sdpa_params().to_string();
  m.flash_why = kernels::attention_unsupported(dtype, dims.head_dim(), compute_capability);
  std::optional<AttentionChoice> known = cache ? cache->attention.find(m.key) : std::nullopt;
  if (known) m.choice = *known;
  else m.choice.impl = m.flash_why ? AttentionImpl::Cudnn : AttentionImpl::Flash;
  if (m.choice.impl == AttentionImpl::Cudnn) {
    m.ensure_cudnn();
    if (!m.cudnn) {
      if (m.flash_why) m.throw_neither();
      m.choice = AttentionChoice{};  // cuDNN was chosen before but has no plan here (e.g. a smaller budget)
    }
  }
}

AttentionRunner::~AttentionRunner() = default;

void AttentionRunner::tune(cudaStream_t stream, const void* qkv, void* y, void* workspace) {
  Impl& m = *impl_;
  AttentionChoice c;
  if (!m.flash_why)
    c.flash_ms = time_ms(stream, [&] { kernels::attention(m.dtype, qkv, y, m.dims, stream); });
  m.ensure_cudnn();
  if (m.cudnn) {
    try {
      c.cudnn_ms = m.cudnn->tune(stream, qkv, y, workspace);
    } catch (const Unsupported& e) {  // every plan refused at launch
      m.cudnn_why = e.what();
      m.cudnn.reset();
    } catch (const InternalError& e) {  // a bad parameter at launch: our bug, reported, not fatal here
      if (m.flash_why) throw;
      m.cudnn_why = e.what();
      m.cudnn.reset();
    }
  }
  if (c.flash_ms < 0 && c.cudnn_ms < 0) m.throw_neither();
  c.impl = (c.cudnn_ms >= 0 && (c.flash_ms < 0 || c.cudnn_ms < c.flash_ms)) ? AttentionImpl::Cudnn : AttentionImpl::Flash;
  c.measured = true;
  m.choice = c;
  if (m.cache) m.cache->attention.put(m.key, c);
}

void AttentionRunner::run(cudaStream_t stream, const void* qkv, void* y, void* workspace) const {
  const Impl& m = *impl_;
  if (m.choice.impl == AttentionImpl::Cudnn) m.cudnn->run(stream, qkv, y, workspace);
  else kernels::attention(m.dtype, qkv, y, m.dims, stream);
}

AttentionImpl AttentionRunner::impl() const { return impl_->choice.impl; }
const AttentionChoice& AttentionRunner::choice() const { return impl_->choice; }
std::uint64_t AttentionRunner::workspace_bytes() const {
  return impl_->choice.impl == AttentionImpl::Cudnn ? impl_->cudnn->workspace_bytes() : 0;
}
std::string AttentionRunner::key() const { return impl_->key; }

std::string AttentionRunner::describe() const {
  const Impl& m = *impl_;
  std::string flash = m.flash_why ? "flash: " + *m.flash_why
                                  : (m.choice.flash_ms >= 0 ? fmt::format("flash {:.3f} ms", m.choice.flash_ms) : "flash");
  std::string cudnn;
  if (m.cudnn) cudnn = m.cudnn->describe();
  else if (m.cudnn_tried) cudnn = "cuDNN SDPA unavailable: " + first_line(m.cudnn_why);
  else cudnn = "cuDNN SDPA not tried";
  return fmt::format("attention → {}{} ({} | {})", to_string(m.choice.impl), m.choice.measured ? " (measured)" : "", flash,
                     cudnn);
}

}  // namespace vramfit::cuda
