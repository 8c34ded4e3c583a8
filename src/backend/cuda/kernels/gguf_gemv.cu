// GGUF block GEMV and dequantization (gguf_gemv.cuh has the contract and the tiling).
#include "backend/cuda/kernels/gguf_gemv.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

// ---------------------------------------------------------------------------------------------
// Block decoding: 8 consecutive elements starting at element `e` (a multiple of 8) of one block.
// Layouts: weights/gguf_quant.h. Every field of every block sits at an even byte offset (block sizes
// 34, 18, 144, 210 are even and rows start at even offsets), so 2-byte loads are always aligned.
template <DType T> struct Block;
template <> struct Block<DType::q8_0> { static constexpr int elems = 32, bytes = 34; };
template <> struct Block<DType::q4_0> { static constexpr int elems = 32, bytes = 18; };
template <> struct Block<DType::q4_k> { static constexpr int elems = 256, bytes = 144; };
template <> struct Block<DType::q6_k> { static constexpr int elems = 256, bytes = 210; };

__device__ __forceinline__ float ld_half(const std::uint8_t* p) {
  return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(p)));
}

// 8 bytes from an address that is at least 2-byte aligned: one 8-byte load where possible.
__device__ __forceinline__ uint2 load8(const std::uint8_t* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  if ((a & 7u) == 0) return *reinterpret_cast<const uint2*>(p);
  if ((a & 3u) == 0) {
    const auto* q = reinterpret_cast<const unsigned*>(p);
    return make_uint2(q[0], q[1]);
  }
  const auto* q = reinterpret_cast<const unsigned short*>(p);
  return make_uint2(q[0] | (static_cast<unsigned>(q[1]) << 16), q[2] | (static_cast<unsigned>(q[3]) << 16));
}
__device__ __forceinline__ unsigned byte_of(uint2 v, int i) { return ((i < 4 ? v.x : v.y) >> (8 * (i & 3))) & 0xffu; }

template <DType T> __device__ __forceinline__ void decode8(const std::uint8_t* blk, int e, float* out);

template <> __device__ __forceinline__ void decode8<DType::q8_0>(const std::uint8_t* blk, int e, float* out) {
  const float d = ld_half(blk);
  const uint2 q = load8(blk + 2 + e);
#pragma unroll
  for (int i = 0; i < 8; ++i) out[i] = __fmul_rn(d, static_cast<float>(static_cast<signed char>(byte_of(q, i))));
}

template <> __device__ __forceinline__ void decode8<DType::q4_0>(const std::uint8_t* blk, int e, float* out) {
  const float d = ld_half(blk);
  const bool high = e >= 16;
  const uint2 q = load8(blk + 2 + (high ? e - 16 : e));
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const unsigned b = byte_of(q, i);
    out[i] = __fmul_rn(d, static_cast<float>(static_cast<int>(high ? b >> 4 : b & 15u) - 8));
  }
}

template <> __device__ __forceinline__ void decode8<DType::q4_k>(const std::uint8_t* blk, int e, float* out) {
  const float d = ld_half(blk), dmin = ld_half(blk + 2);
  const std::uint8_t* sc = blk + 4;
  const int c = e >> 6, w = e & 63, high = w >= 32, l = w & 31;
  const int s = 2 * c + high;
  int scale, mn;
  if (s < 4) {
    scale = sc[s] & 63;
    mn = sc[s + 4] & 63;
  } else {
    scale = (sc[s + 4] & 15) | ((sc[s - 4] >> 6) << 4);
    mn = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
  }
  const float ds = __fmul_rn(d, static_cast<float>(scale)), ms = __fmul_rn(dmin, static_cast<float>(mn));
  const uint2 q = load8(blk + 16 + 32 * c + l);
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const unsigned b = byte_of(q, i);
    out[i] = __fsub_rn(__fmul_rn(ds, static_cast<float>(high ? b >> 4 : b & 15u)), ms);
  }
}

template <> __device__ __forceinline__ void decode8<DType::q6_k>(const std::uint8_t* blk, int e, float* out) {
  const int h = e >> 7, r = e & 127, k = r >> 5, l = r & 31;
  const uint2 ql = load8(blk + 64 * h + l + (k & 1) * 32);
  const uint2 qh = load8(blk + 128 + 32 * h + l);
  const float ds = __fmul_rn(ld_half(blk + 208), static_cast<float>(static_cast<signed char>(blk[192 + (e >> 4)])));
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const unsigned lo = byte_of(ql, i), hb = (byte_of(qh, i) >> (2 * k)) & 3u;
    const int q = static_cast<int>((k < 2 ? lo & 15u : lo >> 4) | (hb << 4)) - 32;
    out[i] = __fmul_rn(ds, static_cast<float>(q));
  }
}

// ---------------------------------------------------------------------------------------------
// cp.async (sm_80+): 16-byte global → shared copies that do not occupy registers.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.commit_group;\n" ::);
  asm volatile("cp.async.wait_group 0;\n" ::);
}

constexpr int kWarps = 8;         // rows per CTA
constexpr int kChunk = 1024;      // K elements per stage
constexpr int kMaxBatch = 8;

template <DType T> constexpr int stage_bytes_per_warp() {
  // + the 16-byte alignment slack at both ends, rounded up so every warp's region starts 16-byte
  // aligned (cp.async's destinations must be, and decoding relies on shared ≡ global mod 16).
  return (kChunk / Block<T>::elems * Block<T>::bytes + 32 + 15) / 16 * 16;
}

// BMAX: 1 (decode at batch 1) or 8 (B ≤ 8 at run time).
template <DType T, int BMAX>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(const std::uint8_t* __restrict__ w, std::int64_t N,
                                                         std::int64_t K, std::int64_t row_bytes,
                                                         const __half* __restrict__ x, int B, void* y, bool y_f32,
                                                         const void* residual, std::int64_t ldy) {
  using Blk = Block<T>;
  extern __shared__ __align__(16) std::uint8_t smem[];
  __half* xs = reinterpret_cast<__half*>(smem);  // [BMAX][kChunk]
  std::uint8_t* ws_all = smem + static_cast<std::size_t>(BMAX) * kChunk * sizeof(__half);
  constexpr int kWs = stage_bytes_per_warp<T>();
  const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
  std::uint8_t* ws = ws_all + warp * kWs;
  const std::int64_t n = static_cast<std::int64_t>(blockIdx.x) * kWarps + warp;
  const std::int64_t total = N * row_bytes;
  const int nb = BMAX == 1 ? 1 : B;

  float acc[BMAX];
#pragma unroll
  for (int b = 0; b < BMAX; ++b) acc[b] = 0.0f;

  for (std::int64_t k0 = 0; k0 < K; k0 += kChunk) {
    const int kc = static_cast<int>(K - k0 < kChunk ? K - k0 : kChunk);  // a multiple of the block (and of 8)
    // x[:, k0 : k0 + kc] → xs, 16 bytes (8 halves) per copy.
    const int packs_per_row = kc / 8;
    for (int i = static_cast<int>(threadIdx.x); i < nb * packs_per_row; i += kWarps * 32) {
      const int b = i / packs_per_row, p = i % packs_per_row;
      cp_async16(xs + b * kChunk + 8 * p, x + static_cast<std::int64_t>(b) * K + k0 + 8 * p);
    }
    // This warp's row: the blocks of this chunk, through the 16-byte-aligned span around them.
    std::int64_t head = 0;
    if (n < N) {
      const std::int64_t a = n * row_bytes + k0 / Blk::elems * Blk::bytes;
      const std::int64_t e = a + static_cast<std::int64_t>(kc / Blk::elems) * Blk::bytes;
      const std::int64_t a16 = a & ~std::int64_t{15};
      const std::int64_t e16 = (e + 15) & ~std::int64_t{15};
      head = a - a16;
      const int pieces = static_cast<int>((e16 - a16) / 16);
      for (int i = lane; i < pieces; i += 32) {
        const std::int64_t g = a16 + 16 * i;
        if (g + 16 <= total) {
          cp_async16(ws + 16 * i, w + g);
        } else {  // the tensor's last bytes: never read past its end
          for (std::int64_t j = g; j < total; ++j) ws[16 * i + (j - g)] = w[j];
        }
      }
    }
    cp_async_wait_all();
    __syncthreads();

    if (n < N) {
      const std::uint8_t* row = ws + head;
      for (int g = lane; g < kc / 8; g += 32) {
        const int e = 8 * g;
        float wv[8];
        decode8<T>(row + (e / Blk::elems) * Blk::bytes, e % Blk::elems, wv);
#pragma unroll
        for (int b = 0; b < BMAX; ++b) {
          if (b < nb) {
            const uint4 u = *reinterpret_cast<const uint4*>(xs + b * kChunk + e);
            const __half2* h2 = reinterpret_cast<const __half2*>(&u);
            float s = acc[b];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              const float2 f = __half22float2(h2[i]);
              s = fmaf(wv[2 * i], f.x, s);
              s = fmaf(wv[2 * i + 1], f.y, s);
            }
            acc[b] = s;
          }
        }
      }
    }
    __syncthreads();  // before the next chunk overwrites xs and ws
  }

  if (n >= N) return;
#pragma unroll
  for (int b = 0; b < BMAX; ++b) {
    if (b < nb) {
      float v = detail::warp_sum(acc[b]);
      if (lane == 0) {
        // residual may alias y: this lane reads element (b, n) before it writes it, and no other
        // thread touches it.
        const std::int64_t o = static_cast<std::int64_t>(b) * ldy + n;
        if (y_f32) {
          if (residual != nullptr) v += static_cast<const float*>(residual)[o];
          static_cast<float*>(y)[o] = v;
        } else {
          if (residual != nullptr) v += __half2float(static_cast<const __half*>(residual)[o]);
          static_cast<__half*>(y)[o] = __float2half_rn(v);
        }
      }
    }
  }
}

template <DType T>
__global__ void dequant_kernel(const std::uint8_t* __restrict__ w, std::int64_t rows, std::int64_t K,
                               std::int64_t row_bytes, __half* __restrict__ out) {
  using Blk = Block<T>;
  const std::int64_t groups_per_row = K / 8;
  const std::int64_t total = rows * groups_per_row;
  for (std::int64_t g = detail::global_thread(); g < total; g += detail::grid_threads()) {
    const std::int64_t r = g / groups_per_row;
    const std::int64_t e = (g % groups_per_row) * 8;
    float v[8];
    decode8<T>(w + r * row_bytes + (e / Blk::elems) * Blk::bytes, static_cast<int>(e % Blk::elems), v);
    uint4 u;
    __half2* h2 = reinterpret_cast<__half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; ++i) h2[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4*>(out + r * K + e) = u;
  }
}

// out[t, :] = row clamp(ids[t]) of W, decoded exactly as dequant_kernel does.
template <DType T>
__global__ void embedding_kernel(const std::uint8_t* __restrict__ w, std::int64_t rows, std::int64_t K,
                                 std::int64_t row_bytes, const std::int32_t* __restrict__ ids, std::int64_t T_,
                                 __half* __restrict__ out) {
  using Blk = Block<T>;
  const std::int64_t groups_per_row = K / 8;
  const std::int64_t total = T_ * groups_per_row;
  for (std::int64_t g = detail::global_thread(); g < total; g += detail::grid_threads()) {
    const std::int64_t t = g / groups_per_row;
    const std::int64_t e = (g % groups_per_row) * 8;
    std::int64_t r = ids[t];
    r = r < 0 ? 0 : (r >= rows ? rows - 1 : r);
    float v[8];
    decode8<T>(w + r * row_bytes + (e / Blk::elems) * Blk::bytes, static_cast<int>(e % Blk::elems), v);
    uint4 u;
    __half2* h2 = reinterpret_cast<__half2*>(&u);
#pragma unroll
    for (int i = 0; i < 4; ++i) h2[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4*>(out + t * K + e) = u;
  }
}

// fp16 rows: a copy, 16 bytes at a time when W, the row length and out allow it (V = 8), else per element.
template <int V>
__global__ void embedding_f16_kernel(const __half* __restrict__ w, std::int64_t rows, std::int64_t K,
                                     const std::int32_t* __restrict__ ids, std::int64_t T_, __half* __restrict__ out) {
  const std::int64_t units_per_row = K / V;
  const std::int64_t total = T_ * units_per_row;
  for (std::int64_t g = detail::global_thread(); g < total; g += detail::grid_threads()) {
    const std::int64_t t = g / units_per_row;
    const std::int64_t e = (g % units_per_row) * V;
    std::int64_t r = ids[t];
    r = r < 0 ? 0 : (r >= rows ? rows - 1 : r);
    detail::store_unit<__half, V>(out + t * K + e, detail::load_unit<__half, V>(w + r * K + e));
  }
}

template <class F> void dispatch_block(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::q8_0: f(std::integral_constant<DType, DType::q8_0>{}); return;
    case DType::q4_0: f(std::integral_constant<DType, DType::q4_0>{}); return;
    case DType::q4_k: f(std::integral_constant<DType, DType::q4_k>{}); return;
    case DType::q6_k: f(std::integral_constant<DType, DType::q6_k>{}); return;
    default:
      throw Unsupported(std::string(op) + ": weight dtype " + std::string(to_string(t)) +
                        " is not a GGUF block type (q8_0, q4_0, q4_k, q6_k)");
  }
}

void check_shape(const char* op, DType t, std::int64_t rows, std::int64_t K) {
  if (rows < 1 || K < 1)
    throw InvalidInput(std::string(op) + ": extents must be positive, got rows " + std::to_string(rows) + ", K " +
                       std::to_string(K));
  const std::int64_t be = info(t).block_elems;
  if (K % be != 0)
    throw InvalidInput(std::string(op) + ": K = " + std::to_string(K) + " is not a multiple of the " +
                       std::string(to_string(t)) + " block of " + std::to_string(be) + " elements");
}

}  // namespace

std::int64_t gguf_row_bytes(DType t, std::int64_t K) {
  const DTypeInfo& i = info(t);
  return K / i.block_elems * i.block_bytes;
}

void gguf_gemv(DType wtype, const void* w, std::int64_t N, std::int64_t K, const void* x, int B, void* y, DType y_dtype,
               cudaStream_t stream, const void* residual, std::int64_t ldy) {
  dispatch_block(wtype, "gguf_gemv", [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    check_shape("gguf_gemv", T, N, K);
    if (B < 1 || B > kMaxBatch)
      throw InvalidInput("gguf_gemv: batch " + std::to_string(B) + " outside 1.." + std::to_string(kMaxBatch));
    if (!detail::aligned16(w) || !detail::aligned16(x))
      throw InvalidInput("gguf_gemv: the weights and x must be 16-byte aligned");
    if (y_dtype != DType::f16 && y_dtype != DType::f32)
      throw Unsupported("gguf_gemv: output dtype " + std::string(to_string(y_dtype)) + " (f16 or f32 only)");
    if (ldy == 0) ldy = N;
    if (ldy < N)
      throw InvalidInput("gguf_gemv: ldy = " + std::to_string(ldy) + " is below N = " + std::to_string(N));
    const std::uintptr_t esz = y_dtype == DType::f32 ? 4u : 2u;
    if ((reinterpret_cast<std::uintptr_t>(y) % esz) != 0 || (reinterpret_cast<std::uintptr_t>(residual) % esz) != 0)
      throw InvalidInput("gguf_gemv: y and the residual must be aligned to their element");
    const auto grid = static_cast<unsigned>((N + kWarps - 1) / kWarps);
    const std::int64_t rb = gguf_row_bytes(T, K);
    const auto* wb = static_cast<const std::uint8_t*>(w);
    const auto* xh = static_cast<const __half*>(x);
    const bool f32 = y_dtype == DType::f32;
    if (B == 1) {
      const std::size_t smem = 1 * kChunk * sizeof(__half) + kWarps * stage_bytes_per_warp<T>();
      gemv_kernel<T, 1><<<grid, kWarps * 32, smem, stream>>>(wb, N, K, rb, xh, B, y, f32, residual, ldy);
    } else {
      const std::size_t smem = kMaxBatch * kChunk * sizeof(__half) + kWarps * stage_bytes_per_warp<T>();
      gemv_kernel<T, kMaxBatch><<<grid, kWarps * 32, smem, stream>>>(wb, N, K, rb, xh, B, y, f32, residual, ldy);
    }
    CUDA_CHECK(cudaGetLastError());
  });
}

void gguf_dequantize(DType wtype, const void* w, std::int64_t rows, std::int64_t K, void* out_f16, cudaStream_t stream) {
  dispatch_block(wtype, "gguf_dequantize", [&](auto tag) {
    constexpr DType T = decltype(tag)::value;
    check_shape("gguf_dequantize", T, rows, K);
    if (!detail::aligned16(out_f16)) throw InvalidInput("gguf_dequantize: the output must be 16-byte aligned");
    if ((reinterpret_cast<std::uintptr_t>(w) & 1u) != 0) throw InvalidInput("gguf_dequantize: the weights must be 2-byte aligned");
    dequant_kernel<T><<<detail::grid_for(rows * (K / 8)), detail::kThreads, 0, stream>>>(
        static_cast<const std::uint8_t*>(w), rows, K, gguf_row_bytes(T, K), static_cast<__half*>(out_f16));
    CUDA_CHECK(cudaGetLastError());
  });
}

void gguf_embedding(DType wtype, const void* w, std::int64_t rows, std::int64_t K, const std::int32_t* ids, std::int64_t T,
                    void* out_f16, cudaStream_t stream) {
  if (T < 0) throw InvalidInput("gguf_embedding: T = " + std::to_string(T) + " is negative");
  if (!detail::aligned16(out_f16)) throw InvalidInput("gguf_embedding: the output must be 16-byte aligned");
  if ((reinterpret_cast<std::uintptr_t>(w) & 1u) != 0) throw InvalidInput("gguf_embedding: the weights must be 2-byte aligned");
  if (wtype == DType::f16) {
    if (rows < 1 || K < 1)
      throw InvalidInput("gguf_embedding: extents must be positive, got rows " + std::to_string(rows) + ", K " +
                         std::to_string(K));
    if (T == 0) return;
    const auto* wh = static_cast<const __half*>(w);
    auto* o = static_cast<__half*>(out_f16);
    if (K % 8 == 0 && detail::aligned16(w)) {
      embedding_f16_kernel<8><<<detail::grid_for(T * (K / 8)), detail::kThreads, 0, stream>>>(wh, rows, K, ids, T, o);
    } else {
      embedding_f16_kernel<1><<<detail::grid_for(T * K), detail::kThreads, 0, stream>>>(wh, rows, K, ids, T, o);
    }
    CUDA_CHECK(cudaGetLastError());
    return;
  }
  dispatch_block(wtype, "gguf_embedding", [&](auto tag) {
    constexpr DType Ty = decltype(tag)::value;
    check_shape("gguf_embedding", Ty, rows, K);
    if (T == 0) return;
    embedding_kernel<Ty><<<detail::grid_for(T * (K / 8)), detail::kThreads, 0, stream>>>(
        static_cast<const std::uint8_t*>(w), rows, K, gguf_row_bytes(Ty, K), ids, T, static_cast<__half*>(out_f16));
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
