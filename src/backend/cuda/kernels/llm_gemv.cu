// backend/cuda/kernels/llm_gemv.cu — see llm_gemv.cuh.
#include "backend/cuda/kernels/llm_gemv.cuh"

#include "backend/cuda/kernels/llm_common.cuh"
#include "weights/quant_int.h"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

constexpr int kRowsPerBlock = 8;  // one warp per row
constexpr int kBlock = 32 * kRowsPerBlock;
constexpr int kUnroll = 4;        // 16-byte weight vectors in flight per lane

enum class WKind { Half, Int8, Int4 };

// Weights per 16-byte vector.
template <WKind W> inline constexpr int kPerVec = W == WKind::Half ? 8 : (W == WKind::Int8 ? 16 : 32);

// Eight consecutive activations as fp32 from one 16-byte load (read-only path: x is shared by all warps).
template <class T> __device__ __forceinline__ void load_x8(const T* p, float (&f)[8]) {
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  const std::uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if constexpr (std::is_same_v<T, __half>) {
      __half2 h;
      memcpy(&h, &w[i], 4);
      const float2 v = __half22float2(h);
      f[2 * i] = v.x;
      f[2 * i + 1] = v.y;
    } else {  // bf16 → fp32 is a 16-bit shift
      f[2 * i] = __uint_as_float(w[i] << 16);
      f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
  }
}

// Chunk c (8 consecutive weights) of the 16-byte weight vector `wv` as fp32, in column order.
// Half: the stored weights. Int8: the integers q (the row's scale is applied once at the end). Int4:
// nibble − 8 (the group's scale multiplies the vector's partial sums). Integers become floats with the
// exponent trick — OR the bits into the mantissa of 2²³, subtract 2²³ (+ the bias) — exact, and no
// integer→float conversion instructions (quarter rate on recent SMs).
template <class T, WKind W> __device__ __forceinline__ void weights8(const uint4& wv, int c, float (&f)[8]) {
  const std::uint32_t w[4] = {wv.x, wv.y, wv.z, wv.w};
  if constexpr (W == WKind::Half) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if constexpr (std::is_same_v<T, __half>) {
        __half2 h;
        memcpy(&h, &w[i], 4);
        const float2 v = __half22float2(h);
        f[2 * i] = v.x;
        f[2 * i + 1] = v.y;
      } else {
        f[2 * i] = __uint_as_float(w[i] << 16);
        f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
      }
    }
  } else if constexpr (W == WKind::Int8) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {  // words 2c, 2c+1: columns 8c + 4i + j in byte j
      const std::uint32_t biased = w[2 * c + i] ^ 0x80808080u;  // q + 128 in each byte
#pragma unroll
      for (int j = 0; j < 4; ++j)
        f[4 * i + j] = __uint_as_float(__byte_perm(biased, 0x4b000000u, 0x7440u + j)) - 8388736.0f;  // 2^23 + 128
    }
  } else {
    const std::uint32_t word = w[c];  // columns 8c … 8c+7: column 8c + 2j in byte j's low nibble, 2j+1 high
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      f[2 * j] = __uint_as_float(((word >> (8 * j)) & 0xfu) | 0x4b000000u) - 8388616.0f;  // 2^23 + 8
      f[2 * j + 1] = __uint_as_float(((word >> (8 * j + 4)) & 0xfu) | 0x4b000000u) - 8388616.0f;
    }
  }
}

__device__ __forceinline__ uint4 load_stream(const uint4* p) { return __ldcs(p); }

// Vector kernel: warp = row; lane l takes vectors l, l + 32, … of the row, kUnroll at a time.
template <class T, WKind W, int B>
__global__ void __launch_bounds__(kBlock) gemv_kernel(const T* __restrict__ x, const std::uint8_t* __restrict__ w,
                                                      const __half* __restrict__ scale, const T* residual, T* y,
                                                      int n, int k, int batch) {
  constexpr int E = kPerVec<W>;
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int row = static_cast<int>(blockIdx.x) * kRowsPerBlock + (static_cast<int>(threadIdx.x) >> 5);
  if (row >= n) return;
  const int vecs = k / E;
  const std::int64_t row_bytes = W == WKind::Half ? 2ll * k : (W == WKind::Int8 ? k : k / 2);
  const uint4* wr = reinterpret_cast<const uint4*>(w + row * row_bytes);
  const __half* srow = W == WKind::Int4 ? scale + static_cast<std::int64_t>(row) * (k / 128) : nullptr;

  float acc[B];
#pragma unroll
  for (int b = 0; b < B; ++b) acc[b] = 0.0f;

  for (int base = 0; base < vecs; base += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int v = base + u * 32 + lane;
      if (v < vecs) wv[u] = load_stream(wr + v);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int v = base + u * 32 + lane;
      if (v < vecs) {
        // Dequantise each 8-weight chunk once, use it for every batch row.
        float part[B];
#pragma unroll
        for (int b = 0; b < B; ++b) part[b] = 0.0f;
#pragma unroll
        for (int c = 0; c < E / 8; ++c) {
          float wf[8];
          weights8<T, W>(wv[u], c, wf);
#pragma unroll
          for (int b = 0; b < B; ++b) {
            const int bb = b < batch ? b : batch - 1;  // rows past `batch` repeat the last one (not stored)
            float xf[8];
            load_x8(x + static_cast<std::int64_t>(bb) * k + static_cast<std::int64_t>(v) * E + 8 * c, xf);
#pragma unroll
            for (int j = 0; j < 8; ++j) part[b] = fmaf(wf[j], xf[j], part[b]);
          }
        }
        if constexpr (W == WKind::Int4) {
          const float s = __half2float(srow[v / 4]);  // 4 vectors of 32 = one group of 128
#pragma unroll
          for (int b = 0; b < B; ++b) acc[b] = fmaf(s, part[b], acc[b]);
        } else {
#pragma unroll
          for (int b = 0; b < B; ++b) acc[b] += part[b];
        }
      }
    }
  }
  const float row_scale = W == WKind::Int8 ? __half2float(scale[row]) : 1.0f;
#pragma unroll
  for (int b = 0; b < B; ++b) {
    const float sum = detail::warp_sum(acc[b]) * row_scale;
    if (lane == 0 && b < batch) {
      const std::int64_t o = static_cast<std::int64_t>(b) * n + row;
      y[o] = detail::from_float<T>(residual != nullptr ? sum + to_float(residual[o]) : sum);
    }
  }
}

// Scalar kernel (unaligned pointers, k not a multiple of the vector): warp = row, lane = column stride.
template <class T>
__global__ void __launch_bounds__(kBlock) gemv_scalar_kernel(const T* __restrict__ x, const std::uint8_t* __restrict__ w,
                                                             const __half* __restrict__ scale, const T* residual, T* y,
                                                             int n, int k, int batch, int kind) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int row = static_cast<int>(blockIdx.x) * kRowsPerBlock + (static_cast<int>(threadIdx.x) >> 5);
  if (row >= n) return;
  float acc[kGemvMaxBatch];
#pragma unroll
  for (int b = 0; b < kGemvMaxBatch; ++b) acc[b] = 0.0f;
  for (int c = lane; c < k; c += 32) {
    const std::int64_t e = static_cast<std::int64_t>(row) * k + c;
    float wf;
    if (kind == 0) {
      wf = to_float(reinterpret_cast<const T*>(w)[e]);
    } else if (kind == 1) {
      wf = static_cast<float>(static_cast<std::int8_t>(w[e])) * __half2float(scale[row]);
    } else {
      const std::uint8_t byte = w[e / 2];
      const int nib = (c & 1) ? (byte >> 4) : (byte & 0xf);
      wf = static_cast<float>(nib - 8) * __half2float(scale[static_cast<std::int64_t>(row) * (k / 128) + c / 128]);
    }
#pragma unroll
    for (int b = 0; b < kGemvMaxBatch; ++b)
      if (b < batch) acc[b] = fmaf(wf, to_float(x[static_cast<std::int64_t>(b) * k + c]), acc[b]);
  }
#pragma unroll
  for (int b = 0; b < kGemvMaxBatch; ++b) {
    const float sum = detail::warp_sum(acc[b]);
    if (lane == 0 && b < batch) {
      const std::int64_t o = static_cast<std::int64_t>(b) * n + row;
      y[o] = detail::from_float<T>(residual != nullptr ? sum + to_float(residual[o]) : sum);
    }
  }
}

template <class T, WKind W>
void launch_vec(const LlmWeights& w, const void* x, int batch, const void* residual, void* y, cudaStream_t stream) {
  const unsigned grid = static_cast<unsigned>((w.n + kRowsPerBlock - 1) / kRowsPerBlock);
  const auto* xp = static_cast<const T*>(x);
  const auto* wp = static_cast<const std::uint8_t*>(w.data);
  const auto* sp = static_cast<const __half*>(w.scale);
  const auto* rp = static_cast<const T*>(residual);
  auto* yp = static_cast<T*>(y);
  const int n = static_cast<int>(w.n), k = static_cast<int>(w.k);
  if (batch == 1) gemv_kernel<T, W, 1><<<grid, kBlock, 0, stream>>>(xp, wp, sp, rp, yp, n, k, batch);
  else if (batch == 2) gemv_kernel<T, W, 2><<<grid, kBlock, 0, stream>>>(xp, wp, sp, rp, yp, n, k, batch);
  else if (batch <= 4) gemv_kernel<T, W, 4><<<grid, kBlock, 0, stream>>>(xp, wp, sp, rp, yp, n, k, batch);
  else gemv_kernel<T, W, 8><<<grid, kBlock, 0, stream>>>(xp, wp, sp, rp, yp, n, k, batch);
}

}  // namespace

std::optional<std::string> llm_gemv_unsupported(DType act, const LlmWeights& w, std::int64_t batch) {
  if (act != DType::f16 && act != DType::bf16)
    return "llm_gemv: activations must be f16 or bf16, not " + std::string(to_string(act));
  if (w.dtype != act && w.dtype != DType::i8 && w.dtype != DType::i4)
    return "llm_gemv: weights " + std::string(to_string(w.dtype)) + " with " + std::string(to_string(act)) +
           " activations (16-bit weights must match the activations; else i8 or i4)";
  if (batch < 1 || batch > kGemvMaxBatch)
    return "llm_gemv: batch " + std::to_string(batch) + " outside 1 … " + std::to_string(kGemvMaxBatch) +
           " (use the prefill GEMM)";
  if (w.dtype == DType::i4 && w.k % kInt4GroupSize != 0)
    return "llm_gemv: int4 weights need k a multiple of 128, got " + std::to_string(w.k);
  if (w.n > 0x7fffffff || w.k > 0x7fffffff) return "llm_gemv: n or k beyond 2^31";
  return std::nullopt;
}

void llm_gemv(DType act, const LlmWeights& w, const void* x, std::int64_t batch, const void* residual, void* y,
              cudaStream_t stream) {
  llm::require(w.n > 0 && w.k > 0, "llm_gemv: n and k must be positive");
  if (auto why = llm_gemv_unsupported(act, w, batch)) throw Unsupported(*why);
  const bool quant = w.dtype == DType::i8 || w.dtype == DType::i4;
  llm::require(w.data != nullptr && x != nullptr && y != nullptr && (!quant || w.scale != nullptr),
               "llm_gemv: null weights, x, y or scales");
  const int per_vec = w.dtype == DType::i4 ? 32 : (w.dtype == DType::i8 ? 16 : 8);
  const bool vec = w.k % per_vec == 0 && detail::aligned16(w.data) && detail::aligned16(x) &&
                   w.k % 8 == 0;  // x rows (k·2 bytes apart) stay 16-byte aligned
  const int b = static_cast<int>(batch);
  llm::dispatch_16bit(act, "llm_gemv", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (vec) {
      if (w.dtype == DType::i8) launch_vec<T, WKind::Int8>(w, x, b, residual, y, stream);
      else if (w.dtype == DType::i4) launch_vec<T, WKind::Int4>(w, x, b, residual, y, stream);
      else launch_vec<T, WKind::Half>(w, x, b, residual, y, stream);
    } else {
      const int kind = w.dtype == DType::i8 ? 1 : (w.dtype == DType::i4 ? 2 : 0);
      const unsigned grid = static_cast<unsigned>((w.n + kRowsPerBlock - 1) / kRowsPerBlock);
      gemv_scalar_kernel<T><<<grid, kBlock, 0, stream>>>(
          static_cast<const T*>(x), static_cast<const std::uint8_t*>(w.data), static_cast<const __half*>(w.scale),
          static_cast<const T*>(residual), static_cast<T*>(y), static_cast<int>(w.n), static_cast<int>(w.k), b, kind);
    }
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
