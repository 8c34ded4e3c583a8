// tests/gpu/test_kernels.cpp — every kernel of backend/cuda/kernels against the CPU reference
// (backend/cpu/ops.h) on the same host data, at awkward shapes: rows 19, hidden 111 and 768, batch 1
// and 19, head dims 64/80/128, sequences 197/19/1, 7×9 pools with 13 channels, misaligned pointers
// (to force the scalar paths) and in-place calls.
//
// How a 16-bit case is judged: inputs are drawn in fp32, rounded to the storage dtype on the host,
// and the reference runs on those rounded values, so the only differences left are the kernel's own
// arithmetic (fp32 vs the reference's double) and its output rounding. The tolerance is
// |got − ref| ≤ atol + rtol·|ref| with (atol, rtol) by dtype; every check prints its worst error and
// the share of the tolerance it used, so a drift shows before it fails.
//
// Inputs come from core/rng.h (deterministic, never zeros). Each test skips with "no CUDA GPU: gpu
// tests skipped" where no device is usable (gpu_env.h).
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cuda/check.h"
#include "backend/cuda/kernels/attention.cuh"
#include "backend/cuda/kernels/elementwise.cuh"
#include "backend/cuda/kernels/layernorm.cuh"
#include "backend/cuda/kernels/layout.cuh"
#include "backend/cuda/kernels/pooling.cuh"
#include "backend/cuda/kernels/tokens.cuh"
#include "core/half.h"
#include "core/rng.h"
#include "gpu_env.h"

namespace vramfit {
namespace {

namespace kern = cuda::kernels;

const DType kFloatTypes[] = {DType::f32, DType::f16, DType::bf16};

// ---- host-side storage emulation ----

std::size_t elem_bytes(DType dt) { return static_cast<std::size_t>(info(dt).block_bytes); }

float round_as(DType dt, float f) {
  switch (dt) {
    case DType::f16: return round_to_half(f);
    case DType::bf16: return round_to_bf16(f);
    default: return f;
  }
}

std::vector<float> rounded(DType dt, std::vector<float> v) {
  for (float& f : v) f = round_as(dt, f);
  return v;
}

std::vector<std::uint8_t> encode(DType dt, std::span<const float> v) {
  std::vector<std::uint8_t> out(v.size() * elem_bytes(dt));
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

std::vector<float> decode(DType dt, std::span<const std::uint8_t> bytes) {
  const std::size_t n = bytes.size() / elem_bytes(dt);
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (dt == DType::f32) {
      std::memcpy(&out[i], bytes.data() + 4 * i, 4);
    } else {
      std::uint16_t h;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      out[i] = dt == DType::f16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
    }
  }
  return out;
}

// Normal(mean, std²) values, deterministic in (stream, i).
std::vector<float> random_values(std::size_t n, std::uint64_t stream, float std_dev = 1.0f, float mean = 0.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = mean + std_dev * normal01(2024, stream, i);
  return v;
}

// ---- device memory (owned here, freed once) ----

class DeviceArray {
 public:
  // `slack` extra elements allow views offset by a few elements (misaligned pointers).
  DeviceArray(DType dt, std::size_t n, std::size_t slack = 8) : dt_(dt), n_(n) {
    CUDA_CHECK(cudaMalloc(&p_, (n + slack) * elem_bytes(dt)));
  }
  ~DeviceArray() { (void)cudaFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  void* at(std::size_t element = 0) { return static_cast<char*>(p_) + element * elem_bytes(dt_); }
  void upload(std::span<const float> v, std::size_t offset = 0) {
    const auto bytes = encode(dt_, v);
    CUDA_CHECK(cudaMemcpy(at(offset), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
  }
  void upload_bytes(std::span<const std::uint8_t> bytes) {
    CUDA_CHECK(cudaMemcpy(at(0), bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
  }
  std::vector<float> download(std::size_t count, std::size_t offset = 0) {
    std::vector<std::uint8_t> bytes(count * elem_bytes(dt_));
    CUDA_CHECK(cudaMemcpy(bytes.data(), at(offset), bytes.size(), cudaMemcpyDeviceToHost));
    return decode(dt_, bytes);
  }
  std::vector<std::uint8_t> download_bytes(std::size_t count) {
    std::vector<std::uint8_t> bytes(count * elem_bytes(dt_));
    CUDA_CHECK(cudaMemcpy(bytes.data(), at(0), bytes.size(), cudaMemcpyDeviceToHost));
    return bytes;
  }
  std::size_t size() const { return n_; }

 private:
  DType dt_;
  std::size_t n_;
  void* p_ = nullptr;
};

class Stream {
 public:
  Stream() { CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  ~Stream() { (void)cudaStreamDestroy(s_); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return s_; }
  void sync() const { CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  cudaStream_t s_ = nullptr;
};

// ---- tolerances and comparison ----

struct Tol {
  double atol, rtol;
};

// Plain kernels: one fp32 computation and one rounding of the output.
Tol tol_for(DType dt) {
  switch (dt) {
    case DType::f16: return {1e-3, 2e-3};   // output rounding alone: 2^-11 ≈ 4.9e-4 relative
    case DType::bf16: return {8e-3, 1e-2};  // 2^-8 ulp, 2^-9 ≈ 2e-3 rounding
    default: return {1e-5, 1e-5};
  }
}
// Attention: p is rounded to the storage type before p·v (FlashAttention's habit).
Tol attention_tol(DType dt) {
  switch (dt) {
    case DType::f16: return {2e-3, 4e-3};
    case DType::bf16: return {1.6e-2, 2e-2};
    default: return {1e-5, 1e-5};
  }
}
constexpr Tol kExact{0.0, 0.0};

void expect_close(const std::string& what, std::span<const float> got, std::span<const float> ref, Tol tol) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double worst_share = 0.0, max_abs = 0.0, max_rel = 0.0;
  std::size_t worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], r = ref[i];
    double share;
    if (std::isnan(g) || std::isnan(r)) {
      share = std::isnan(g) && std::isnan(r) ? 0.0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(g) || std::isinf(r)) {
      share = g == r ? 0.0 : std::numeric_limits<double>::infinity();
    } else {
      const double d = std::fabs(g - r), limit = tol.atol + tol.rtol * std::fabs(r);
      max_abs = std::max(max_abs, d);
      if (r != 0.0) max_rel = std::max(max_rel, d / std::fabs(r));
      share = limit > 0.0 ? d / limit : (d == 0.0 ? 0.0 : std::numeric_limits<double>::infinity());
    }
    if (share > worst_share || std::isnan(share)) {
      worst_share = share;
      worst = i;
    }
  }
  std::printf("  %-58s max|err| %.3e  max rel %.3e  %6.1f%% of tol (atol %.0e, rtol %.0e)\n", what.c_str(), max_abs,
              max_rel, 100.0 * worst_share, tol.atol, tol.rtol);
  EXPECT_LE(worst_share, 1.0) << what << ": worst at index " << worst << ", got " << got[worst] << ", reference "
                              << ref[worst];
}

std::string name(DType dt) { return std::string(to_string(dt)); }
std::string name(Activation a) { return std::string(to_string(a)); }

// NCHW ↔ NHWC on the host, for building inputs and reading outputs of the NHWC kernels.
std::vector<float> host_nchw_to_nhwc(std::span<const float> x, std::int64_t n, std::int64_t c, std::int64_t plane) {
  std::vector<float> y(x.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < plane; ++p) y[(b * plane + p) * c + ch] = x[(b * c + ch) * plane + p];
  return y;
}
std::vector<float> host_nhwc_to_nchw(std::span<const float> x, std::int64_t n, std::int64_t c, std::int64_t plane) {
  std::vector<float> y(x.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < plane; ++p) y[(b * c + ch) * plane + p] = x[(b * plane + p) * c + ch];
  return y;
}

// =============================================================================================
// elementwise

TEST(GpuKernels, ActivationMatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  const std::int64_t n = 19 * 111;  // odd: a scalar tail after the packs
  for (DType dt : kFloatTypes) {
    for (Activation act : {Activation::None, Activation::Relu, Activation::Gelu, Activation::Silu}) {
      const auto x = rounded(dt, random_values(static_cast<std::size_t>(n), 1, 3.0f));
      std::vector<float> ref(x.size());
      cpu::activation(x.data(), ref.data(), n, act);
      DeviceArray dx(dt, x.size()), dy(dt, x.size());

      dx.upload(x);  // aligned, out of place
      kern::activation(dt, dx.at(), dy.at(), n, act, s.get());
      s.sync();
      expect_close("activation " + name(act) + " " + name(dt), dy.download(x.size()), ref, tol_for(dt));

      dx.upload(x, 1);  // misaligned by one element: the scalar path
      kern::activation(dt, dx.at(1), dy.at(1), n, act, s.get());
      s.sync();
      expect_close("activation " + name(act) + " " + name(dt) + " misaligned", dy.download(x.size(), 1), ref,
                   tol_for(dt));

      dx.upload(x);  // in place
      kern::activation(dt, dx.at(), dx.at(), n, act, s.get());
      s.sync();
      expect_close("activation " + name(act) + " " + name(dt) + " in place", dx.download(x.size()), ref, tol_for(dt));
    }
  }
}

TEST(GpuKernels, GeluNegativeTailKeepsRelativeAccuracy) {
  VRAMFIT_REQUIRE_GPU();
  // x ∈ [−6, −3]: GELU is −4e-3 … −6e-9, where 1 + erf(x/√2) would cancel to nothing in fp32. (Not
  // lower: the reference's double 1 + erf cancels too below about −7, and is exactly 0 by −8.3.)
  Stream s;
  std::vector<float> x(301);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -6.0f + 0.01f * static_cast<float>(i);
  std::vector<float> ref(x.size());
  cpu::gelu(x.data(), ref.data(), static_cast<std::int64_t>(x.size()));
  DeviceArray dx(DType::f32, x.size()), dy(DType::f32, x.size());
  dx.upload(x);
  kern::activation(DType::f32, dx.at(), dy.at(), static_cast<std::int64_t>(x.size()), Activation::Gelu, s.get());
  s.sync();
  expect_close("gelu negative tail f32 (relative only)", dy.download(x.size()), ref, Tol{0.0, 1e-5});
}

TEST(GpuKernels, AddMatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  const std::int64_t n = 19 * 768 + 5;
  for (DType dt : kFloatTypes) {
    for (Activation act : {Activation::None, Activation::Relu, Activation::Gelu}) {
      const auto a = rounded(dt, random_values(static_cast<std::size_t>(n), 2, 2.0f));
      const auto b = rounded(dt, random_values(static_cast<std::size_t>(n), 3, 2.0f));
      std::vector<float> ref(a.size());
      cpu::add(a.data(), b.data(), ref.data(), n, act);
      DeviceArray da(dt, a.size()), db(dt, b.size()), dy(dt, a.size());

      da.upload(a);
      db.upload(b);
      kern::add(dt, da.at(), db.at(), dy.at(), n, act, s.get());
      s.sync();
      expect_close("add " + name(act) + " " + name(dt), dy.download(a.size()), ref, tol_for(dt));

      da.upload(a, 3);
      db.upload(b, 1);
      kern::add(dt, da.at(3), db.at(1), dy.at(2), n, act, s.get());
      s.sync();
      expect_close("add " + name(act) + " " + name(dt) + " misaligned", dy.download(a.size(), 2), ref, tol_for(dt));

      da.upload(a);
      kern::add(dt, da.at(), db.at(1), da.at(), n, act, s.get());  // in place over a (b misaligned too)
      s.sync();
      expect_close("add " + name(act) + " " + name(dt) + " in place", da.download(a.size()), ref, tol_for(dt));
    }
  }
}

TEST(GpuKernels, BiasActivationMatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  const std::int64_t rows = 19;
  for (std::int64_t cols : {111, 768}) {
    for (DType dt : kFloatTypes) {
      for (Activation act : {Activation::None, Activation::Relu, Activation::Gelu, Activation::Silu}) {
        const std::size_t n = static_cast<std::size_t>(rows * cols);
        const auto x = rounded(dt, random_values(n, 4, 2.0f));
        const auto bias = rounded(dt, random_values(static_cast<std::size_t>(cols), 5, 0.5f));
        std::vector<float> ref(n);
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t c = 0; c < cols; ++c) {
            const auto i = static_cast<std::size_t>(r * cols + c);
            ref[i] = cpu::apply_activation(x[i] + bias[static_cast<std::size_t>(c)], act);
          }
        DeviceArray dx(dt, n), db(dt, bias.size()), dy(dt, n);
        dx.upload(x);
        db.upload(bias);
        const std::string label = fmt::format("bias+{} [19, {}] {}", name(act), cols, name(dt));
        kern::bias_activation(dt, dx.at(), db.at(), dy.at(), rows, cols, act, s.get());
        s.sync();
        expect_close(label, dy.download(n), ref, tol_for(dt));
        kern::bias_activation(dt, dx.at(), db.at(), dx.at(), rows, cols, act, s.get());  // in place
        s.sync();
        expect_close(label + " in place", dx.download(n), ref, tol_for(dt));
      }
    }
  }
}

// =============================================================================================
// layernorm

TEST(GpuKernels, LayerNormMatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  const std::int64_t rows = 19;
  const float eps = 1e-6f;
  // 111: scalar path; 768 / 1024: one pack per thread; 4095: scalar, 4 per thread; 6000: fp32 packs,
  // 4 per thread; 4096: the largest asked for.
  for (std::int64_t e : {111, 768, 1024, 4095, 4096, 6000}) {
    for (DType dt : kFloatTypes) {
      const std::size_t n = static_cast<std::size_t>(rows * e);
      // Mean 3, std 2: a variance formula that cancels would show here.
      const auto x = rounded(dt, random_values(n, 6, 2.0f, 3.0f));
      const auto gamma = rounded(dt, random_values(static_cast<std::size_t>(e), 7, 0.1f, 1.0f));
      const auto beta = rounded(dt, random_values(static_cast<std::size_t>(e), 8, 0.1f));
      std::vector<float> ref(n);
      cpu::layer_norm(x.data(), gamma.data(), beta.data(), ref.data(), rows, e, eps);
      DeviceArray dx(dt, n), dg(dt, gamma.size()), db(dt, beta.size()), dy(dt, n);
      dx.upload(x);
      dg.upload(gamma);
      db.upload(beta);
      const std::string label = fmt::format("layer_norm [19, {}] {}", e, name(dt));
      kern::layer_norm(dt, dx.at(), dg.at(), db.at(), dy.at(), rows, e, eps, s.get());
      s.sync();
      expect_close(label, dy.download(n), ref, tol_for(dt));
      kern::layer_norm(dt, dx.at(), dg.at(), db.at(), dx.at(), rows, e, eps, s.get());
      s.sync();
      expect_close(label + " in place", dx.download(n), ref, tol_for(dt));
    }
  }
}

// =============================================================================================
// attention

struct AttentionCase {
  std::int64_t batch, seq, heads, head_dim;
  float scale;  // input std: 1 gives a soft softmax, 3 a peaked one
};

TEST(GpuKernels, AttentionMatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  const AttentionCase cases[] = {
      {1, 197, 12, 64, 1.0f},  // ViT-B/16 at batch 1
      {19, 19, 2, 64, 1.0f},   // batch 19, short sequence (one partial tile)
      {2, 197, 2, 80, 1.0f},   // ViT-H's head dim
      {1, 1, 3, 64, 1.0f},     // a single token
      {3, 65, 2, 128, 1.0f},   // one key past a full tile
      {2, 130, 3, 64, 3.0f},   // peaked softmax: the running max matters
      {1, 19, 1, 80, 3.0f},
      // The last key tile's body is compiled per count of 16-key groups: 4 (tail 56), 3 (36), 2 (32),
      // 3 as the only tile (48), and an exact multiple of the tile (no tail).
      {2, 120, 2, 64, 1.0f},
      {3, 100, 2, 80, 3.0f},
      {1, 160, 2, 64, 1.0f},
      {1, 48, 2, 128, 3.0f},
      {2, 128, 2, 64, 1.0f},
  };
  for (const AttentionCase& c : cases) {
    const std::int64_t embed = c.heads * c.head_dim;
    const std::size_t n_in = static_cast<std::size_t>(c.batch * c.seq * 3 * embed);
    const std::size_t n_out = static_cast<std::size_t>(c.batch * c.seq * embed);
    for (DType dt : kFloatTypes) {
      const auto qkv = rounded(dt, random_values(n_in, 9, c.scale));
      std::vector<float> ref(n_out);
      cpu::attention(qkv.data(), ref.data(), cpu::AttentionShape{c.batch, c.seq, embed, c.heads});
      DeviceArray dq(dt, n_in), dy(dt, n_out);
      dq.upload(qkv);
      kern::attention(dt, dq.at(), dy.at(), kern::AttentionDims{c.batch, c.seq, embed, c.heads}, s.get());
      s.sync();
      // fp32: the scores' own rounding (d products of size ~scale² each) reaches y undamped through a
      // peaked softmax, so the absolute tolerance scales with scale². 16-bit errors are dominated by
      // the storage rounding of p and y and need no such allowance.
      Tol tol = attention_tol(dt);
      if (dt == DType::f32) tol.atol *= static_cast<double>(c.scale) * c.scale;
      expect_close(fmt::format("attention B{} S{} H{} d{} x{} {}", c.batch, c.seq, c.heads, c.head_dim, c.scale,
                               name(dt)),
                   dy.download(n_out), ref, tol);
    }
  }
}

TEST(GpuKernels, AttentionGateNamesWhatIsMissing) {
  EXPECT_FALSE(kern::attention_unsupported(DType::f16, 64, 90).has_value());
  EXPECT_FALSE(kern::attention_unsupported(DType::f32, 80, 75).has_value());
  EXPECT_TRUE(kern::attention_unsupported(DType::f16, 96, 90).has_value());
  EXPECT_TRUE(kern::attention_unsupported(DType::bf16, 64, 75).has_value());
  EXPECT_TRUE(kern::attention_unsupported(DType::i8, 64, 90).has_value());
}

// =============================================================================================
// pooling

struct PoolCase {
  std::int64_t batch, channels, h, w, kh, kw, sh, sw, ph, pw;
};

TEST(GpuKernels, PoolingMatchesReferenceInBothLayouts) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  const PoolCase cases[] = {
      {2, 13, 7, 9, 3, 3, 2, 2, 1, 1},   // ResNet's stem pool on a 7×9 image, 13 channels
      {19, 13, 7, 9, 3, 3, 1, 1, 1, 1},  // stride 1: every border window is padded
      {1, 13, 7, 9, 2, 2, 2, 2, 0, 0},   // no padding, odd extents drop the last row/column
      {2, 64, 7, 9, 3, 3, 2, 2, 1, 1},   // 64 channels: the NHWC pack path
      {1, 16, 9, 7, 3, 2, 2, 1, 1, 0},   // non-square kernel, stride and padding
  };
  for (const PoolCase& c : cases) {
    const kern::Pool2dDims d{c.batch, c.channels, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw};
    const cpu::Pool2dShape cs{c.batch, c.channels, c.h, c.w, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw};
    const std::int64_t plane_in = c.h * c.w, plane_out = d.out_h() * d.out_w();
    const std::size_t n_in = static_cast<std::size_t>(c.batch * c.channels * plane_in);
    const std::size_t n_out = static_cast<std::size_t>(c.batch * c.channels * plane_out);
    for (DType dt : kFloatTypes) {
      const auto x = rounded(dt, random_values(n_in, 10, 2.0f, 0.5f));
      std::vector<float> ref_max(n_out), ref_avg(n_out);
      cpu::max_pool2d(x.data(), ref_max.data(), cs);
      cpu::avg_pool2d(x.data(), ref_avg.data(), cs);
      const std::string shape = fmt::format("[{},{},{},{}] k{}x{} s{}{} p{}{} {}", c.batch, c.channels, c.h, c.w,
                                            c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, name(dt));
      DeviceArray dx(dt, n_in), dy(dt, n_out);

      dx.upload(x);
      kern::max_pool2d(dt, Layout::NCHW, dx.at(), dy.at(), d, s.get());
      s.sync();
      expect_close("max_pool NCHW " + shape, dy.download(n_out), ref_max, tol_for(dt));
      kern::avg_pool2d(dt, Layout::NCHW, dx.at(), dy.at(), d, s.get());
      s.sync();
      expect_close("avg_pool NCHW " + shape, dy.download(n_out), ref_avg, tol_for(dt));

      dx.upload(host_nchw_to_nhwc(x, c.batch, c.channels, plane_in));
      kern::max_pool2d(dt, Layout::NHWC, dx.at(), dy.at(), d, s.get());
      s.sync();
      expect_close("max_pool NHWC " + shape, host_nhwc_to_nchw(dy.download(n_out), c.batch, c.channels, plane_out),
                   ref_max, tol_for(dt));
      kern::avg_pool2d(dt, Layout::NHWC, dx.at(), dy.at(), d, s.get());
      s.sync();
      expect_close("avg_pool NHWC " + shape, host_nhwc_to_nchw(dy.download(n_out), c.batch, c.channels, plane_out),
                   ref_avg, tol_for(dt));
    }
  }
}

TEST(GpuKernels, GlobalAvgPoolMatchesReferenceInBothLayouts) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  struct Case {
    std::int64_t batch, channels, plane;
  };
  for (const Case c : {Case{19, 13, 63}, Case{2, 64, 49}, Case{1, 2048, 49}, Case{3, 37, 3136}}) {
    const std::size_t n_in = static_cast<std::size_t>(c.batch * c.channels * c.plane);
    const std::size_t n_out = static_cast<std::size_t>(c.batch * c.channels);
    for (DType dt : kFloatTypes) {
      const auto x = rounded(dt, random_values(n_in, 11, 2.0f, 1.0f));
      std::vector<float> ref(n_out);
      cpu::global_avg_pool(x.data(), ref.data(), c.batch, c.channels, c.plane);
      const std::string shape = fmt::format("[{},{},{}] {}", c.batch, c.channels, c.plane, name(dt));
      DeviceArray dx(dt, n_in), dy(dt, n_out);
      dx.upload(x);
      kern::global_avg_pool(dt, Layout::NCHW, dx.at(), dy.at(), c.batch, c.channels, c.plane, s.get());
      s.sync();
      expect_close("global_avg_pool NCHW " + shape, dy.download(n_out), ref, tol_for(dt));
      dx.upload(host_nchw_to_nhwc(x, c.batch, c.channels, c.plane));
      kern::global_avg_pool(dt, Layout::NHWC, dx.at(), dy.at(), c.batch, c.channels, c.plane, s.get());
      s.sync();
      expect_close("global_avg_pool NHWC " + shape, dy.download(n_out), ref, tol_for(dt));
    }
  }
}

// =============================================================================================
// tokens

TEST(GpuKernels, PatchFlattenMatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  struct Case {
    std::int64_t batch, channels, h, w;
  };
  for (const Case c : {Case{2, 13, 7, 9}, Case{1, 768, 14, 14}, Case{19, 40, 3, 11}}) {
    const std::size_t n = static_cast<std::size_t>(c.batch * c.channels * c.h * c.w);
    for (DType dt : kFloatTypes) {
      const auto x = rounded(dt, random_values(n, 12));
      std::vector<float> ref(n);
      cpu::patch_flatten(x.data(), ref.data(), c.batch, c.channels, c.h, c.w);
      DeviceArray dx(dt, n), dy(dt, n);
      dx.upload(x);
      kern::patch_flatten(dt, dx.at(), dy.at(), c.batch, c.channels, c.h, c.w, s.get());
      s.sync();
      expect_close(fmt::format("patch_flatten [{},{},{},{}] {}", c.batch, c.channels, c.h, c.w, name(dt)),
                   dy.download(n), ref, kExact);
    }
  }
}

TEST(GpuKernels, ClassTokenAndPositionalMatchReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  struct Case {
    std::int64_t batch, seq, embed;
  };
  for (const Case c : {Case{3, 196, 768}, Case{19, 18, 111}, Case{1, 1, 64}}) {
    const std::int64_t seq_out = c.seq + 1;
    const std::size_t n_in = static_cast<std::size_t>(c.batch * c.seq * c.embed);
    const std::size_t n_out = static_cast<std::size_t>(c.batch * seq_out * c.embed);
    for (DType dt : kFloatTypes) {
      const auto x = rounded(dt, random_values(n_in, 13));
      const auto cls = rounded(dt, random_values(static_cast<std::size_t>(c.embed), 14, 0.02f));
      const auto pos = rounded(dt, random_values(static_cast<std::size_t>(seq_out * c.embed), 15, 0.02f));
      std::vector<float> with_cls(n_out), ref(n_out);
      cpu::concat_class_token(x.data(), cls.data(), with_cls.data(), c.batch, c.seq, c.embed);
      cpu::add_positional(with_cls.data(), pos.data(), ref.data(), c.batch, seq_out, c.embed);
      const std::string shape = fmt::format("[{},{},{}] {}", c.batch, c.seq, c.embed, name(dt));
      DeviceArray dx(dt, n_in), dc(dt, cls.size()), dp(dt, pos.size()), dy(dt, n_out);
      dx.upload(x);
      dc.upload(cls);
      dp.upload(pos);

      kern::class_token_positional(dt, dx.at(), dc.at(), dp.at(), dy.at(), c.batch, c.seq, c.embed, s.get());
      s.sync();
      expect_close("cls+pos fused " + shape, dy.download(n_out), ref, tol_for(dt));

      kern::class_token_positional(dt, dx.at(), dc.at(), nullptr, dy.at(), c.batch, c.seq, c.embed, s.get());
      s.sync();
      expect_close("cls only " + shape, dy.download(n_out), rounded(dt, with_cls), kExact);

      // positional only, in place over the concatenated tokens: [B, S+1, E] + pos.
      DeviceArray tokens(dt, n_out);
      tokens.upload(with_cls);
      kern::class_token_positional(dt, tokens.at(), nullptr, dp.at(), tokens.at(), c.batch, seq_out, c.embed, s.get());
      s.sync();
      expect_close("pos only in place " + shape, tokens.download(n_out), ref, tol_for(dt));
    }
  }
}

TEST(GpuKernels, TakeTokenMatchesReference) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  struct Case {
    std::int64_t batch, seq, embed, index;
  };
  for (const Case c : {Case{19, 197, 768, 0}, Case{1, 197, 111, 5}, Case{19, 19, 111, 18}}) {
    const std::size_t n_in = static_cast<std::size_t>(c.batch * c.seq * c.embed);
    const std::size_t n_out = static_cast<std::size_t>(c.batch * c.embed);
    for (DType dt : kFloatTypes) {
      const auto x = rounded(dt, random_values(n_in, 16));
      std::vector<float> ref(n_out);
      cpu::take_token(x.data(), ref.data(), c.batch, c.seq, c.embed, c.index);
      DeviceArray dx(dt, n_in), dy(dt, n_out);
      dx.upload(x);
      kern::take_token(dt, dx.at(), dy.at(), c.batch, c.seq, c.embed, c.index, s.get());
      s.sync();
      expect_close(fmt::format("take_token [{},{},{}] #{} {}", c.batch, c.seq, c.embed, c.index, name(dt)),
                   dy.download(n_out), ref, kExact);
    }
  }
}

// =============================================================================================
// layout

TEST(GpuKernels, TransposeRoundTripsEveryElementSize) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  struct Case {
    std::int64_t batch, channels, plane;
  };
  // 32×32 tiles with ragged edges; an RGB image (3 channels: the narrow path); 8 channels and a
  // 5-pixel plane (narrow on the other side); 40×33 (ragged tiles both ways).
  for (const Case c : {Case{19, 13, 63}, Case{2, 3, 50176}, Case{3, 8, 37}, Case{4, 40, 5}, Case{1, 40, 33}}) {
    const std::size_t n = static_cast<std::size_t>(c.batch * c.channels * c.plane);
    for (DType dt : {DType::f32, DType::f16, DType::bf16, DType::i8, DType::i32}) {
      const std::size_t es = elem_bytes(dt);
      std::vector<std::uint8_t> x(n * es);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(splitmix64(i) >> 56);
      std::vector<std::uint8_t> expect(x.size());
      for (std::int64_t b = 0; b < c.batch; ++b)
        for (std::int64_t ch = 0; ch < c.channels; ++ch)
          for (std::int64_t p = 0; p < c.plane; ++p)
            std::memcpy(&expect[static_cast<std::size_t>((b * c.plane + p) * c.channels + ch) * es],
                        &x[static_cast<std::size_t>((b * c.channels + ch) * c.plane + p) * es], es);
      DeviceArray dx(dt, n), dy(dt, n), dz(dt, n);
      dx.upload_bytes(x);
      kern::nchw_to_nhwc(dt, dx.at(), dy.at(), c.batch, c.channels, c.plane, s.get());
      kern::nhwc_to_nchw(dt, dy.at(), dz.at(), c.batch, c.channels, c.plane, s.get());
      s.sync();
      const bool forward = dy.download_bytes(n) == expect, back = dz.download_bytes(n) == x;
      EXPECT_TRUE(forward) << "nchw_to_nhwc " << name(dt) << " [" << c.batch << "," << c.channels << "," << c.plane << "]";
      EXPECT_TRUE(back) << "nhwc_to_nchw " << name(dt) << " [" << c.batch << "," << c.channels << "," << c.plane << "]";
      std::printf("  transpose %-5s [%lld, %lld, %lld] ↔ NHWC: %s\n", name(dt).c_str(), static_cast<long long>(c.batch),
                  static_cast<long long>(c.channels), static_cast<long long>(c.plane),
                  forward && back ? "bytes exact both ways" : "DIFFER");
    }
  }
}

TEST(GpuKernels, CastRoundsLikeTheHost) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  // Normal values over many binades, plus the edges: ±0, ±inf, fp16 subnormals, ties, overflow.
  std::vector<float> x = random_values(100003, 17, 1.0f);
  for (std::size_t i = 0; i < x.size(); i += 7) x[i] *= std::ldexp(1.0f, static_cast<int>(i % 41) - 20);
  const float specials[] = {0.0f, -0.0f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                            65504.0f, 65519.0f, 65520.0f, 1e5f, 6.0e-8f, 3.0e-8f, 1.0e-7f, 6.1e-5f,
                            1.0f + std::ldexp(1.0f, -11), 1.0f + 3 * std::ldexp(1.0f, -11), 3.0e38f, 1.0f + std::ldexp(1.0f, -8)};
  x.insert(x.begin(), std::begin(specials), std::end(specials));
  const std::size_t n = x.size();
  for (DType narrow : {DType::f16, DType::bf16}) {
    const auto bits = encode(narrow, x);  // host conversion, core/half.h
    DeviceArray d32(DType::f32, n), d16(narrow, n), back(DType::f32, n), other(narrow == DType::f16 ? DType::bf16 : DType::f16, n);
    d32.upload(x);
    kern::cast(DType::f32, narrow, d32.at(), d16.at(), static_cast<std::int64_t>(n), s.get());
    s.sync();
    EXPECT_TRUE(d16.download_bytes(n) == bits) << "f32 → " << name(narrow) << " differs from core/half.h";
    kern::cast(narrow, DType::f32, d16.at(), back.at(), static_cast<std::int64_t>(n), s.get());
    s.sync();
    expect_close("cast f32 → " + name(narrow) + " → f32", back.download(n), rounded(narrow, x), kExact);
    // 16 ↔ 16 goes through fp32 exactly, then rounds once.
    const DType o = narrow == DType::f16 ? DType::bf16 : DType::f16;
    kern::cast(narrow, o, d16.at(), other.at(), static_cast<std::int64_t>(n), s.get());
    s.sync();
    expect_close("cast " + name(narrow) + " → " + name(o), other.download(n), rounded(o, rounded(narrow, x)), kExact);
    // misaligned: the per-element path
    d32.upload(x, 1);
    kern::cast(DType::f32, narrow, d32.at(1), d16.at(3), static_cast<std::int64_t>(n - 5), s.get());
    s.sync();
    const auto all = rounded(narrow, x);
    expect_close("cast f32 → " + name(narrow) + " misaligned", d16.download(n - 5, 3),
                 std::span<const float>(all.data(), n - 5), kExact);
  }
  DeviceArray a(DType::f32, n), b(DType::f32, n);
  a.upload(x);
  kern::cast(DType::f32, DType::f32, a.at(), b.at(), static_cast<std::int64_t>(n), s.get());
  s.sync();
  expect_close("cast f32 → f32 (copy)", b.download(n), x, kExact);
}

TEST(GpuKernels, FillNormalEqualsHostGenerator) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  const std::size_t n = (1u << 20) + 17;
  struct Case {
    kern::NormalFill fill;
    const char* what;
  };
  const Case cases[] = {
      {{7, stream_id("layer1.0.conv1.weight"), 0, 0.0f, 1.0f, false}, "N(0,1)"},
      {{7, stream_id("bn.running_var"), 12345, 1.0f, 0.1f, true}, "1 + 0.1|N| from index 12345"},
      {{99, stream_id("blocks.3.attn.qkv.weight"), 0, 0.0f, 0.0360844f, false}, "0.036·N"},
  };
  for (const Case& c : cases) {
    std::vector<float> expect(n);
    for (std::size_t i = 0; i < n; ++i) {
      const float z = normal01(c.fill.seed, c.fill.stream_id, c.fill.first_index + i);
      expect[i] = c.fill.offset + c.fill.scale * (c.fill.absolute ? std::fabs(z) : z);  // random_init.cpp's rule
    }
    for (DType dt : kFloatTypes) {
      DeviceArray d(dt, n);
      kern::fill_normal(dt, d.at(), static_cast<std::int64_t>(n), c.fill, s.get());
      s.sync();
      const auto got = d.download(n);
      const auto want = rounded(dt, expect);
      std::size_t differ = 0;
      double max_abs = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        if (got[i] != want[i]) ++differ;
        max_abs = std::max(max_abs, std::fabs(static_cast<double>(got[i]) - want[i]));
      }
      std::printf("  fill_normal %-34s %-5s %zu of %zu values differ from core/rng.h, max |diff| %.3e\n", c.what,
                  name(dt).c_str(), differ, n, max_abs);
      // Bit-exact but for CUDA's vs glibc's last-bit log/cos (≈ 1 value in 10^8): allow a handful,
      // each within one fp32 ulp.
      EXPECT_LE(differ, 4u) << c.what << " " << name(dt);
      if (dt == DType::f32) {
        EXPECT_LE(max_abs, 1e-6) << c.what;
      }
    }
  }
}

// =============================================================================================
// throughput (not a correctness test; run with --gtest_also_run_disabled_tests
// --gtest_filter='*Throughput*'). Model-sized shapes: ViT-B/16 and ResNet-50 at batch 256.

class EventTimer {
 public:
  EventTimer() {
    CUDA_CHECK(cudaEventCreate(&a_));
    CUDA_CHECK(cudaEventCreate(&b_));
  }
  ~EventTimer() {
    (void)cudaEventDestroy(a_);
    (void)cudaEventDestroy(b_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  // Mean milliseconds of `reps` launches after 3 warm-ups.
  template <class F> double mean_ms(cudaStream_t s, F&& launch, int reps = 20) {
    for (int i = 0; i < 3; ++i) launch();
    CUDA_CHECK(cudaEventRecord(a_, s));
    for (int i = 0; i < reps; ++i) launch();
    CUDA_CHECK(cudaEventRecord(b_, s));
    CUDA_CHECK(cudaEventSynchronize(b_));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a_, b_));
    return static_cast<double>(ms) / reps;
  }

 private:
  cudaEvent_t a_ = nullptr, b_ = nullptr;
};

TEST(GpuKernels, DISABLED_Throughput) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  EventTimer timer;
  auto report = [](const std::string& what, double ms, double bytes, double flops = 0.0) {
    if (flops > 0.0)
      std::printf("  %-52s %8.3f ms  %7.1f TFLOP/s\n", what.c_str(), ms, flops / ms * 1e-9);
    else
      std::printf("  %-52s %8.3f ms  %7.0f GB/s\n", what.c_str(), ms, bytes / ms * 1e-6);
  };
  const std::int64_t tokens = 256 * 197, embed = 768, hidden = 3072;
  for (DType dt : kFloatTypes) {
    const double es = static_cast<double>(elem_bytes(dt));
    {
      DeviceArray x(dt, static_cast<std::size_t>(tokens * hidden)), b(dt, static_cast<std::size_t>(hidden));
      kern::fill_normal(dt, x.at(), tokens * hidden, kern::NormalFill{1, 2, 0, 0.0f, 1.0f, false}, s.get());
      kern::fill_normal(dt, b.at(), hidden, kern::NormalFill{1, 3, 0, 0.0f, 0.1f, false}, s.get());
      const double n = static_cast<double>(tokens * hidden);
      report("gelu [50432, 3072] in place " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::activation(dt, x.at(), x.at(), tokens * hidden, Activation::Gelu, s.get()); }),
             2 * n * es);
      report("silu [50432, 3072] in place " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::activation(dt, x.at(), x.at(), tokens * hidden, Activation::Silu, s.get()); }),
             2 * n * es);
      report("bias+gelu [50432, 3072] in place " + name(dt),
             timer.mean_ms(s.get(), [&] {
               kern::bias_activation(dt, x.at(), b.at(), x.at(), tokens, hidden, Activation::Gelu, s.get());
             }),
             2 * n * es);
      report("fill_normal 155M " + name(dt), timer.mean_ms(s.get(), [&] {
               kern::fill_normal(dt, x.at(), tokens * hidden, kern::NormalFill{1, 2, 0, 0.0f, 1.0f, false}, s.get());
             }, 5),
             n * es);
    }
    {
      const std::int64_t n = tokens * embed;
      DeviceArray a(dt, static_cast<std::size_t>(n)), b(dt, static_cast<std::size_t>(n)), y(dt, static_cast<std::size_t>(n));
      DeviceArray g(dt, static_cast<std::size_t>(embed)), be(dt, static_cast<std::size_t>(embed));
      kern::fill_normal(dt, a.at(), n, kern::NormalFill{1, 4, 0, 0.0f, 1.0f, false}, s.get());
      kern::fill_normal(dt, b.at(), n, kern::NormalFill{1, 5, 0, 0.0f, 1.0f, false}, s.get());
      kern::fill_normal(dt, g.at(), embed, kern::NormalFill{1, 6, 0, 1.0f, 0.1f, false}, s.get());
      kern::fill_normal(dt, be.at(), embed, kern::NormalFill{1, 7, 0, 0.0f, 0.1f, false}, s.get());
      report("add [50432, 768] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::add(dt, a.at(), b.at(), y.at(), n, Activation::None, s.get()); }),
             3.0 * static_cast<double>(n) * es);
      report("layer_norm [50432, 768] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::layer_norm(dt, a.at(), g.at(), be.at(), y.at(), tokens, embed, 1e-6f, s.get()); }),
             2.0 * static_cast<double>(n) * es);
    }
    {
      // ViT-B/16 attention at batch 256, and a long non-causal sequence at d = 128.
      struct Case {
        std::int64_t batch, seq, heads, d;
      };
      for (const Case c : {Case{256, 197, 12, 64}, Case{8, 2048, 32, 128}, Case{64, 257, 16, 80}}) {
        const std::int64_t e = c.heads * c.d;
        DeviceArray q(dt, static_cast<std::size_t>(c.batch * c.seq * 3 * e)), y(dt, static_cast<std::size_t>(c.batch * c.seq * e));
        kern::fill_normal(dt, q.at(), c.batch * c.seq * 3 * e, kern::NormalFill{1, 8, 0, 0.0f, 1.0f, false}, s.get());
        const double flops = 4.0 * static_cast<double>(c.batch * c.heads) * static_cast<double>(c.seq * c.seq) *
                             static_cast<double>(c.d);
        report(fmt::format("attention B{} S{} H{} d{} {}", c.batch, c.seq, c.heads, c.d, name(dt)),
               timer.mean_ms(s.get(), [&] {
                 kern::attention(dt, q.at(), y.at(), kern::AttentionDims{c.batch, c.seq, e, c.heads}, s.get());
               }, 5),
               0.0, flops);
      }
    }
    {
      // ResNet-50: stem max pool NHWC [256, 64, 112, 112] → 56×56; head global pool [256, 2048, 7×7].
      const kern::Pool2dDims d{256, 64, 112, 112, 3, 3, 2, 2, 1, 1};
      const std::int64_t n_in = 256LL * 64 * 112 * 112, n_out = 256LL * 64 * 56 * 56;
      DeviceArray x(dt, static_cast<std::size_t>(n_in)), y(dt, static_cast<std::size_t>(n_in));
      kern::fill_normal(dt, x.at(), n_in, kern::NormalFill{1, 9, 0, 0.0f, 1.0f, false}, s.get());
      report("max_pool 3x3/2 NHWC [256,64,112,112] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::max_pool2d(dt, Layout::NHWC, x.at(), y.at(), d, s.get()); }),
             static_cast<double>(n_in + n_out) * es);
      report("max_pool 3x3/2 NCHW [256,64,112,112] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::max_pool2d(dt, Layout::NCHW, x.at(), y.at(), d, s.get()); }),
             static_cast<double>(n_in + n_out) * es);
      const std::int64_t n_gp = 256LL * 2048 * 49;
      report("global_avg_pool NHWC [256,2048,49] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::global_avg_pool(dt, Layout::NHWC, x.at(), y.at(), 256, 2048, 49, s.get()); }),
             static_cast<double>(n_gp) * es);
      report("global_avg_pool NCHW [256,2048,49] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::global_avg_pool(dt, Layout::NCHW, x.at(), y.at(), 256, 2048, 49, s.get()); }),
             static_cast<double>(n_gp) * es);
      report("nchw_to_nhwc [256,64,12544] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::nchw_to_nhwc(dt, x.at(), y.at(), 256, 64, 112 * 112, s.get()); }),
             2.0 * static_cast<double>(n_in) * es);
      report("nchw_to_nhwc [256,3,50176] " + name(dt),
             timer.mean_ms(s.get(), [&] { kern::nchw_to_nhwc(dt, x.at(), y.at(), 256, 3, 224 * 224, s.get()); }),
             2.0 * 256 * 3 * 50176 * es);
      if (dt != DType::f32) {
        DeviceArray f(DType::f32, static_cast<std::size_t>(n_out));
        report("cast f32 → " + name(dt) + " 51M",
               timer.mean_ms(s.get(), [&] { kern::cast(DType::f32, dt, f.at(), y.at(), n_out, s.get()); }),
               static_cast<double>(n_out) * (4.0 + es));
      }
    }
  }
}

// =============================================================================================
// gates and bad input

TEST(GpuKernels, BadInputThrowsTypedErrors) {
  VRAMFIT_REQUIRE_GPU();
  Stream s;
  DeviceArray d(DType::f32, 64);
  EXPECT_THROW(kern::activation(DType::q4_0, d.at(), d.at(), 4, Activation::Relu, s.get()), Unsupported);
  EXPECT_THROW(kern::layer_norm(DType::f32, d.at(), d.at(), d.at(), d.at(), 1, 0, 1e-5f, s.get()), InvalidInput);
  EXPECT_THROW(kern::layer_norm(DType::f32, d.at(1), d.at(), d.at(), d.at(1), 1, 5000, 1e-5f, s.get()), Unsupported);
  EXPECT_THROW(kern::attention(DType::f16, d.at(), d.at(), kern::AttentionDims{1, 4, 96, 1}, s.get()), Unsupported);
  EXPECT_THROW(kern::attention(DType::f32, d.at(1), d.at(), kern::AttentionDims{1, 1, 64, 1}, s.get()), InvalidInput);
  EXPECT_THROW(kern::max_pool2d(DType::f32, Layout::NCHW, d.at(), d.at(), kern::Pool2dDims{1, 1, 2, 2, 5, 5, 1, 1, 0, 0},
                                s.get()),
               InvalidInput);
  EXPECT_THROW(kern::take_token(DType::f32, d.at(), d.at(), 1, 4, 4, 4, s.get()), InvalidInput);
  EXPECT_THROW(kern::nchw_to_nhwc(DType::q4_k, d.at(), d.at(), 1, 1, 1, s.get()), Unsupported);
  EXPECT_THROW(kern::class_token_positional(DType::f32, d.at(), d.at(), d.at(), d.at(), 1, 2, 4, s.get()), InvalidInput);
  s.sync();
}

}  // namespace
}  // namespace vramfit
