// tests/gpu/test_gguf_kernels.cpp — the GGUF block kernels (backend/cuda/kernels/gguf_gemv.cuh)
// against the CPU dequantization (weights/gguf_quant.h), which the gguf Python package confirms
// (tests/weights/gguf_python_test.cpp).
//
//   * gguf_dequantize: every element equals round_to_half(CPU value) exactly (the kernel decodes with
//     the reference's rounding order).
//   * gguf_gemv: y = x·Wᵀ against a double-precision sum over the CPU-dequantized W and the fp16 x,
//     at awkward shapes: N = 1, 19, 37, 131 (a partial last CTA), K = 256, 768, 2560 (a partial last
//     1024-chunk) and 11008 (Llama's FFN; Q6_K rows of 9030 bytes start at every offset mod 16 and
//     the tensor ends off a 16-byte boundary), B = 1, 2, 3, 8; fp32 and fp16 outputs.
//     Tolerance: |got − ref| ≤ 1e-5·Σ|w·x| (fp32 accumulation in another order) + 2^-10·|ref| for
//     an fp16 output; every case prints the share of the tolerance it used.
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
    for (Shape2 s : {Shape2{1, 256}, Shape2{19, 768}, Shape2{131, 2560}, Shape2{37, 11008}}) {
      if (s.K % be != 0) continue;
      const auto w = random_weights(s.N * s.K, static_cast<std::uint64_t>(s.N * 3 + s.K));
      const auto q = gguf_quantize(ggml_of(t), w);
      const auto W = gguf_dequantize(ggml_of(t), q, w.size());
      DeviceBytes dw(q.size());
      dw.upload(q.data(), q.size());
      for (int B : {1, 2, 3, 8}) {
        const auto x = random_x(B * s.K, static_cast<std::uint64_t>(B));
        std::vector<double> ref(static_cast<std::size_t>(B * s.N)), mag(ref.size());
        for (int b = 0; b < B; ++b)
          for (std::int64_t n = 0; n < s.N; ++n) {
            double acc = 0, m = 0;
            for (std::int64_t k = 0; k < s.K; ++k) {
              const double p = static_cast<double>(W[static_cast<std::size_t>(n * s.K + k)]) *
                               half_bits_to_float(x[static_cast<std::size_t>(b * s.K + k)]);
              acc += p;
              m += std::fabs(p);
            }
            ref[static_cast<std::size_t>(b * s.N + n)] = acc;
            mag[static_cast<std::size_t>(b * s.N + n)] = m;
          }
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
            const double tol = 1e-5 * mag[i] + (yt == DType::f16 ? std::ldexp(std::fabs(ref[i]), -10) : 0.0) + 1e-7;
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
