// tests/gpu/test_gguf_kernels.cpp — the GGUF block kernels (backend/cuda/kernels/gguf_gemv.cuh)
// against the CPU dequantization (weights/gguf_quant.h), which the gguf Python package confirms
// (tests/weights/gguf_python_test.cpp).
//
//   * gguf_dequantize: every element equals round_to_half(CPU value) exactly (the kernel decodes with
//     the reference's rounding order).
//   * gguf_gemv: y = x·Wᵀ against a double-precision sum over the CPU-dequantized W and the fp16 x,
//     at awkward shapes: N = 1, 3, 5, 19, 37, 131 (a partial last CTA), K = 32, 96 (q8_0/q4_0 rows
//     at every offset mod 16, the tensor ending inside a lane's window), 256, 768, 2560 (a partial
//     last 1024-element step) and 11008 (Llama's FFN; Q6_K rows of 9030 bytes start at every
//     offset mod 16 and the tensor ends off a 16-byte boundary), B = 1, 2, 3, 8; fp32 and fp16
//     outputs; x tiny (the int8 scale clamped) and non-finite (NaN out).
//     Tolerance (derived at reference_gemv): the bound of the kernel's int8 rounding of x,
//     Σ_k |W[n,k]|·max|x of k's group|/254 (·(1 + 2^-10)), + 1e-5·Σ|w·x| (fp32 arithmetic in another
//     order) + 2^-10·|ref| for an fp16 output; every case prints the share of the tolerance it used
//     (the int8 term is a worst case: rounding errors of random sign use a few per cent of it).
//   * gguf_gemv with a residual read from y itself, y a column slice of a wider buffer (ldy > N).
//   * gguf_embedding: rows picked by device ids (first, last, repeated, clamped) equal the CPU
//     dequantization bit for bit; f16 rows are copied.
//   * gguf_dequantize from a row range starting at a 2-byte-aligned (not 4-byte) address.
//   * bad requests are InvalidInput / Unsupported.
//   * DISABLED_Throughput (run with --gtest_also_run_disabled_tests) times Llama-2-7B's matrices
//     per type at B = 1 and 8 and prints GB/s against the bytes moved.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "backend/cuda/kernels/gguf_gemv.cuh"
#include "core/half.h"
#include "core/rng.h"
#include "gpu_env.h"
#include "weights/gguf_quant.h"

namespace vramfit {
namespace {

namespace kern = cuda::kernels;

class DeviceBytes {
 public:
  explicit DeviceBytes(std::size_t n) : n_(n) { CUDA_CHECK(cudaMalloc(&p_, std::max<std::size_t>(n, 16))); }
  ~DeviceBytes() { (void)cudaFree(p_); }
  DeviceBytes(const DeviceBytes&) = delete;
  DeviceBytes& operator=(const DeviceBytes&) = delete;
  void* get() const { return p_; }
  void upload(const void* src, std::size_t n) { CUDA_CHECK(cudaMemcpy(p_, src, n, cudaMemcpyHostToDevice)); CUDA_CHECK(cudaDeviceSynchronize()); }
  void download(void* dst, std::size_t n) const { CUDA_CHECK(cudaMemcpy(dst, p_, n, cudaMemcpyDeviceToHost)); }

 private:
  void* p_ = nullptr;
  std::size_t n_;
};

GgmlType ggml_of(DType t) {
  switch (t) {
    case DType::q8_0: return GgmlType::Q8_0;
    case DType::q4_0: return GgmlType::Q4_0;
    case DType::q4_k: return GgmlType::Q4_K;
    default: return GgmlType::Q6_K;
  }
}

const DType kTypes[] = {DType::q8_0, DType::q4_0, DType::q4_k, DType::q6_k};

std::vector<float> random_weights(std::int64_t n, std::uint64_t stream) {
  std::vector<float> w(static_cast<std::size_t>(n));
  // Gaussian with an occasional outlier, as real weight rows have.
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.05f * normal01(31, stream, i) * (i % 509 == 0 ? 10.0f : 1.0f);
  return w;
}

std::vector<std::uint16_t> random_x(std::int64_t n, std::uint64_t stream) {
  std::vector<std::uint16_t> x(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = float_to_half_bits(normal01(32, stream, i));
  return x;
}

// The elements of x that gguf_gemv quantizes to int8 under one scale lie in an aligned group of
// this many (gguf_gemv.cuh: a lane's two runs of 16 — one q8_0/q4_0 block, or within one 64-element
// pair of q4_k sub-blocks, or one 128-element half of a q6_k block).
std::int64_t x_scale_group(DType t) {
  switch (t) {
    case DType::q4_k: return 64;
    case DType::q6_k: return 128;
    default: return 32;
  }
}

// ref[b·N + n] = Σ_k W[n, k]·x[b, k] in double; mag the same sum of |products|; xerr the bound on
// what gguf_gemv's int8 x can move it (gguf_gemv.cuh "Arithmetic"): each x is replaced by
// xq/s with s = fp16(min(127/amax, 65504)), |x − xq/s| ≤ 1/(2s), and 1/s ≤ amax/127·(1 + 2^-10)
// (the fp16 rounding of s and its approximate reciprocal), or 1/65504 where s is clamped; so
// |error| ≤ Σ_k |W[n, k]|·max(amax_G(k)/127·(1 + 2^-10), 1/65504)/2, amax_G(k) the largest |x| of
// k's group (a superset of the kernel's 32 values).
struct Reference {
  std::vector<double> ref, mag, xerr;
};
Reference reference_gemv(const std::vector<float>& W, const std::vector<std::uint16_t>& x, std::int64_t N, std::int64_t K,
                         int B, std::int64_t group) {
  const std::size_t outputs = static_cast<std::size_t>(B * N);
  Reference r{std::vector<double>(outputs), std::vector<double>(outputs), std::vector<double>(outputs)};
  std::vector<double> e(static_cast<std::size_t>(K));
  for (int b = 0; b < B; ++b) {
    for (std::int64_t g = 0; g < K; g += group) {
      double amax = 0;
      for (std::int64_t k = g; k < g + group; ++k)
        amax = std::max(amax, static_cast<double>(std::fabs(half_bits_to_float(x[static_cast<std::size_t>(b * K + k)]))));
      const double step = std::max(amax / 127.0 * (1.0 + std::ldexp(1.0, -10)), 1.0 / 65504.0);
      for (std::int64_t k = g; k < g + group; ++k) e[static_cast<std::size_t>(k)] = 0.5 * step;
    }
    for (std::int64_t n = 0; n < N; ++n) {
      double acc = 0, m = 0, xe = 0;
      for (std::int64_t k = 0; k < K; ++k) {
        const double w = W[static_cast<std::size_t>(n * K + k)];
        const double p = w * half_bits_to_float(x[static_cast<std::size_t>(b * K + k)]);
        acc += p;
        m += std::fabs(p);
        xe += std::fabs(w) * e[static_cast<std::size_t>(k)];
      }
      const std::size_t i = static_cast<std::size_t>(b * N + n);
      r.ref[i] = acc;
      r.mag[i] = m;
      r.xerr[i] = xe;
    }
  }
  return r;
}

// Allowed |got − want| for one output: xerr the int8-x bound above; mag = Σ|w·x| of its dot
// product; want the exact value (dot product + residual); yt the output dtype.
double gemv_tolerance(double xerr, double mag, double want, DType yt) {
  // + fp32 arithmetic in another order than the double reference, and the reference's own fp32
  // rounding of each dequantized weight: a few dozen roundings of 2^-24 at most, so 1e-5·Σ|w·x|
  // covers them with room; + one fp16 rounding of the output.
  return xerr + 1e-5 * mag + (yt == DType::f16 ? std::ldexp(std::fabs(want), -10) : 0.0) + 1e-7;
}

TEST(GgufKernels, DequantizeMatchesTheCpuExactly) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  for (DType t : kTypes) {
    for (auto [rows, K] : {std::pair<std::int64_t, std::int64_t>{1, 256}, {37, 768}, {5, 11008}}) {
      const auto w = random_weights(rows * K, static_cast<std::uint64_t>(rows * 7 + K));
      const auto q = gguf_quantize(ggml_of(t), w);
      const auto ref = gguf_dequantize(ggml_of(t), q, w.size());
      DeviceBytes dw(q.size()), dout(w.size() * 2);
      dw.upload(q.data(), q.size());
      kern::gguf_dequantize(t, dw.get(), rows, K, dout.get(), stream);
      stream.synchronize();
      std::vector<std::uint16_t> got(w.size());
      dout.download(got.data(), got.size() * 2);
      std::size_t differ = 0;
      for (std::size_t i = 0; i < got.size(); ++i) differ += got[i] != float_to_half_bits(ref[i]);
      EXPECT_EQ(differ, 0u) << to_string(t) << " rows " << rows << " K " << K;
    }
  }
}

TEST(GgufKernels, GemvMatchesTheCpuReference) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  struct Shape2 {
    std::int64_t N, K;
  };
  for (DType t : kTypes) {
    const std::int64_t be = info(t).block_elems;
    // K = 32 and 96 (q8_0, q4_0 only): rows of 34·K/32 or 18·K/32 bytes, so rows start at every
    // offset mod 16 and the tensor ends off a 16-byte boundary, inside the last lane's 16-byte window.
    for (Shape2 s : {Shape2{1, 256}, Shape2{19, 768}, Shape2{131, 2560}, Shape2{37, 11008}, Shape2{3, 32}, Shape2{5, 96}}) {
      if (s.K % be != 0) continue;
      const auto w = random_weights(s.N * s.K, static_cast<std::uint64_t>(s.N * 3 + s.K));
      const auto q = gguf_quantize(ggml_of(t), w);
      const auto W = gguf_dequantize(ggml_of(t), q, w.size());
      DeviceBytes dw(q.size());
      dw.upload(q.data(), q.size());
      for (int B : {1, 2, 3, 8}) {
        const auto x = random_x(B * s.K, static_cast<std::uint64_t>(B));
        const Reference r = reference_gemv(W, x, s.N, s.K, B, x_scale_group(t));
        const std::vector<double>& ref = r.ref;
        DeviceBytes dx(x.size() * 2), dy(ref.size() * 4);
        dx.upload(x.data(), x.size() * 2);
        for (DType yt : {DType::f32, DType::f16}) {
          kern::gguf_gemv(t, dw.get(), s.N, s.K, dx.get(), B, dy.get(), yt, stream);
          stream.synchronize();
          std::vector<float> got(ref.size());
          if (yt == DType::f32) {
            dy.download(got.data(), got.size() * 4);
          } else {
            std::vector<std::uint16_t> h(ref.size());
            dy.download(h.data(), h.size() * 2);
            for (std::size_t i = 0; i < h.size(); ++i) got[i] = half_bits_to_float(h[i]);
          }
          double worst = 0;
          for (std::size_t i = 0; i < got.size(); ++i) {
            const double tol = gemv_tolerance(r.xerr[i], r.mag[i], ref[i], yt);
            const double err = std::fabs(got[i] - ref[i]);
            worst = std::max(worst, err / tol);
            if (err > tol) {
              ADD_FAILURE() << to_string(t) << " N " << s.N << " K " << s.K << " B " << B << " y " << to_string(yt)
                            << ": y[" << i << "] = " << got[i] << ", reference " << ref[i] << " (tolerance " << tol << ")";
              break;
            }
          }
          std::printf("  gemv %-4s N %5lld K %5lld B %d y %s: worst error %.2f of the tolerance\n",
                      std::string(to_string(t)).c_str(), static_cast<long long>(s.N), static_cast<long long>(s.K), B,
                      std::string(to_string(yt)).c_str(), worst);
        }
      }
    }
  }
}

// x whose largest |x| per group is below 127/65504 (the int8 scale is clamped at fp16's largest
// value), and non-finite x: a NaN or ±inf in a batch row makes that row's outputs NaN (the others
// stay exact).
TEST(GgufKernels, GemvTinyAndNonFiniteX) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  const std::int64_t N = 9, K = 512;
  for (DType t : kTypes) {
    const auto w = random_weights(N * K, 55);
    const auto q = gguf_quantize(ggml_of(t), w);
    const auto W = gguf_dequantize(ggml_of(t), q, w.size());
    DeviceBytes dw(q.size()), dy(static_cast<std::size_t>(3 * N * 4));
    dw.upload(q.data(), q.size());
    // Row 0: tiny values; row 1: a NaN; row 2: +inf.
    std::vector<std::uint16_t> x(static_cast<std::size_t>(3 * K));
    for (std::int64_t k = 0; k < K; ++k) x[static_cast<std::size_t>(k)] = float_to_half_bits(1e-4f * normal01(34, 0, static_cast<std::uint64_t>(k)));
    for (std::int64_t k = K; k < 3 * K; ++k) x[static_cast<std::size_t>(k)] = float_to_half_bits(normal01(34, 1, static_cast<std::uint64_t>(k)));
    x[static_cast<std::size_t>(K + 300)] = 0x7e00;      // NaN
    x[static_cast<std::size_t>(2 * K + 17)] = 0x7c00;   // +inf
    DeviceBytes dx(x.size() * 2);
    dx.upload(x.data(), x.size() * 2);
    kern::gguf_gemv(t, dw.get(), N, K, dx.get(), 3, dy.get(), DType::f32, stream);
    stream.synchronize();
    std::vector<float> got(static_cast<std::size_t>(3 * N));
    dy.download(got.data(), got.size() * 4);
    const Reference r = reference_gemv(W, x, N, K, 1, x_scale_group(t));  // batch row 0 only
    double worst = 0;
    for (std::int64_t n = 0; n < N; ++n) {
      const std::size_t i = static_cast<std::size_t>(n);
      const double tol = gemv_tolerance(r.xerr[i], r.mag[i], r.ref[i], DType::f32);
      worst = std::max(worst, std::fabs(got[i] - r.ref[i]) / tol);
      EXPECT_LE(std::fabs(got[i] - r.ref[i]), tol) << to_string(t) << " tiny x, n " << n;
      EXPECT_TRUE(std::isnan(got[static_cast<std::size_t>(N + n)])) << to_string(t) << " NaN x, n " << n;
      EXPECT_TRUE(std::isnan(got[static_cast<std::size_t>(2 * N + n)])) << to_string(t) << " inf x, n " << n;
    }
    std::printf("  gemv %-4s tiny x: worst error %.2f of the tolerance\n", std::string(to_string(t)).c_str(), worst);
  }
}

// y as a column slice [col0, col0 + N) of a wider [B, ldy] buffer, with the residual read from y
// itself: y[b, col0 + n] = residual + Σ x·W, and the columns outside the slice keep their values.
TEST(GgufKernels, GemvAddsTheResidualIntoAStridedSlice) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  for (DType t : kTypes) {
    const std::int64_t N = 37, K = 768, ldy = 53, col0 = 5;  // odd col0: y only element-aligned
    const auto w = random_weights(N * K, 77);
    const auto q = gguf_quantize(ggml_of(t), w);
    const auto W = gguf_dequantize(ggml_of(t), q, w.size());
    DeviceBytes dw(q.size());
    dw.upload(q.data(), q.size());
    for (int B : {1, 3, 8}) {
      const auto x = random_x(B * K, static_cast<std::uint64_t>(100 + B));
      const Reference r = reference_gemv(W, x, N, K, B, x_scale_group(t));
      DeviceBytes dx(x.size() * 2);
      dx.upload(x.data(), x.size() * 2);
      for (DType yt : {DType::f32, DType::f16}) {
        const std::size_t cells = static_cast<std::size_t>(B * ldy), esz = yt == DType::f32 ? 4 : 2;
        // Initial buffer: values exactly representable in fp16, so both dtypes start from the same numbers.
        std::vector<float> init(cells);
        for (std::size_t i = 0; i < cells; ++i) init[i] = round_to_half(2.0f * normal01(33, static_cast<std::uint64_t>(B), i));
        std::vector<std::uint8_t> raw(cells * esz);
        for (std::size_t i = 0; i < cells; ++i) {
          if (yt == DType::f32) std::memcpy(raw.data() + 4 * i, &init[i], 4);
          else {
            const std::uint16_t h = float_to_half_bits(init[i]);
            std::memcpy(raw.data() + 2 * i, &h, 2);
          }
        }
        DeviceBytes dy(raw.size());
        dy.upload(raw.data(), raw.size());
        void* y = static_cast<char*>(dy.get()) + col0 * static_cast<std::int64_t>(esz);
        kern::gguf_gemv(t, dw.get(), N, K, dx.get(), B, y, yt, stream, /*residual=*/y, ldy);
        stream.synchronize();
        dy.download(raw.data(), raw.size());
        double worst = 0;
        std::size_t untouched_changed = 0;
        for (int b = 0; b < B; ++b)
          for (std::int64_t c = 0; c < ldy; ++c) {
            const std::size_t i = static_cast<std::size_t>(b * ldy + c);
            float got;
            if (yt == DType::f32) std::memcpy(&got, raw.data() + 4 * i, 4);
            else {
              std::uint16_t h;
              std::memcpy(&h, raw.data() + 2 * i, 2);
              got = half_bits_to_float(h);
            }
            if (c < col0 || c >= col0 + N) {
              untouched_changed += got != init[i];
              continue;
            }
            const std::size_t j = static_cast<std::size_t>(b * N + (c - col0));
            const double want = r.ref[j] + init[i];
            const double tol = gemv_tolerance(r.xerr[j], r.mag[j], want, yt);
            const double err = std::fabs(got - want);
            worst = std::max(worst, err / tol);
            if (err > tol)
              ADD_FAILURE() << to_string(t) << " B " << B << " y " << to_string(yt) << ": y[" << b << ", " << c
                            << "] = " << got << ", want " << want << " (tolerance " << tol << ")";
          }
        EXPECT_EQ(untouched_changed, 0u) << to_string(t) << " B " << B << " y " << to_string(yt);
        std::printf("  gemv+residual %-4s B %d y %s ldy %lld: worst error %.2f of the tolerance\n",
                    std::string(to_string(t)).c_str(), B, std::string(to_string(yt)).c_str(),
                    static_cast<long long>(ldy), worst);
      }
    }
  }
}

// gguf_embedding: every element equals round_to_half(CPU value) of the row its id names; ids
// include the first and last rows, repeats, and out-of-range ids (clamped).
TEST(GgufKernels, EmbeddingMatchesTheCpuExactly) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  const std::vector<std::int32_t> ids = {0, 36, 5, 36, 0, 17, 1, 35};
  const std::int64_t rows = 37, T = static_cast<std::int64_t>(ids.size());
  DeviceBytes dids(ids.size() * 4);
  dids.upload(ids.data(), ids.size() * 4);
  for (DType t : kTypes) {
    for (std::int64_t K : {256, 768, 11008}) {
      const auto w = random_weights(rows * K, static_cast<std::uint64_t>(K + 5));
      const auto q = gguf_quantize(ggml_of(t), w);
      const auto ref = gguf_dequantize(ggml_of(t), q, w.size());
      DeviceBytes dw(q.size()), dout(static_cast<std::size_t>(T * K * 2));
      dw.upload(q.data(), q.size());
      kern::gguf_embedding(t, dw.get(), rows, K, static_cast<const std::int32_t*>(dids.get()), T, dout.get(), stream);
      stream.synchronize();
      std::vector<std::uint16_t> got(static_cast<std::size_t>(T * K));
      dout.download(got.data(), got.size() * 2);
      std::size_t differ = 0;
      for (std::int64_t i = 0; i < T; ++i)
        for (std::int64_t k = 0; k < K; ++k)
          differ += got[static_cast<std::size_t>(i * K + k)] !=
                    float_to_half_bits(ref[static_cast<std::size_t>(ids[static_cast<std::size_t>(i)] * K + k)]);
      EXPECT_EQ(differ, 0u) << to_string(t) << " K " << K;
    }
  }
  // Clamping: ids below 0 and ≥ rows read the first and last rows.
  {
    const std::vector<std::int32_t> bad = {-3, 37, 1000};
    DeviceBytes dbad(bad.size() * 4);
    dbad.upload(bad.data(), bad.size() * 4);
    const std::int64_t K = 256;
    const auto w = random_weights(rows * K, 9);
    const auto q = gguf_quantize(GgmlType::Q4_K, w);
    const auto ref = gguf_dequantize(GgmlType::Q4_K, q, w.size());
    DeviceBytes dw(q.size()), dout(bad.size() * K * 2);
    dw.upload(q.data(), q.size());
    kern::gguf_embedding(DType::q4_k, dw.get(), rows, K, static_cast<const std::int32_t*>(dbad.get()), 3, dout.get(), stream);
    stream.synchronize();
    std::vector<std::uint16_t> got(bad.size() * K);
    dout.download(got.data(), got.size() * 2);
    const std::int64_t row_of[] = {0, rows - 1, rows - 1};
    std::size_t differ = 0;
    for (std::int64_t i = 0; i < 3; ++i)
      for (std::int64_t k = 0; k < K; ++k)
        differ += got[static_cast<std::size_t>(i * K + k)] != float_to_half_bits(ref[static_cast<std::size_t>(row_of[i] * K + k)]);
    EXPECT_EQ(differ, 0u) << "clamped ids";
  }
  // f16 rows: a copy, through the 16-byte path (K = 64) and the per-element one (K = 13, and W off
  // 16-byte alignment).
  for (auto [K, shift] : {std::pair<std::int64_t, std::size_t>{64, 0}, {13, 0}, {64, 2}}) {
    std::vector<std::uint16_t> w = random_x(rows * K, static_cast<std::uint64_t>(K));
    DeviceBytes dw(w.size() * 2 + 16), dout(static_cast<std::size_t>(T * K * 2));
    CUDA_CHECK(cudaMemcpy(static_cast<char*>(dw.get()) + shift, w.data(), w.size() * 2, cudaMemcpyHostToDevice));
    kern::gguf_embedding(DType::f16, static_cast<char*>(dw.get()) + shift, rows, K,
                         static_cast<const std::int32_t*>(dids.get()), T, dout.get(), stream);
    stream.synchronize();
    std::vector<std::uint16_t> got(static_cast<std::size_t>(T * K));
    dout.download(got.data(), got.size() * 2);
    std::size_t differ = 0;
    for (std::int64_t i = 0; i < T; ++i)
      for (std::int64_t k = 0; k < K; ++k)
        differ += got[static_cast<std::size_t>(i * K + k)] != w[static_cast<std::size_t>(ids[static_cast<std::size_t>(i)] * K + k)];
    EXPECT_EQ(differ, 0u) << "f16 K " << K << " shift " << shift;
  }
}

// gguf_dequantize of a row range that starts mid-tensor: rows of 102 (q8_0, K = 96), 54 (q4_0,
// K = 96) and 9030 (q6_k, K = 11008) bytes put row 1 off 4-byte alignment; the tensor is also
// placed so that the first decoded row sits at 2 and 6 mod 16 (q4_k's 144-byte rows only through
// that placement).
TEST(GgufKernels, DequantizeFromATwoByteAlignedRow) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  for (DType t : kTypes) {
    const std::int64_t K = t == DType::q6_k ? 11008 : t == DType::q4_k ? 256 : 96, rows = 5, r0 = 1;
    const auto w = random_weights(rows * K, static_cast<std::uint64_t>(K + 11));
    const auto q = gguf_quantize(ggml_of(t), w);
    const auto ref = gguf_dequantize(ggml_of(t), q, w.size());
    const std::int64_t rb = kern::gguf_row_bytes(t, K);
    for (std::int64_t target : {2, 6}) {
      const std::int64_t shift = ((target - r0 * rb) % 16 + 16) % 16;  // even: rb is even
      DeviceBytes dw(q.size() + 16), dout(static_cast<std::size_t>((rows - r0) * K * 2));
      CUDA_CHECK(cudaMemcpy(static_cast<char*>(dw.get()) + shift, q.data(), q.size(), cudaMemcpyHostToDevice));
      const void* src = static_cast<const char*>(dw.get()) + shift + r0 * rb;
      ASSERT_EQ(reinterpret_cast<std::uintptr_t>(src) % 16, static_cast<std::uintptr_t>(target));
      kern::gguf_dequantize(t, src, rows - r0, K, dout.get(), stream);
      stream.synchronize();
      std::vector<std::uint16_t> got(static_cast<std::size_t>((rows - r0) * K));
      dout.download(got.data(), got.size() * 2);
      std::size_t differ = 0;
      for (std::size_t i = 0; i < got.size(); ++i) differ += got[i] != float_to_half_bits(ref[static_cast<std::size_t>(r0 * K) + i]);
      EXPECT_EQ(differ, 0u) << to_string(t) << " K " << K << " address mod 16 = " << target;
    }
  }
}

TEST(GgufKernels, BadRequestsAreErrors) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  DeviceBytes dw(4096), dx(4096), dy(4096);
  EXPECT_THROW(kern::gguf_gemv(DType::q8_0, dw.get(), 4, 100, dx.get(), 1, dy.get(), DType::f32, stream), InvalidInput);
  EXPECT_THROW(kern::gguf_gemv(DType::q4_k, dw.get(), 4, 32, dx.get(), 1, dy.get(), DType::f32, stream), InvalidInput);
  EXPECT_THROW(kern::gguf_gemv(DType::q8_0, dw.get(), 4, 32, dx.get(), 9, dy.get(), DType::f32, stream), InvalidInput);
  EXPECT_THROW(kern::gguf_gemv(DType::q8_0, static_cast<char*>(dw.get()) + 2, 4, 32, dx.get(), 1, dy.get(), DType::f32, stream),
               InvalidInput);
  EXPECT_THROW(kern::gguf_gemv(DType::f16, dw.get(), 4, 32, dx.get(), 1, dy.get(), DType::f32, stream), Unsupported);
  EXPECT_THROW(kern::gguf_gemv(DType::q8_0, dw.get(), 4, 32, dx.get(), 1, dy.get(), DType::bf16, stream), Unsupported);
  EXPECT_THROW(kern::gguf_dequantize(DType::q6_k, dw.get(), 0, 256, dy.get(), stream), InvalidInput);
  EXPECT_THROW(kern::gguf_gemv(DType::q8_0, dw.get(), 4, 32, dx.get(), 1, dy.get(), DType::f32, stream, nullptr, 3),
               InvalidInput);  // ldy < N
  const auto* ids = static_cast<const std::int32_t*>(dx.get());
  EXPECT_THROW(kern::gguf_embedding(DType::q4_k, dw.get(), 4, 32, ids, 1, dy.get(), stream), InvalidInput);
  EXPECT_THROW(kern::gguf_embedding(DType::q8_0, dw.get(), 4, 32, ids, 1, static_cast<char*>(dy.get()) + 2, stream),
               InvalidInput);
  EXPECT_THROW(kern::gguf_embedding(DType::f32, dw.get(), 4, 32, ids, 1, dy.get(), stream), Unsupported);
}

// Llama-2-7B's matrices, per type, at B = 1 and 8: GB/s of weights + x + y moved per call. Four
// copies of the weights are cycled so that each call reads from HBM, not from L2.
TEST(GgufKernels, DISABLED_Throughput) {
  VRAMFIT_REQUIRE_GPU();
  cuda::Stream stream;
  cuda::Event start, stop;
  struct M {
    const char* name;
    std::int64_t N, K;
  };
  for (DType t : kTypes)
    for (M m : {M{"attn 4096x4096", 4096, 4096}, M{"ffn_up 11008x4096", 11008, 4096}, M{"ffn_down 4096x11008", 4096, 11008},
                M{"output 32000x4096", 32000, 4096}}) {
      const std::int64_t bytes = kern::gguf_row_bytes(t, m.K) * m.N;
      // Bytes 0x11 everywhere: every fp16 scale is 0x1111 (finite), so no NaNs enter the arithmetic.
      std::vector<std::unique_ptr<DeviceBytes>> copies;
      for (int c = 0; c < 4; ++c) {
        copies.push_back(std::make_unique<DeviceBytes>(static_cast<std::size_t>(bytes)));
        CUDA_CHECK(cudaMemset(copies.back()->get(), 0x11, static_cast<std::size_t>(bytes)));
      }
      for (int B : {1, 8}) {
        DeviceBytes dx(static_cast<std::size_t>(B * m.K * 2)), dy(static_cast<std::size_t>(B * m.N * 2));
        CUDA_CHECK(cudaMemset(dx.get(), 0, static_cast<std::size_t>(B * m.K * 2)));
        for (int i = 0; i < 8; ++i) kern::gguf_gemv(t, copies[static_cast<std::size_t>(i % 4)]->get(), m.N, m.K, dx.get(), B, dy.get(), DType::f16, stream);
        const int reps = 40;
        start.record(stream);
        for (int i = 0; i < reps; ++i)
          kern::gguf_gemv(t, copies[static_cast<std::size_t>(i % 4)]->get(), m.N, m.K, dx.get(), B, dy.get(), DType::f16, stream);
        stop.record(stream);
        stop.synchronize();
        const double ms = cuda::Event::elapsed_ms(start, stop) / reps;
        const double moved = static_cast<double>(bytes) + 2.0 * B * (static_cast<double>(m.K) + static_cast<double>(m.N));
        std::printf("  %-4s %-20s B %d: %8.1f us  %7.1f GB/s\n", std::string(to_string(t)).c_str(), m.name, B, ms * 1e3,
                    moved / (ms * 1e-3) / 1e9);
      }
    }
}

}  // namespace
}  // namespace vramfit
