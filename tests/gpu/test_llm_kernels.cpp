// tests/gpu/test_llm_kernels.cpp — every LLM kernel (backend/cuda/kernels/llm_*.cuh) against a plain
// CPU loop (backend/cpu/llm_ops.h, ops.h linear, weights/quant_int.h dequantize) on the same host data.
//
// Shapes are awkward on purpose: batch 1, 3 and 8; k not a multiple of 256 (384, 200, 1000, 400, 8320) and one
// misaligned x to force the GEMV's scalar path; head dims 64 and 128; GQA ratios 1, 4, 7 (padded to
// 8) and 8; contexts 1, 77, 700 and 1100 (several splits, positions past a sequence's length filled
// with garbage that must be ignored); a prefill continued after 100 cached tokens reading k/v straight
// from the cache layout.
//
// Judging: 16-bit inputs are rounded on the host first, so the reference sees exactly the kernel's
// inputs. The GEMV / GEMM bound is per element: output rounding (2⁻¹¹ f16, 2⁻⁸ bf16 of |ref|) plus
// fp32 summation error, k·2⁻²³·Σ|x·w| — the scale of the error of any summation order, not of the
// result, which can cancel to ~0. Each check prints its worst error and the share of the tolerance used.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/llm_ops.h"
#include "backend/cpu/ops.h"
#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "backend/cuda/kernels/llm_argmax.cuh"
#include "backend/cuda/kernels/llm_decode_attention.cuh"
#include "backend/cuda/kernels/llm_embedding.cuh"
#include "backend/cuda/kernels/llm_gemm_dequant.cuh"
#include "backend/cuda/kernels/llm_gemv.cuh"
#include "backend/cuda/kernels/llm_kv_cache.cuh"
#include "backend/cuda/kernels/llm_prefill_attention.cuh"
#include "backend/cuda/kernels/llm_rms_norm.cuh"
#include "backend/cuda/kernels/llm_rope.cuh"
#include "backend/cuda/kernels/llm_silu_mul.cuh"
#include "core/half.h"
#include "core/rng.h"
#include "gpu_env.h"
#include "weights/quant_int.h"

namespace vramfit {
namespace {

namespace kern = cuda::kernels;
using I64 = std::int64_t;

std::size_t esize(DType dt) { return dt == DType::f32 ? 4 : 2; }
std::size_t sz(I64 v) { return static_cast<std::size_t>(v); }

float round_as(DType dt, float f) {
  if (dt == DType::f16) return round_to_half(f);
  if (dt == DType::bf16) return round_to_bf16(f);
  return f;
}

std::vector<float> random_values(std::size_t n, std::uint64_t stream, float sd = 1.0f, float mean = 0.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = mean + sd * normal01(4242, stream, i);
  return v;
}
std::vector<float> rounded(DType dt, std::vector<float> v) {
  for (float& f : v) f = round_as(dt, f);
  return v;
}

// Device memory of `n` elements of `dt` (+ slack for misaligned views); upload/download convert.
class Buf {
 public:
  Buf(DType dt, std::size_t n, std::size_t slack = 8) : dt_(dt), n_(n) {
    CUDA_CHECK(cudaMalloc(&p_, (n + slack) * esize(dt) + 16));
  }
  ~Buf() { (void)cudaFree(p_); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  void* at(std::size_t e = 0) const { return static_cast<char*>(p_) + e * esize(dt_); }
  void upload(std::span<const float> v, std::size_t off = 0) {
    std::vector<std::uint8_t> b(v.size() * esize(dt_));
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(b.data() + 4 * i, &v[i], 4);
      } else {
        const std::uint16_t h = dt_ == DType::f16 ? float_to_half_bits(v[i]) : float_to_bf16_bits(v[i]);
        std::memcpy(b.data() + 2 * i, &h, 2);
      }
    }
    CUDA_CHECK(cudaMemcpy(at(off), b.data(), b.size(), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
  }
  std::vector<float> download(std::size_t count, std::size_t off = 0) const {
    std::vector<std::uint8_t> b(count * esize(dt_));
    CUDA_CHECK(cudaMemcpy(b.data(), at(off), b.size(), cudaMemcpyDeviceToHost));
    std::vector<float> v(count);
    for (std::size_t i = 0; i < count; ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(&v[i], b.data() + 4 * i, 4);
      } else {
        std::uint16_t h;
        std::memcpy(&h, b.data() + 2 * i, 2);
        v[i] = dt_ == DType::f16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
      }
    }
    return v;
  }

 private:
  DType dt_;
  std::size_t n_;
  void* p_ = nullptr;
};

// Raw bytes on the device (quantised weights, int32 ids).
class Raw {
 public:
  explicit Raw(std::size_t bytes) { CUDA_CHECK(cudaMalloc(&p_, std::max<std::size_t>(bytes, 16))); }
  template <class T> explicit Raw(const std::vector<T>& v) : Raw(v.size() * sizeof(T)) {
    CUDA_CHECK(cudaMemcpy(p_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
  }
  ~Raw() { (void)cudaFree(p_); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  void* get() const { return p_; }
  template <class T> T* as() const { return static_cast<T*>(p_); }
  template <class T> std::vector<T> download(std::size_t n) const {
    std::vector<T> v(n);
    CUDA_CHECK(cudaMemcpy(v.data(), p_, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
  }

 private:
  void* p_ = nullptr;
};

struct Tol {
  double atol, rtol;
};
Tol out_tol(DType dt) {  // one fp32 computation, one rounding of the output
  if (dt == DType::f16) return {1e-3, 2e-3};
  if (dt == DType::bf16) return {8e-3, 1e-2};
  return {1e-5, 1e-5};
}
Tol attn_tol(DType dt) {  // p rounded to the storage dtype before p·v in the tensor-core kernel
  if (dt == DType::f16) return {2e-3, 4e-3};
  if (dt == DType::bf16) return {1.6e-2, 2e-2};
  return {1e-5, 1e-5};
}
double unit_roundoff(DType dt) { return dt == DType::f16 ? 0x1p-11 : (dt == DType::bf16 ? 0x1p-8 : 0x1p-24); }

// |got − ref| ≤ limit[i] for every i; prints the worst share of the limit.
void expect_within(const std::string& what, std::span<const float> got, std::span<const float> ref,
                   std::span<const double> limit) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double worst = 0.0, max_abs = 0.0;
  std::size_t wi = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double d = std::fabs(static_cast<double>(got[i]) - ref[i]);
    const double share = std::isfinite(d) ? (limit[i] > 0 ? d / limit[i] : (d == 0 ? 0 : 1e30)) : 1e30;
    max_abs = std::max(max_abs, d);
    if (share > worst) {
      worst = share;
      wi = i;
    }
  }
  std::printf("  %-64s max|err| %.3e  %6.1f%% of tol\n", what.c_str(), max_abs, 100.0 * worst);
  EXPECT_LE(worst, 1.0) << what << ": worst at " << wi << ", got " << got[wi] << ", reference " << ref[wi]
                        << ", limit " << limit[wi];
}
void expect_close(const std::string& what, std::span<const float> got, std::span<const float> ref, Tol t) {
  std::vector<double> lim(ref.size());
  for (std::size_t i = 0; i < ref.size(); ++i) lim[i] = t.atol + t.rtol * std::fabs(ref[i]);
  expect_within(what, got, ref, lim);
}

std::string nm(DType dt) { return std::string(to_string(dt)); }

class LlmKernels : public test::GpuTest {
 protected:
  void SetUp() override {
    test::GpuTest::SetUp();
    if (IsSkipped()) return;
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
  }
  void sync() { CUDA_CHECK(cudaStreamSynchronize(stream_)); }
  cudaStream_t stream_ = nullptr;
};

const DType kFloat[] = {DType::f32, DType::f16, DType::bf16};
const DType k16[] = {DType::f16, DType::bf16};

// ---------------------------------------------------------------------------------------------
TEST_F(LlmKernels, RmsNorm) {
  for (DType dt : kFloat)
    for (I64 rows : {1, 3, 19})
      for (I64 e : {64, 111, 4096}) {
        const auto x = rounded(dt, random_values(sz(rows * e), 1, 2.0f, 0.3f));
        const auto w = rounded(dt, random_values(sz(e), 2, 0.2f, 1.0f));
        std::vector<float> ref(x.size());
        cpu::rms_norm(x.data(), w.data(), ref.data(), rows, e, 1e-6f);
        Buf dx(dt, x.size()), dw(dt, w.size()), dy(dt, x.size());
        dx.upload(x);
        dw.upload(w);
        kern::rms_norm(dt, dx.at(), dw.at(), dy.at(), rows, e, 1e-6f, stream_);
        sync();
        expect_close("rms_norm " + nm(dt) + " rows " + std::to_string(rows) + " E " + std::to_string(e),
                     dy.download(x.size()), ref, out_tol(dt));
        kern::rms_norm(dt, dx.at(), dw.at(), dx.at(), rows, e, 1e-6f, stream_);  // in place
        sync();
        expect_close("  in place", dx.download(x.size()), ref, out_tol(dt));
      }
}

TEST_F(LlmKernels, Rope) {
  const I64 tokens = 5, hq = 4, hk = 2;
  const std::vector<std::int32_t> pos = {0, 1, 17, 1000, 4095};
  Raw dpos(pos);
  for (DType dt : kFloat)
    for (I64 d : {64, 128})
      for (float theta : {10000.0f, 500000.0f})
        for (bool table : {false, true}) {
          const I64 stride = (hq + 2 * hk) * d;  // fused qkv rows
          const auto qkv = rounded(dt, random_values(sz(tokens * stride), 3));
          const auto inv = cpu::rope_inv_freq(d, theta);
          std::vector<float> ref = qkv;
          cpu::rope(ref.data(), tokens, hq, d, stride, pos.data(), inv.data());
          cpu::rope(ref.data() + hq * d, tokens, hk, d, stride, pos.data(), inv.data());
          Buf buf(dt, qkv.size());
          buf.upload(qkv);
          Raw dinv(inv);
          kern::RopeArgs a;
          a.tokens = tokens;
          a.head_dim = d;
          a.q_heads = hq;
          a.q_stride = stride;
          a.kv_heads = hk;
          a.k_stride = stride;
          a.positions = dpos.as<std::int32_t>();
          a.theta = theta;
          a.inv_freq = table ? dinv.as<float>() : nullptr;
          kern::rope(dt, buf.at(), buf.at(sz(hq * d)), a, stream_);
          sync();
          // Without the table the kernel's base^(−2i/d) (exp2f) may differ from the fp32 pow by a few ulp,
          // which at position 4095 moves the angle by up to ~4·4095·2⁻²⁴ rad ≈ 1e-3 (|x| ≤ ~5 here).
          // The table case is the tight one: the same fp32 angle on both sides.
          Tol t = out_tol(dt);
          if (!table) t.atol += 1e-2;
          const auto got = buf.download(qkv.size());
          expect_close("rope " + nm(dt) + " d " + std::to_string(d) + " theta " + std::to_string(int(theta)) +
                           (table ? " table" : " computed"),
                       got, ref, t);
        }
}

TEST_F(LlmKernels, SiluMul) {
  for (DType dt : kFloat)
    for (I64 rows : {1, 3})
      for (I64 cols : {11008, 37}) {
        const auto gu = rounded(dt, random_values(sz(rows * 2 * cols), 4, 3.0f));
        std::vector<float> ref(sz(rows * cols));
        cpu::silu_mul(gu.data(), 2 * cols, gu.data() + cols, 2 * cols, ref.data(), rows, cols);
        Buf dgu(dt, gu.size()), dy(dt, ref.size());
        dgu.upload(gu);
        kern::silu_mul(dt, dgu.at(), 2 * cols, dgu.at(sz(cols)), 2 * cols, dy.at(), rows, cols, stream_);
        sync();
        expect_close("silu_mul " + nm(dt) + " rows " + std::to_string(rows) + " cols " + std::to_string(cols),
                     dy.download(ref.size()), ref, out_tol(dt));
      }
}

TEST_F(LlmKernels, EmbeddingAndArgmax) {
  const I64 vocab = 1000;
  const std::vector<std::int32_t> ids = {0, 999, 17, -1, 1000, 17};
  Raw dids(ids);
  for (DType dt : kFloat)
    for (I64 dim : {4096, 100}) {
      const auto table = rounded(dt, random_values(sz(vocab * dim), 5));
      std::vector<float> ref(ids.size() * sz(dim), 0.0f);  // invalid ids → zero rows
      for (std::size_t t = 0; t < ids.size(); ++t)
        if (ids[t] >= 0 && ids[t] < vocab)
          cpu::embedding(&ids[t], 1, table.data(), vocab, dim, ref.data() + t * sz(dim));
      Buf dt_(dt, table.size()), dy(dt, ref.size());
      dt_.upload(table);
      kern::embedding(dt, dids.as<std::int32_t>(), static_cast<I64>(ids.size()), dt_.at(), vocab, dim, dy.at(), stream_);
      sync();
      expect_close("embedding " + nm(dt) + " dim " + std::to_string(dim), dy.download(ref.size()), ref, Tol{0, 0});
    }
  for (DType dt : kFloat)
    for (I64 cols : {32000, 151936, 37}) {
      const I64 rows = 3, stride = cols + 8;
      auto x = rounded(dt, random_values(sz(rows * stride), 6, 4.0f));
      // Row 1: a tie at two places (the first must win); row 2: NaNs everywhere but a few values.
      const float big = round_as(dt, 50.0f);
      x[sz(stride + cols / 3)] = big;
      x[sz(stride + cols / 2)] = big;
      for (I64 c = 0; c < cols; ++c)
        if (c % 7 != 3) x[sz(2 * stride + c)] = std::numeric_limits<float>::quiet_NaN();
      std::vector<std::int32_t> ref(sz(rows));
      cpu::argmax_rows(x.data(), rows, cols, stride, ref.data());
      EXPECT_EQ(ref[1], cols / 3);
      Buf dx(dt, x.size());
      dx.upload(x);
      Raw dout(sz(rows) * 4);
      kern::argmax_rows(dt, dx.at(), rows, cols, stride, dout.as<std::int32_t>(), stream_);
      sync();
      EXPECT_EQ(dout.download<std::int32_t>(sz(rows)), ref) << "argmax " << nm(dt) << " cols " << cols;
    }
}

TEST_F(LlmKernels, KvCacheAppend) {
  for (DType dt : kFloat)
    for (I64 d : {64, 128}) {
      const kern::KvCacheDims dims{3, 4, 50, d};
      const I64 stride = (8 + 2 * dims.kv_heads) * d;  // k and v slices of a fused qkv row (8 q heads)
      // A prefill of slot 1 at positions 10 … 16, a decode token for slots 0 and 2, and two entries
      // that must be skipped (position past max_ctx, slot past batch).
      const std::vector<std::int32_t> seq = {1, 1, 1, 1, 1, 1, 1, 0, 2, 0, 5};
      const std::vector<std::int32_t> pos = {10, 11, 12, 13, 14, 15, 16, 0, 49, 50, 3};
      const I64 tokens = static_cast<I64>(seq.size());
      const auto qkv = rounded(dt, random_values(sz(tokens * stride), 7));
      const auto init = rounded(dt, random_values(sz(dims.elements()), 8));
      Buf dqkv(dt, qkv.size()), ck(dt, init.size()), cv(dt, init.size());
      dqkv.upload(qkv);
      ck.upload(init);
      cv.upload(init);
      Raw dseq(seq), dpos(pos);
      kern::kv_cache_append(dt, dqkv.at(sz(8 * d)), stride, dqkv.at(sz((8 + dims.kv_heads) * d)), stride, tokens,
                            dseq.as<std::int32_t>(), dpos.as<std::int32_t>(), ck.at(), cv.at(), dims, stream_);
      sync();
      auto rk = init, rv = init;
      for (I64 t = 0; t < tokens; ++t) {
        if (seq[t] >= dims.batch || pos[t] >= dims.max_ctx) continue;
        for (I64 h = 0; h < dims.kv_heads; ++h)
          for (I64 e = 0; e < d; ++e) {
            const I64 dst = ((seq[t] * dims.kv_heads + h) * dims.max_ctx + pos[t]) * d + e;
            rk[sz(dst)] = qkv[sz(t * stride + 8 * d + h * d + e)];
            rv[sz(dst)] = qkv[sz(t * stride + (8 + dims.kv_heads) * d + h * d + e)];
          }
      }
      expect_close("kv_cache_append k " + nm(dt) + " d " + std::to_string(d), ck.download(init.size()), rk, Tol{0, 0});
      expect_close("kv_cache_append v " + nm(dt) + " d " + std::to_string(d), cv.download(init.size()), rv, Tol{0, 0});
    }
}

TEST_F(LlmKernels, RopeWithTheFusedAppendIsRopeThenAppend) {
  // The decode step's one kernel (RopeArgs::cache_k set) against the two it replaces, bit for bit:
  // rotated q and k in place, rotated k and the plain v in the cache, skipped entries untouched.
  for (DType dt : kFloat)
    for (I64 d : {64, 128}) {
      const kern::KvCacheDims dims{3, 2, 40, d};
      const I64 hq = 4, stride = (hq + 2 * dims.kv_heads) * d;
      const std::vector<std::int32_t> seq = {1, 1, 1, 0, 2, 0, 5};
      const std::vector<std::int32_t> pos = {10, 11, 12, 0, 39, 40, 3};
      const I64 tokens = static_cast<I64>(seq.size());
      const auto qkv = rounded(dt, random_values(sz(tokens * stride), 21));
      const auto init = rounded(dt, random_values(sz(dims.elements()), 22));
      Raw dseq(seq), dpos(pos);
      Buf q1(dt, qkv.size()), k1(dt, init.size()), v1(dt, init.size()), q2(dt, qkv.size()), k2(dt, init.size()), v2(dt, init.size());
      for (Buf* b : {&q1, &q2}) b->upload(qkv);
      for (Buf* b : {&k1, &v1, &k2, &v2}) b->upload(init);
      kern::RopeArgs a;
      a.tokens = tokens;
      a.head_dim = d;
      a.q_heads = hq;
      a.q_stride = stride;
      a.kv_heads = dims.kv_heads;
      a.k_stride = stride;
      a.positions = dpos.as<std::int32_t>();
      kern::rope(dt, q1.at(), q1.at(sz(hq * d)), a, stream_);
      kern::kv_cache_append(dt, q1.at(sz(hq * d)), stride, q1.at(sz((hq + dims.kv_heads) * d)), stride, tokens,
                            dseq.as<std::int32_t>(), dpos.as<std::int32_t>(), k1.at(), v1.at(), dims, stream_);
      a.cache_k = k2.at();
      a.cache_v = v2.at();
      a.v = q2.at(sz((hq + dims.kv_heads) * d));
      a.v_stride = stride;
      a.seq = dseq.as<std::int32_t>();
      a.cache_batch = dims.batch;
      a.cache_max_ctx = dims.max_ctx;
      kern::rope(dt, q2.at(), q2.at(sz(hq * d)), a, stream_);
      sync();
      const std::string w = nm(dt) + " d " + std::to_string(d);
      expect_close("fused rope qkv " + w, q2.download(qkv.size()), q1.download(qkv.size()), Tol{0, 0});
      expect_close("fused rope cache k " + w, k2.download(init.size()), k1.download(init.size()), Tol{0, 0});
      expect_close("fused rope cache v " + w, v2.download(init.size()), v1.download(init.size()), Tol{0, 0});
    }
}

// ---------------------------------------------------------------------------------------------
// GEMV and the dequantising GEMM.

struct HostWeights {
  DType dtype;
  std::vector<float> dense;  // what the kernel multiplies by: stored 16-bit values or q·s
  std::vector<std::uint8_t> bytes;
  std::vector<std::uint16_t> scale;
};

HostWeights make_weights(DType wdt, DType act, I64 n, I64 k, std::uint64_t stream) {
  auto w = random_values(sz(n * k), stream, 1.0f / std::sqrt(static_cast<float>(k)));
  HostWeights h{wdt, {}, {}, {}};
  if (wdt == DType::i8) {
    const Int8Weights q = quantize_int8(w.data(), n, k);
    h.dense = dequantize(q);
    h.bytes.assign(reinterpret_cast<const std::uint8_t*>(q.q.data()),
                   reinterpret_cast<const std::uint8_t*>(q.q.data()) + q.q.size());
    h.scale = q.scale;
  } else if (wdt == DType::i4) {
    const Int4Weights q = quantize_int4(w.data(), n, k);
    h.dense = dequantize(q);
    h.bytes = q.packed;
    h.scale = q.scale;
  } else {
    h.dense = rounded(act, w);
    h.bytes.resize(h.dense.size() * 2);
    for (std::size_t i = 0; i < h.dense.size(); ++i) {
      const std::uint16_t b = act == DType::f16 ? float_to_half_bits(h.dense[i]) : float_to_bf16_bits(h.dense[i]);
      std::memcpy(h.bytes.data() + 2 * i, &b, 2);
    }
  }
  return h;
}

// y = x·Wᵀ (+ res) in fp32 and the per-element error limit for a kernel that sums in fp32 (any order)
// and rounds once to `act`; `extra_rel_w` adds a relative error of the weights themselves (the GEMM's
// dequantised tile rounded to the activation dtype).
void reference_linear(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>* res, I64 m,
                      I64 n, I64 k, DType act, double extra_rel_w, std::vector<float>& y, std::vector<double>& lim) {
  y.assign(sz(m * n), 0.0f);
  lim.assign(sz(m * n), 0.0);
  for (I64 r = 0; r < m; ++r)
    for (I64 c = 0; c < n; ++c) {
      double s = 0.0, mag = 0.0;
      for (I64 i = 0; i < k; ++i) {
        const double p = static_cast<double>(x[sz(r * k + i)]) * w[sz(c * k + i)];
        s += p;
        mag += std::fabs(p);
      }
      if (res != nullptr) {
        s += (*res)[sz(r * n + c)];
        mag += std::fabs((*res)[sz(r * n + c)]);
      }
      y[sz(r * n + c)] = static_cast<float>(s);
      lim[sz(r * n + c)] = 2.0 * unit_roundoff(act) * std::fabs(s) + (static_cast<double>(k) * 0x1p-23 + extra_rel_w) * mag +
                           1e-6;
    }
}

TEST_F(LlmKernels, Gemv) {
  struct Case {
    I64 n, k;
  };
  // 400 and 8320: the vector kernel's tail step (int8 / 16-bit rows whose 16-byte vectors are not a
  // multiple of 4; int4 warps that loop more than once, then take the last group alone).
  const Case cases[] = {{4096, 4096}, {37, 384}, {111, 200}, {19, 1000}, {29, 400}, {24, 8320}};
  for (DType act : k16)
    for (DType wdt : {act, DType::i8, DType::i4})
      for (const Case& cs : cases) {
        if (wdt == DType::i4 && cs.k % 128 != 0) continue;
        const HostWeights hw = make_weights(wdt, act, cs.n, cs.k, 11);
        Raw dw(hw.bytes), ds(hw.scale);
        const kern::LlmWeights lw{wdt, dw.get(), hw.scale.empty() ? nullptr : ds.get(), cs.n, cs.k};
        for (I64 batch : {1, 3, 8})
          for (bool residual : {false, true})
            for (bool misalign : {false, true}) {
              if (misalign && (batch != 3 || residual)) continue;
              const auto x = rounded(act, random_values(sz(batch * cs.k), 12, 1.5f));
              const auto res = rounded(act, random_values(sz(batch * cs.n), 13));
              std::vector<float> ref;
              std::vector<double> lim;
              reference_linear(x, hw.dense, residual ? &res : nullptr, batch, cs.n, cs.k, act, 0.0, ref, lim);
              Buf dx(act, x.size()), dr(act, res.size()), dy(act, res.size());
              const std::size_t xoff = misalign ? 1 : 0;  // x one element off: the scalar path
              dx.upload(x, xoff);
              dr.upload(res);
              kern::llm_gemv(act, lw, dx.at(xoff), batch, residual ? dr.at() : nullptr, dy.at(), stream_);
              sync();
              expect_within("gemv " + nm(act) + " w " + nm(wdt) + " n " + std::to_string(cs.n) + " k " +
                                std::to_string(cs.k) + " B " + std::to_string(batch) + (residual ? " +res" : "") +
                                (misalign ? " misaligned" : ""),
                            dy.download(res.size()), ref, lim);
            }
        // In place residual (y = x·Wᵀ + y), batch 2.
        const auto x = rounded(act, random_values(sz(2 * cs.k), 14));
        const auto res = rounded(act, random_values(sz(2 * cs.n), 15));
        std::vector<float> ref;
        std::vector<double> lim;
        reference_linear(x, hw.dense, &res, 2, cs.n, cs.k, act, 0.0, ref, lim);
        Buf dx(act, x.size()), dy(act, res.size());
        dx.upload(x);
        dy.upload(res);
        kern::llm_gemv(act, lw, dx.at(), 2, dy.at(), dy.at(), stream_);
        sync();
        expect_within("  in-place residual", dy.download(res.size()), ref, lim);
      }
  EXPECT_TRUE(kern::llm_gemv_unsupported(DType::f16, {DType::bf16, nullptr, nullptr, 8, 8}, 1).has_value());
  EXPECT_TRUE(kern::llm_gemv_unsupported(DType::f16, {DType::i4, nullptr, nullptr, 8, 64}, 1).has_value());
  EXPECT_TRUE(kern::llm_gemv_unsupported(DType::f16, {DType::i8, nullptr, nullptr, 8, 64}, 9).has_value());
}

TEST_F(LlmKernels, DequantGemm) {
  cuda::CublasLtHandle lt;
  for (DType act : k16)
    for (DType wdt : {DType::i8, DType::i4}) {
      const I64 n = 300, k = 512;
      const HostWeights hw = make_weights(wdt, act, n, k, 21);
      Raw dw(hw.bytes), ds(hw.scale);
      const kern::LlmWeights lw{wdt, dw.get(), ds.get(), n, k};
      // The dequantised rows, bit-exact: q·s rounded once to the activation dtype.
      {
        Buf out(act, sz(7 * k));
        kern::dequantize_weight_rows(act, lw, 101, 7, out.at(), stream_);
        sync();
        std::vector<float> ref(hw.dense.begin() + 101 * k, hw.dense.begin() + 108 * k);
        expect_close("dequantize_weight_rows " + nm(act) + " " + nm(wdt), out.download(ref.size()), rounded(act, ref),
                     Tol{0, 0});
      }
      for (I64 m : {1, 77})
        for (I64 tile : {0, 128})
          for (bool residual : {false, true}) {
            const auto x = rounded(act, random_values(sz(m * k), 22));
            const auto res = rounded(act, random_values(sz(m * n), 23));
            std::vector<float> ref;
            std::vector<double> lim;
            reference_linear(x, hw.dense, residual ? &res : nullptr, m, n, k, act, unit_roundoff(act), ref, lim);
            kern::DequantGemm gemm(lt.get(), act, wdt, m, n, k, tile, residual);
            Raw scratch(gemm.scratch_bytes());
            Buf dx(act, x.size()), dy(act, res.size());
            dx.upload(x);
            dy.upload(res);  // residual in place (y = x·W'ᵀ + y)
            gemm.run(stream_, dx.at(), lw, residual ? dy.at() : nullptr, dy.at(), scratch.get());
            sync();
            expect_within("dequant gemm " + nm(act) + " w " + nm(wdt) + " m " + std::to_string(m) + " tile " +
                              std::to_string(gemm.tile_rows()) + (residual ? " +res" : ""),
                          dy.download(res.size()), ref, lim);
          }
    }
}

// ---------------------------------------------------------------------------------------------
// Attention.

TEST_F(LlmKernels, DecodeAttention) {
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  struct Case {
    I64 heads, kv_heads, d, max_ctx;
    std::vector<std::int32_t> lens;
  };
  const Case cases[] = {
      {8, 8, 128, 1, {1}},                      // context 1, MHA
      {8, 2, 64, 77, {77, 5, 1}},               // G 4, batch 3
      {16, 2, 128, 1100, {1100, 700, 64}},      // G 8, several splits
      {14, 2, 64, 1100, {1037}},                // G 7 (padded to 8)
      {32, 32, 128, 4096, {4096}},              // llama-7b
      // ≤ 8 splits run as one thread-block cluster per (sequence, kv head) on sm_90+ (merged in
      // distributed shared memory), with idle blocks where a sequence is shorter:
      {32, 32, 128, 512, {512, 300}},           // llama-7b at context 512: 8 splits, G 1
      {16, 2, 128, 300, {300, 64}},             // G 8: 5 splits
  };
  for (DType dt : k16)
    for (const Case& c : cases)
      for (bool one_split : {false, true}) {
        const I64 batch = static_cast<I64>(c.lens.size()), d = c.d;
        kern::DecodeAttentionArgs a;
        a.batch = batch;
        a.heads = c.heads;
        a.kv_heads = c.kv_heads;
        a.head_dim = d;
        a.max_ctx = c.max_ctx;
        a.q_stride = (c.heads + 2 * c.kv_heads) * d;  // q rows of a fused qkv output
        int splits = kern::decode_attention_splits(a, sms);
        if (one_split) {
          if (c.max_ctx > 512) continue;
          splits = 1;
        }
        const kern::KvCacheDims dims{batch, c.kv_heads, c.max_ctx, d};
        const auto q = rounded(dt, random_values(sz(batch * a.q_stride), 31));
        const auto ck = rounded(dt, random_values(sz(dims.elements()), 32));  // past each length: garbage
        const auto cv = rounded(dt, random_values(sz(dims.elements()), 33));
        std::vector<float> ref(sz(batch * c.heads * d));
        for (I64 b = 0; b < batch; ++b) {
          const I64 len = c.lens[sz(b)];
          std::vector<float> kk(sz(len * c.kv_heads * d)), vv(kk.size()), qq(sz(c.heads * d));
          for (I64 j = 0; j < len; ++j)
            for (I64 h = 0; h < c.kv_heads; ++h)
              for (I64 e = 0; e < d; ++e) {
                kk[sz((j * c.kv_heads + h) * d + e)] = ck[sz(((b * c.kv_heads + h) * c.max_ctx + j) * d + e)];
                vv[sz((j * c.kv_heads + h) * d + e)] = cv[sz(((b * c.kv_heads + h) * c.max_ctx + j) * d + e)];
              }
          std::copy(q.begin() + b * a.q_stride, q.begin() + b * a.q_stride + c.heads * d, qq.begin());
          cpu::GqaShape s;
          s.q_len = 1;
          s.kv_len = len;
          s.heads = c.heads;
          s.kv_heads = c.kv_heads;
          s.head_dim = d;
          s.causal = false;
          cpu::attention_gqa(qq.data(), kk.data(), vv.data(), ref.data() + b * c.heads * d, s);
        }
        Buf dq(dt, q.size()), dk(dt, ck.size()), dv(dt, cv.size()), dout(dt, ref.size());
        dq.upload(q);
        dk.upload(ck);
        dv.upload(cv);
        Raw lens(c.lens);
        a.seq_lens = lens.as<std::int32_t>();
        Raw scratch(kern::decode_attention_scratch_bytes(a, splits));
        kern::decode_attention(dt, dq.at(), dk.at(), dv.at(), dout.at(), a, splits, scratch.get(), stream_);
        sync();
        expect_close("decode_attention " + nm(dt) + " H " + std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) +
                         " d " + std::to_string(d) + " ctx " + std::to_string(c.max_ctx) + " B " + std::to_string(batch) +
                         " splits " + std::to_string(splits),
                     dout.download(ref.size()), ref, out_tol(dt));
      }
  EXPECT_TRUE(kern::decode_attention_unsupported(DType::f16, 96, 1).has_value());
  EXPECT_TRUE(kern::decode_attention_unsupported(DType::f16, 128, 16).has_value());
}

TEST_F(LlmKernels, PrefillAttention) {
  struct Case {
    I64 batch, q_len, heads, kv_heads, d, q_offset;
    bool causal, from_cache;
  };
  const Case cases[] = {
      {2, 77, 8, 8, 64, 0, true, false},     // MHA, fused qkv layout
      {1, 300, 8, 2, 128, 0, true, false},   // G 4
      {2, 1, 16, 2, 128, 0, true, false},    // one token
      {1, 130, 32, 4, 128, 100, true, true}, // G 8, continued after 100 cached tokens, k/v from the cache
      {2, 65, 8, 1, 64, 0, false, false},    // non-causal, MQA
  };
  for (DType dt : k16)
    for (const Case& c : cases) {
      const I64 d = c.d, kv_len = c.q_offset + c.q_len, H = c.heads, Hk = c.kv_heads;
      // Contiguous host copies for the reference: q, o [B, q_len, H, d]; k, v [B, kv_len, Hk, d].
      const auto q = rounded(dt, random_values(sz(c.batch * c.q_len * H * d), 41));
      const auto k = rounded(dt, random_values(sz(c.batch * kv_len * Hk * d), 42));
      const auto v = rounded(dt, random_values(sz(c.batch * kv_len * Hk * d), 43));
      std::vector<float> ref(q.size());
      cpu::GqaShape s;
      s.batch = c.batch;
      s.q_len = c.q_len;
      s.kv_len = kv_len;
      s.heads = H;
      s.kv_heads = Hk;
      s.head_dim = d;
      s.q_offset = c.q_offset;
      s.causal = c.causal;
      cpu::attention_gqa(q.data(), k.data(), v.data(), ref.data(), s);

      kern::PrefillAttentionArgs a;
      a.batch = c.batch;
      a.q_len = c.q_len;
      a.kv_len = kv_len;
      a.heads = H;
      a.kv_heads = Hk;
      a.head_dim = d;
      a.q_offset = c.q_offset;
      a.causal = c.causal;
      a.o = {c.q_len * H * d, H * d, d};
      std::vector<float> qd, kd, vd;  // device layouts
      if (!c.from_cache) {
        // q/k/v are column slices of one fused qkv buffer [B, T, (H + 2Hk)·d].
        const I64 row = (H + 2 * Hk) * d;
        std::vector<float> qkv(sz(c.batch * c.q_len * row));
        for (I64 b = 0; b < c.batch; ++b)
          for (I64 t = 0; t < c.q_len; ++t) {
            std::copy_n(q.begin() + (b * c.q_len + t) * H * d, H * d, qkv.begin() + (b * c.q_len + t) * row);
            std::copy_n(k.begin() + (b * kv_len + t) * Hk * d, Hk * d, qkv.begin() + (b * c.q_len + t) * row + H * d);
            std::copy_n(v.begin() + (b * kv_len + t) * Hk * d, Hk * d,
                        qkv.begin() + (b * c.q_len + t) * row + (H + Hk) * d);
          }
        a.q = a.k = a.v = {c.q_len * row, row, d};
        Buf dqkv(dt, qkv.size()), dout(dt, ref.size());
        dqkv.upload(qkv);
        kern::prefill_attention(dt, dqkv.at(), dqkv.at(sz(H * d)), dqkv.at(sz((H + Hk) * d)), dout.at(), a, stream_);
        sync();
        expect_close("prefill_attention " + nm(dt) + " B " + std::to_string(c.batch) + " T " + std::to_string(c.q_len) +
                         " H " + std::to_string(H) + "/" + std::to_string(Hk) + " d " + std::to_string(d) +
                         (c.causal ? " causal" : " full"),
                     dout.download(ref.size()), ref, attn_tol(dt));
      } else {
        // k/v in the cache layout [B, Hk, max_ctx, d]; q contiguous.
        const I64 max_ctx = kv_len + 19;
        std::vector<float> ck(sz(c.batch * Hk * max_ctx * d), 7.0f), cv(ck.size(), -7.0f);
        for (I64 b = 0; b < c.batch; ++b)
          for (I64 j = 0; j < kv_len; ++j)
            for (I64 h = 0; h < Hk; ++h)
              for (I64 e = 0; e < d; ++e) {
                ck[sz(((b * Hk + h) * max_ctx + j) * d + e)] = k[sz(((b * kv_len + j) * Hk + h) * d + e)];
                cv[sz(((b * Hk + h) * max_ctx + j) * d + e)] = v[sz(((b * kv_len + j) * Hk + h) * d + e)];
              }
        a.q = {c.q_len * H * d, H * d, d};
        a.k = a.v = {Hk * max_ctx * d, d, max_ctx * d};
        Buf dq(dt, q.size()), dk(dt, ck.size()), dv(dt, cv.size()), dout(dt, ref.size());
        dq.upload(q);
        dk.upload(ck);
        dv.upload(cv);
        kern::prefill_attention(dt, dq.at(), dk.at(), dv.at(), dout.at(), a, stream_);
        sync();
        expect_close("prefill_attention " + nm(dt) + " T " + std::to_string(c.q_len) + " after " +
                         std::to_string(c.q_offset) + " cached, H " + std::to_string(H) + "/" + std::to_string(Hk) +
                         " d " + std::to_string(d) + " (k/v from the cache)",
                     dout.download(ref.size()), ref, attn_tol(dt));
      }
    }
}

}  // namespace
}  // namespace vramfit

namespace vramfit {
namespace {

// The decode step's promise: KV append + decode attention captured once in a CUDA graph replay
// correctly at the next lengths, because positions and lengths are device values.
TEST_F(LlmKernels, DecodeStepReplaysFromAGraph) {
  const DType dt = DType::f16;
  const I64 H = 8, Hk = 2, d = 128, max_ctx = 600, batch = 2;
  int sms = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  kern::DecodeAttentionArgs a;
  a.batch = batch;
  a.heads = H;
  a.kv_heads = Hk;
  a.head_dim = d;
  a.max_ctx = max_ctx;
  const I64 row = (H + 2 * Hk) * d;  // fused qkv of one token
  a.q_stride = row;
  const int splits = kern::decode_attention_splits(a, sms);
  const kern::KvCacheDims dims{batch, Hk, max_ctx, d};
  auto ck = rounded(dt, random_values(sz(dims.elements()), 51));
  auto cv = rounded(dt, random_values(sz(dims.elements()), 52));
  Buf dk(dt, ck.size()), dv(dt, cv.size()), dqkv(dt, sz(batch * row)), dout(dt, sz(batch * H * d));
  dk.upload(ck);
  dv.upload(cv);
  Raw seq(std::vector<std::int32_t>{0, 1}), pos(sz(batch) * 4), lens(sz(batch) * 4);
  Raw scratch(kern::decode_attention_scratch_bytes(a, splits));
  a.seq_lens = lens.as<std::int32_t>();

  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  kern::kv_cache_append(dt, dqkv.at(sz(H * d)), row, dqkv.at(sz((H + Hk) * d)), row, batch, seq.as<std::int32_t>(),
                        pos.as<std::int32_t>(), dk.at(), dv.at(), dims, stream_);
  kern::decode_attention(dt, dqkv.at(), dk.at(), dv.at(), dout.at(), a, splits, scratch.get(), stream_);
  CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));

  // Two steps: lengths {5, 300} then {6, 599} (the second crosses into more splits).
  for (const auto& len : {std::vector<std::int32_t>{5, 300}, std::vector<std::int32_t>{6, 599}}) {
    const auto qkv = rounded(dt, random_values(sz(batch * row), static_cast<std::uint64_t>(60 + len[1])));
    dqkv.upload(qkv);
    const std::vector<std::int32_t> p = {len[0] - 1, len[1] - 1};
    CUDA_CHECK(cudaMemcpy(pos.get(), p.data(), 8, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
    CUDA_CHECK(cudaMemcpy(lens.get(), len.data(), 8, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
    CUDA_CHECK(cudaGraphLaunch(exec, stream_));
    sync();
    std::vector<float> ref(sz(batch * H * d));
    for (I64 b = 0; b < batch; ++b) {
      const I64 L = len[sz(b)];
      for (I64 h = 0; h < Hk; ++h)  // the host cache gets the new token, as the kernel should have done
        for (I64 e = 0; e < d; ++e) {
          ck[sz(((b * Hk + h) * max_ctx + L - 1) * d + e)] = qkv[sz(b * row + H * d + h * d + e)];
          cv[sz(((b * Hk + h) * max_ctx + L - 1) * d + e)] = qkv[sz(b * row + (H + Hk) * d + h * d + e)];
        }
      std::vector<float> kk(sz(L * Hk * d)), vv(kk.size());
      for (I64 j = 0; j < L; ++j)
        for (I64 h = 0; h < Hk; ++h)
          for (I64 e = 0; e < d; ++e) {
            kk[sz((j * Hk + h) * d + e)] = ck[sz(((b * Hk + h) * max_ctx + j) * d + e)];
            vv[sz((j * Hk + h) * d + e)] = cv[sz(((b * Hk + h) * max_ctx + j) * d + e)];
          }
      cpu::GqaShape s;
      s.kv_len = L;
      s.heads = H;
      s.kv_heads = Hk;
      s.head_dim = d;
      s.causal = false;
      cpu::attention_gqa(qkv.data() + b * row, kk.data(), vv.data(), ref.data() + b * H * d, s);
    }
    expect_close("graph replay, lengths " + std::to_string(len[0]) + ", " + std::to_string(len[1]),
                 dout.download(ref.size()), ref, out_tol(dt));
  }
  (void)cudaGraphExecDestroy(exec);
  (void)cudaGraphDestroy(graph);
}

}  // namespace
}  // namespace vramfit
