// bench/llm_kernels_bench.cu — timing of the LLM kernels at llama-7b shapes, next to their floors.
// Target `bench_llm_kernels` (built whenever CUDA is on). No arguments; prints a plain-text report:
//
//   1. the device, and its measured copy bandwidth (cudaMemcpy device→device of 1 GiB: bytes read +
//      written per second) — the floor every memory-bound line below is compared with;
//   2. GEMV at batch 1 (and 8) for fp16, int8 and int4 weights at every llama-7b matrix shape: time,
//      weight GB/s and % of the copy bandwidth; then the per-token sum over 32 layers + lm_head —
//      ms/token and tokens/s — next to the floor weight_bytes / copy bandwidth (fp16 13.5 GB → ~3.3 ms);
//   3. decode attention (llama-7b: 32 heads, d 128; llama3-8b: 32/8 GQA) at context 512 and 4096,
//      batch 1: time per layer and cache GB/s;
//   4. prefill at 512 tokens: causal attention (TFLOP/s) and the int8/int4 dequantising GEMM vs
//      cuBLASLt fp16 on the same shape.
//
// Honest timing (STYLE.md): CUDA events around 50–200 launches; the weights / caches of many
// "layers" are cycled so that their total is ≥ 4× the L2 cache, as in a real decode step, and no
// line measures L2-resident data.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/device.h"
#include "backend/cuda/kernels/llm_decode_attention.cuh"
#include "backend/cuda/kernels/llm_gemm_dequant.cuh"
#include "backend/cuda/kernels/llm_gemv.cuh"
#include "backend/cuda/kernels/llm_prefill_attention.cuh"

namespace vf = vramfit;
namespace kern = vramfit::cuda::kernels;
using I64 = std::int64_t;

namespace {

// Fills `bytes` with small fp16 values (|v| < 0.06, finite) — valid int8 / int4 data too.
__global__ void fill_kernel(std::uint16_t* p, std::uint64_t count, std::uint32_t seed) {
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u ^ seed;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    p[i] = static_cast<std::uint16_t>((h & 0x83ffu) | 0x2800u);  // sign, mantissa; exponent 2^-5
  }
}

struct DevBuf {
  void* p = nullptr;
  std::uint64_t bytes = 0;
  explicit DevBuf(std::uint64_t b, std::uint32_t seed = 1) : bytes(b) {
    CUDA_CHECK(cudaMalloc(&p, b + 256));
    fill_kernel<<<1024, 256>>>(static_cast<std::uint16_t*>(p), (b + 256) / 2, seed);
    CUDA_CHECK(cudaGetLastError());
  }
  ~DevBuf() { (void)cudaFree(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  template <class T = void> T* at(std::uint64_t off = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(p) + off);
  }
};

// Mean milliseconds of fn(i) over `iters` launches after a warm-up.
template <class F> double time_ms(cudaStream_t s, int iters, F&& fn) {
  for (int i = 0; i < 3; ++i) fn(i);
  vf::cuda::Event a, b;
  a.record(s);
  for (int i = 0; i < iters; ++i) fn(i);
  b.record(s);
  b.synchronize();
  return static_cast<double>(vf::cuda::Event::elapsed_ms(a, b)) / iters;
}

double copy_bandwidth(cudaStream_t s) {
  const std::uint64_t bytes = 1ull << 30;
  DevBuf src(bytes), dst(bytes);
  const double ms = time_ms(s, 10, [&](int) {
    CUDA_CHECK(cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, s));
  });
  return 2.0 * static_cast<double>(bytes) / (ms * 1e-3);  // read + write
}

std::uint64_t weight_bytes(vf::DType dt, I64 n, I64 k) {
  if (dt == vf::DType::i8) return static_cast<std::uint64_t>(n * k + 2 * n);
  if (dt == vf::DType::i4) return static_cast<std::uint64_t>(n * k / 2 + 2 * n * (k / 128));
  return static_cast<std::uint64_t>(2 * n * k);
}
const char* fmt_name(vf::DType dt) { return dt == vf::DType::i8 ? "int8" : (dt == vf::DType::i4 ? "int4" : "fp16"); }

struct Mat {
  const char* name;
  I64 n, k;
  int per_token;  // how many of these one token reads (32 layers × …, lm_head once)
};

// GEMV time (ms) of one [n, k] matrix in format dt at batch `batch`, weights cycled over ≥ 4×L2.
double gemv_ms(cudaStream_t s, vf::DType dt, I64 n, I64 k, I64 batch, std::uint64_t l2) {
  const std::uint64_t wb = weight_bytes(dt, n, k);
  const std::uint64_t stride = (wb + 255) / 256 * 256;
  const int copies = static_cast<int>(std::max<std::uint64_t>(2, (4 * l2 + stride - 1) / stride));
  DevBuf w(stride * copies, 7);
  DevBuf x(static_cast<std::uint64_t>(batch * k * 2), 3), y(static_cast<std::uint64_t>(batch * n * 2));
  const int iters = std::max(50, 4 * copies);
  return time_ms(s, iters, [&](int i) {
    const char* base = w.at<char>(static_cast<std::uint64_t>(i % copies) * stride);
    // The scales follow the data in the same copy (their bytes are counted in wb).
    const I64 data_bytes = dt == vf::DType::i8 ? n * k : (dt == vf::DType::i4 ? n * k / 2 : 2 * n * k);
    const kern::LlmWeights lw{dt, base, dt == vf::DType::f16 ? nullptr : base + data_bytes, n, k};
    kern::llm_gemv(vf::DType::f16, lw, x.p, batch, nullptr, y.p, s);
  });
}

}  // namespace

int main() {
  try {
    const auto info = vf::cuda::query(0);
    std::printf("device: %s\n", info.summary().c_str());
    vf::cuda::Stream stream;
    cudaStream_t s = stream.get();
    const double bw = copy_bandwidth(s);
    std::printf("copy bandwidth (cudaMemcpy D2D 1 GiB, read+write): %.0f GB/s; theoretical %.0f GB/s\n\n", bw / 1e9,
                info.peak_bandwidth_bytes_per_s() / 1e9);
    const std::uint64_t l2 = std::max<std::uint64_t>(info.l2_bytes, 8ull << 20);

    // ---- GEMV ----
    const Mat mats[] = {{"q/k/v/o 4096x4096", 4096, 4096, 32 * 4},
                        {"gate/up 11008x4096", 11008, 4096, 32 * 2},
                        {"down 4096x11008", 4096, 11008, 32},
                        {"lm_head 32000x4096", 32000, 4096, 1},
                        {"fused qkv 12288x4096", 12288, 4096, 0},
                        {"fused gate_up 22016x4096", 22016, 4096, 0}};
    for (I64 batch : {1, 8}) {
      std::printf("GEMV, batch %lld (y = x·Wᵀ, fp16 activations)\n", static_cast<long long>(batch));
      std::printf("  %-26s %-5s %10s %10s %8s\n", "matrix", "fmt", "time us", "GB/s", "% copy");
      for (vf::DType dt : {vf::DType::f16, vf::DType::i8, vf::DType::i4}) {
        double token_ms = 0.0, token_bytes = 0.0;
        for (const Mat& m : mats) {
          const double ms = gemv_ms(s, dt, m.n, m.k, batch, l2);
          const double bytes = static_cast<double>(weight_bytes(dt, m.n, m.k));
          std::printf("  %-26s %-5s %10.2f %10.0f %7.1f%%\n", m.name, fmt_name(dt), ms * 1e3, bytes / (ms * 1e-3) / 1e9,
                      100.0 * bytes / (ms * 1e-3) / bw);
          token_ms += m.per_token * ms;
          token_bytes += m.per_token * bytes;
        }
        const double floor_ms = token_bytes / bw * 1e3;
        std::printf("  => llama-7b %s, batch %lld: GEMVs %.3f ms/token (%.0f tokens/s); floor %.3f ms (%.2f GB / copy "
                    "bandwidth, %.0f tokens/s): %.0f%% of the floor\n\n",
                    fmt_name(dt), static_cast<long long>(batch), token_ms, 1e3 / token_ms, floor_ms, token_bytes / 1e9,
                    1e3 / floor_ms, 100.0 * floor_ms / token_ms);
      }
    }

    // ---- decode attention ----
    std::printf("decode attention, batch 1 (one layer; cache cycled over >= 4x L2)\n");
    std::printf("  %-22s %8s %7s %10s %10s %8s\n", "model", "context", "splits", "time us", "GB/s", "% copy");
    struct AttnCase {
      const char* name;
      I64 heads, kv_heads;
    };
    for (const AttnCase& c : {AttnCase{"llama-7b (32/32)", 32, 32}, AttnCase{"llama3-8b (32/8)", 32, 8}})
      for (I64 ctx : {512, 4096}) {
        kern::DecodeAttentionArgs a;
        a.heads = c.heads;
        a.kv_heads = c.kv_heads;
        a.head_dim = 128;
        a.max_ctx = ctx;
        const int splits = kern::decode_attention_splits(a, info.sm_count);
        const std::uint64_t cache = static_cast<std::uint64_t>(c.kv_heads * ctx * 128 * 2);
        const int copies = static_cast<int>(std::max<std::uint64_t>(2, 4 * l2 / cache + 1));
        DevBuf k(cache * copies, 5), v(cache * copies, 6), q(c.heads * 128 * 2, 8), o(c.heads * 128 * 2);
        DevBuf scratch(std::max<std::uint64_t>(kern::decode_attention_scratch_bytes(a, splits), 16));
        std::vector<std::int32_t> len = {static_cast<std::int32_t>(ctx)};
        DevBuf lens(16);
        CUDA_CHECK(cudaMemcpy(lens.p, len.data(), 4, cudaMemcpyHostToDevice));
        a.seq_lens = lens.at<std::int32_t>();
        const double ms = time_ms(s, std::max(100, 4 * copies), [&](int i) {
          const std::uint64_t off = static_cast<std::uint64_t>(i % copies) * cache;
          kern::decode_attention(vf::DType::f16, q.p, k.at(off), v.at(off), o.p, a, splits, scratch.p, s);
        });
        const double bytes = 2.0 * static_cast<double>(cache);
        std::printf("  %-22s %8lld %7d %10.2f %10.0f %7.1f%%\n", c.name, static_cast<long long>(ctx), splits, ms * 1e3,
                    bytes / (ms * 1e-3) / 1e9, 100.0 * bytes / (ms * 1e-3) / bw);
      }

    // ---- prefill ----
    std::printf("\nprefill, 512 tokens, llama-7b shapes\n");
    {
      const I64 T = 512, H = 32, d = 128;
      kern::PrefillAttentionArgs a;
      a.q_len = a.kv_len = T;
      a.heads = a.kv_heads = H;
      a.head_dim = d;
      a.q = a.k = a.v = {T * 3 * H * d, 3 * H * d, d};
      a.o = {T * H * d, H * d, d};
      DevBuf qkv(static_cast<std::uint64_t>(T * 3 * H * d * 2), 9), out(static_cast<std::uint64_t>(T * H * d * 2));
      const double ms = time_ms(s, 50, [&](int) {
        kern::prefill_attention(vf::DType::f16, qkv.p, qkv.at(H * d * 2), qkv.at(2 * H * d * 2), out.p, a, s);
      });
      const double flops = 2.0 * H * d * static_cast<double>(T) * static_cast<double>(T + 1);  // causal pairs × 4d
      std::printf("  causal attention, one layer (H 32, d 128): %.1f us, %.1f TFLOP/s (x32 layers: %.2f ms)\n",
                  ms * 1e3, flops / (ms * 1e-3) / 1e12, 32 * ms);
    }
    {
      vf::cuda::CublasLtHandle lt;
      const I64 m = 512;
      for (const Mat& mt : {mats[0], mats[1], mats[2]}) {
        vf::cuda::LinearParams p;
        p.m = m;
        p.n = mt.n;
        p.k = mt.k;
        p.dtype = vf::DType::f16;
        vf::cuda::LinearRunner fp16(lt.get(), p, 32ull << 20);
        DevBuf x(static_cast<std::uint64_t>(m * mt.k * 2), 2), w(static_cast<std::uint64_t>(mt.n * mt.k * 2), 4),
            y(static_cast<std::uint64_t>(m * mt.n * 2)), ws(32ull << 20);
        const double ms16 = time_ms(s, 50, [&](int) { fp16.run(s, x.p, w.p, nullptr, nullptr, y.p, ws.p); });
        const double flops = 2.0 * static_cast<double>(m * mt.n) * static_cast<double>(mt.k);
        std::printf("  %-26s cuBLASLt fp16 %8.1f us (%5.0f TFLOP/s)", mt.name, ms16 * 1e3, flops / (ms16 * 1e-3) / 1e12);
        for (vf::DType dt : {vf::DType::i8, vf::DType::i4}) {
          for (I64 tile : {I64{0}, I64{1024}}) {
            kern::DequantGemm g(lt.get(), vf::DType::f16, dt, m, mt.n, mt.k, tile, false);
            DevBuf scratch(g.scratch_bytes());
            const std::uint64_t data = dt == vf::DType::i8 ? mt.n * mt.k : mt.n * mt.k / 2;
            const kern::LlmWeights lw{dt, w.p, w.at(data), mt.n, mt.k};
            const double ms = time_ms(s, 50, [&](int) { g.run(s, x.p, lw, nullptr, y.p, scratch.p); });
            std::printf(" | %s tile %-5lld %8.1f us", fmt_name(dt), static_cast<long long>(g.tile_rows()), ms * 1e3);
          }
        }
        std::printf("\n");
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_llm_kernels: %s\n", e.what());
    return 1;
  }
}
