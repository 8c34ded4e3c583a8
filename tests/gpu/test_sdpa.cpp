// tests/gpu/test_sdpa.cpp — cuDNN's fused SDPA (backend/cuda/cudnn_sdpa.h) and the attention
// chooser (backend/cuda/attention_runner.h) against the CPU reference (backend/cpu/ops.h attention).
//
// Shapes: S = 197 (ViT-B/16), 19, 1; head dims 64 and 80; batch 1 and 19; f16 and bf16. Inputs are
// drawn in fp32 and rounded to the storage dtype on the host; the reference runs on the rounded values,
// so what remains is the library's own arithmetic (fp32 accumulation, p rounded to the I/O type before
// p·v) and the output rounding — the same tolerances as our kernel's (tests/gpu/test_kernels.cpp).
// Every plan cuDNN finalizes is checked at B1 S197 (each engine can be wrong on its own); the chosen one
// elsewhere. A shape cuDNN reports unsupported prints why and is skipped; a test where cuDNN supports
// nothing at all reports SKIPPED with the reasons. Each check prints its worst error.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cuda/algorithm_cache.h"
#include "backend/cuda/attention_runner.h"
#include "backend/cuda/check.h"
#include "backend/cuda/cudnn_sdpa.h"
#include "backend/cuda/device.h"
#include "core/half.h"
#include "core/rng.h"
#include "gpu_env.h"

namespace vramfit {
namespace {

using cuda::AttentionImpl;
using cuda::AttentionRunner;
using cuda::CudnnSdpa;
using cuda::SdpaParams;

constexpr std::uint64_t kWorkspaceLimit = 64ull << 20;

float round_as(DType dt, float f) { return dt == DType::bf16 ? round_to_bf16(f) : dt == DType::f16 ? round_to_half(f) : f; }

std::vector<std::uint8_t> encode(DType dt, std::span<const float> v) {
  const std::size_t es = storage_bytes(dt, 1);
  std::vector<std::uint8_t> out(v.size() * es);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (dt == DType::f32) {
      std::memcpy(out.data() + 4 * i, &v[i], 4);
    } else {
      const std::uint16_t h = dt == DType::f16 ? float_to_half_bits(v[i]) : float_to_bf16_bits(v[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

std::vector<float> decode(DType dt, std::span<const std::uint8_t> b) {
  const std::size_t es = storage_bytes(dt, 1);
  std::vector<float> out(b.size() / es);
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (dt == DType::f32) {
      std::memcpy(&out[i], b.data() + 4 * i, 4);
    } else {
      std::uint16_t h;
      std::memcpy(&h, b.data() + 2 * i, 2);
      out[i] = dt == DType::f16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
    }
  }
  return out;
}

class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t bytes) {
    if (bytes > 0) CUDA_CHECK(cudaMalloc(&p_, bytes));
  }
  ~DeviceBuffer() {
    if (p_) (void)cudaFree(p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

// One attention problem: rounded host inputs, the fp64-accumulated CPU reference, device buffers.
struct Problem {
  SdpaParams p;
  std::vector<float> ref;
  std::unique_ptr<DeviceBuffer> qkv, y;

  Problem(DType dt, std::int64_t batch, std::int64_t seq, std::int64_t heads, std::int64_t head_dim, float scale = 1.0f) {
    p.batch = batch;
    p.seq = seq;
    p.heads = heads;
    p.embed = heads * head_dim;
    p.dtype = dt;
    const std::size_t n_in = static_cast<std::size_t>(batch * seq * 3 * p.embed);
    const std::size_t n_out = static_cast<std::size_t>(batch * seq * p.embed);
    std::vector<float> x(n_in);
    for (std::size_t i = 0; i < n_in; ++i) x[i] = round_as(dt, scale * normal01(2025, 17, i));
    ref.assign(n_out, 0.0f);
    cpu::attention(x.data(), ref.data(), cpu::AttentionShape{batch, seq, p.embed, heads});
    const auto bytes = encode(dt, x);
    qkv = std::make_unique<DeviceBuffer>(bytes.size());
    y = std::make_unique<DeviceBuffer>(n_out * storage_bytes(dt, 1));
    CUDA_CHECK(cudaMemcpy(qkv->get(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
  }
  void clear_output() const { CUDA_CHECK(cudaMemset(y->get(), 0xff, ref.size() * storage_bytes(p.dtype, 1))); }  // NaN
  std::vector<float> output() const {
    std::vector<std::uint8_t> b(ref.size() * storage_bytes(p.dtype, 1));
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(b.data(), y->get(), b.size(), cudaMemcpyDeviceToHost));
    return decode(p.dtype, b);
  }
};

struct Tol {
  double atol, rtol;
};
// As our kernel's (p rounded to the storage type before p·v).
Tol tol_for(DType dt) { return dt == DType::bf16 ? Tol{1.6e-2, 2e-2} : Tol{2e-3, 4e-3}; }

void expect_close(const std::string& what, std::span<const float> got, std::span<const float> ref, Tol tol) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double worst_share = 0.0, max_abs = 0.0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    const double d = std::fabs(g - r);
    const double share = std::isfinite(g) ? d / (tol.atol + tol.rtol * std::fabs(r)) : std::numeric_limits<double>::infinity();
    if (std::isfinite(d)) max_abs = std::max(max_abs, d);
    if (!(share <= worst_share)) {
      worst_share = share;
      worst = i;
    }
  }
  std::printf("  %-64s max|err| %.3e  %7.1f%% of tol\n", what.c_str(), max_abs, 100.0 * worst_share);
  EXPECT_LE(worst_share, 1.0) << what << ": worst at index " << worst << ", got " << got[worst] << ", reference "
                              << ref[worst];
}

int current_cc() {
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  return cuda::query(dev).compute_capability();
}

void print_rejected(const CudnnSdpa& r) {
  for (const std::string& line : r.rejected()) std::printf("    (not used) %s\n", line.c_str());
}

// =============================================================================================

TEST(GpuSdpa, GateNamesWhatIsMissing) {
  SdpaParams p;
  p.batch = 1;
  p.seq = 197;
  p.embed = 768;
  p.heads = 12;
  p.dtype = DType::f32;
  ASSERT_TRUE(CudnnSdpa::unsupported_reason(p, 90).has_value());
  EXPECT_NE(CudnnSdpa::unsupported_reason(p, 90)->find("f32"), std::string::npos);
  p.dtype = DType::f16;
  EXPECT_TRUE(CudnnSdpa::unsupported_reason(p, 75).has_value());  // before sm_80
  p.embed = 12 * 84;                                                // head dim 84: not a multiple of 8
  EXPECT_TRUE(CudnnSdpa::unsupported_reason(p, 90).has_value());
  p.embed = 12 * 160;  // above 128 before sm_90
  EXPECT_TRUE(CudnnSdpa::unsupported_reason(p, 86).has_value());
  std::printf("  cuDNN loaded %zu, built against %d\n", cudnnGetVersion(), CUDNN_VERSION);
}

// Needs no GPU: every descriptor we build finalizes (a wrong attribute type or shape shows here, on CI).
TEST(GpuSdpa, OperationDescriptorsFinalize) {
  for (DType dt : {DType::f16, DType::bf16}) {
    for (std::int64_t d : {64, 80}) {
      SdpaParams p;
      p.batch = 19;
      p.seq = 197;
      p.heads = 3;
      p.embed = 3 * d;
      p.dtype = dt;
      const auto problems = cuda::check_sdpa_operations(p);
      for (const auto& s : problems) std::printf("  %s\n", s.c_str());
      EXPECT_TRUE(problems.empty()) << p.to_string();
    }
  }
}

TEST(GpuSdpa, MatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  const int cc = current_cc();
  cuda::CudnnHandle handle;
  cuda::Stream stream;
  DeviceBuffer workspace(kWorkspaceLimit);
  int ran = 0;
  std::vector<std::string> skipped;
  bool printed_plans = false;
  for (DType dt : {DType::f16, DType::bf16}) {
    for (std::int64_t d : {64, 80}) {
      for (std::int64_t seq : {197, 19, 1}) {
        for (std::int64_t batch : {1, 19}) {
          const std::int64_t heads = d == 64 ? 2 : 3;
          Problem pr(dt, batch, seq, heads, d);
          const std::string label = pr.p.to_string();
          if (auto why = CudnnSdpa::unsupported_reason(pr.p, cc)) {
            std::printf("  %-40s skipped: %s\n", label.c_str(), why->c_str());
            skipped.push_back(label + ": " + *why);
            continue;
          }
          std::unique_ptr<CudnnSdpa> r;
          try {
            r = std::make_unique<CudnnSdpa>(handle.get(), pr.p, kWorkspaceLimit);
          } catch (const Unsupported& e) {
            std::printf("  %-40s cuDNN has no plan: %s\n", label.c_str(), e.what());
            skipped.push_back(label + ": " + e.what());
            continue;
          }
          if (!printed_plans) {
            std::printf("  plans for %s:\n", label.c_str());
            for (const auto& pl : r->plans())
              std::printf("    %s, workspace %llu B\n", pl.name.c_str(), static_cast<unsigned long long>(pl.workspace_bytes));
            print_rejected(*r);
            printed_plans = true;
          }
          const bool every_plan = batch == 1 && seq == 197;
          const std::size_t first = every_plan ? 0 : r->chosen();
          const std::size_t last = every_plan ? r->plans().size() : r->chosen() + 1;
          for (std::size_t i = first; i < last; ++i) {
            r->select(i);
            pr.clear_output();
            r->run(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());
            stream.synchronize();
            expect_close(fmt::format("cuDNN SDPA {} [{}]", label, r->plans()[i].name), pr.output(), pr.ref, tol_for(dt));
            ++ran;
          }
        }
      }
    }
  }
  std::printf("  %d checks ran, %zu shapes skipped\n", ran, skipped.size());
  if (ran == 0) {
    std::string why;
    for (const auto& s : skipped) why += "\n  " + s;
    GTEST_SKIP() << "cuDNN SDPA supported none of the shapes here:" << why;
  }
}

// A peaked softmax (inputs ×3): the running max matters; a wrong scale or max would show here.
TEST(GpuSdpa, PeakedSoftmax) {
  VRAMFIT_REQUIRE_GPU();
  const int cc = current_cc();
  cuda::CudnnHandle handle;
  cuda::Stream stream;
  DeviceBuffer workspace(kWorkspaceLimit);
  Problem pr(DType::f16, 2, 130, 3, 64, 3.0f);
  if (auto why = CudnnSdpa::unsupported_reason(pr.p, cc)) GTEST_SKIP() << *why;
  std::unique_ptr<CudnnSdpa> r;
  try {
    r = std::make_unique<CudnnSdpa>(handle.get(), pr.p, kWorkspaceLimit);
  } catch (const Unsupported& e) {
    GTEST_SKIP() << e.what();
  }
  for (std::size_t i = 0; i < r->plans().size(); ++i) {
    r->select(i);
    pr.clear_output();
    r->run(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());
    stream.synchronize();
    expect_close(fmt::format("cuDNN SDPA {} x3 [{}]", pr.p.to_string(), r->plans()[i].name), pr.output(), pr.ref,
                 tol_for(DType::f16));
  }
}

// The executor replays attention inside a CUDA graph: the captured launch must compute the same.
TEST(GpuSdpa, RunsUnderGraphCapture) {
  VRAMFIT_REQUIRE_GPU();
  const int cc = current_cc();
  cuda::CudnnHandle handle;
  cuda::Stream stream;
  DeviceBuffer workspace(kWorkspaceLimit);
  Problem pr(DType::bf16, 3, 197, 2, 64);
  if (auto why = CudnnSdpa::unsupported_reason(pr.p, cc)) GTEST_SKIP() << *why;
  std::unique_ptr<CudnnSdpa> r;
  try {
    r = std::make_unique<CudnnSdpa>(handle.get(), pr.p, kWorkspaceLimit);
  } catch (const Unsupported& e) {
    GTEST_SKIP() << e.what();
  }
  r->run(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());  // eager first (loads the kernel)
  stream.synchronize();
  pr.clear_output();
  cuda::GraphExec g = cuda::GraphExec::capture(
      stream.get(), [&](cudaStream_t s) { r->run(s, pr.qkv->get(), pr.y->get(), workspace.get()); });
  g.launch(stream.get());
  stream.synchronize();
  expect_close("cuDNN SDPA " + pr.p.to_string() + " replayed from a CUDA graph", pr.output(), pr.ref, tol_for(DType::bf16));
}

TEST(GpuSdpa, TuneTimesEveryPlanAndCachesTheChoice) {
  VRAMFIT_REQUIRE_GPU();
  const int cc = current_cc();
  cuda::CudnnHandle handle;
  cuda::Stream stream;
  DeviceBuffer workspace(kWorkspaceLimit);
  Problem pr(DType::f16, 8, 197, 12, 64);
  if (auto why = CudnnSdpa::unsupported_reason(pr.p, cc)) GTEST_SKIP() << *why;
  cuda::AlgorithmCache algorithms;
  std::unique_ptr<CudnnSdpa> r;
  try {
    r = std::make_unique<CudnnSdpa>(handle.get(), pr.p, kWorkspaceLimit, &algorithms);
  } catch (const Unsupported& e) {
    GTEST_SKIP() << e.what();
  }
  const float ms = r->tune(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());
  EXPECT_GT(ms, 0.0f);
  for (const auto& pl : r->plans()) std::printf("  %-32s %.4f ms\n", pl.name.c_str(), pl.time_ms);
  std::printf("  chosen: %s\n", r->describe().c_str());
  EXPECT_EQ(algorithms.sdpa.size(), 1u);
  const std::string chosen = r->plans()[r->chosen()].name;
  CudnnSdpa again(handle.get(), pr.p, kWorkspaceLimit, &algorithms);  // same shape: starts on the measured plan
  EXPECT_EQ(again.plans()[again.chosen()].name, chosen);
  pr.clear_output();
  again.run(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());
  expect_close("tuned cuDNN SDPA " + pr.p.to_string(), pr.output(), pr.ref, tol_for(DType::f16));
}

// A zero workspace budget: only plans needing none may be used (or Unsupported saying why).
TEST(GpuSdpa, RespectsTheWorkspaceBudget) {
  VRAMFIT_REQUIRE_GPU();
  const int cc = current_cc();
  cuda::CudnnHandle handle;
  cuda::Stream stream;
  Problem pr(DType::f16, 2, 197, 2, 64);
  if (auto why = CudnnSdpa::unsupported_reason(pr.p, cc)) GTEST_SKIP() << *why;
  try {
    CudnnSdpa r(handle.get(), pr.p, 0);
    for (const auto& pl : r.plans()) EXPECT_EQ(pl.workspace_bytes, 0u) << pl.name;
    pr.clear_output();
    r.run(stream.get(), pr.qkv->get(), pr.y->get(), nullptr);
    expect_close("cuDNN SDPA without workspace " + pr.p.to_string(), pr.output(), pr.ref, tol_for(DType::f16));
  } catch (const Unsupported& e) {
    std::printf("  no plan without workspace: %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("no usable execution plan"), std::string::npos) << e.what();
  }
}

// The chooser: times both, keeps the faster, computes the same; fp32 stays on our kernel.
TEST(GpuSdpa, AttentionRunnerChoosesAndMatches) {
  VRAMFIT_REQUIRE_GPU();
  const int cc = current_cc();
  cuda::CudnnHandle handle;
  cuda::Stream stream;
  DeviceBuffer workspace(kWorkspaceLimit);
  cuda::AlgorithmCache algorithms;
  for (DType dt : {DType::f16, DType::bf16, DType::f32}) {
    Problem pr(dt, 4, 197, 4, 64);
    const cuda::kernels::AttentionDims dims{pr.p.batch, pr.p.seq, pr.p.embed, pr.p.heads};
    AttentionRunner r(handle.get(), dt, dims, kWorkspaceLimit, cc, &algorithms);
    r.tune(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());
    std::printf("  %s: %s\n", r.key().c_str(), r.describe().c_str());
    EXPECT_TRUE(r.choice().measured);
    EXPECT_GT(r.choice().flash_ms, 0.0f);
    if (dt == DType::f32) {
      EXPECT_EQ(r.impl(), AttentionImpl::Flash);
      EXPECT_LT(r.choice().cudnn_ms, 0.0f);
    }
    if (r.choice().cudnn_ms > 0) {
      EXPECT_EQ(r.impl(), r.choice().cudnn_ms < r.choice().flash_ms ? AttentionImpl::Cudnn : AttentionImpl::Flash);
    }
    pr.clear_output();
    r.run(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());
    const Tol tol = dt == DType::f32 ? Tol{1e-5, 1e-5} : tol_for(dt);
    expect_close(fmt::format("attention runner {} [{}]", r.key(), r.impl_label()), pr.output(), pr.ref, tol);
    // A second runner of the same shape takes the cached choice without timing.
    AttentionRunner again(handle.get(), dt, dims, kWorkspaceLimit, cc, &algorithms);
    EXPECT_TRUE(again.choice().measured);
    EXPECT_EQ(again.impl(), r.impl());
  }
  EXPECT_EQ(algorithms.attention.size(), 3u);
}

// A head dim our kernel lacks (96): cuDNN takes it where it can, else Unsupported names both reasons.
TEST(GpuSdpa, AttentionRunnerFallsBackToCudnn) {
  VRAMFIT_REQUIRE_GPU();
  const int cc = current_cc();
  cuda::CudnnHandle handle;
  cuda::Stream stream;
  DeviceBuffer workspace(kWorkspaceLimit);
  Problem pr(DType::f16, 2, 19, 2, 96);
  const cuda::kernels::AttentionDims dims{pr.p.batch, pr.p.seq, pr.p.embed, pr.p.heads};
  ASSERT_TRUE(cuda::kernels::attention_unsupported(DType::f16, 96, cc).has_value());
  // The gate says Unsupported exactly where cuDNN's static reasons refuse the shape too.
  EXPECT_EQ(AttentionRunner::unsupported_reason(DType::f16, dims, cc).has_value(),
            CudnnSdpa::unsupported_reason(pr.p, cc).has_value());
  try {
    AttentionRunner r(handle.get(), DType::f16, dims, kWorkspaceLimit, cc);
    EXPECT_EQ(r.impl(), AttentionImpl::Cudnn);
    pr.clear_output();
    r.run(stream.get(), pr.qkv->get(), pr.y->get(), workspace.get());
    expect_close("attention runner d96 via cuDNN", pr.output(), pr.ref, tol_for(DType::f16));
  } catch (const Unsupported& e) {
    std::printf("  %s\n", e.what());
    EXPECT_NE(std::string(e.what()).find("neither"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace vramfit
