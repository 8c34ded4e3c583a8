// backend/cuda/kernels/llm_gemv.cu — see llm_gemv.cuh.
#include "backend/cuda/kernels/llm_gemv.cuh"

#include "backend/cuda/kernels/llm_common.cuh"
#include "backend/cuda/kernels/mma_sm80.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

// ---- Vector (tensor-core) kernel geometry ------------------------------------------------------
constexpr int kTileRows = 16;  // output rows per block = the mma's M
constexpr int kWarps = 8;      // warps per block, splitting k between them
constexpr int kBlock = 32 * kWarps;
constexpr int kUnroll = 4;     // chunks per warp in flight (2 weight vectors per thread each)

// Scalar kernel geometry: one warp per row.
constexpr int kScalarRows = 8;
constexpr int kScalarBlock = 32 * kScalarRows;

enum class WKind { Half, Int8, Int4 };

// Weights per 16-byte vector.
template <WKind W> inline constexpr int kPerVec = W == WKind::Half ? 8 : (W == WKind::Int8 ? 16 : 32);

// ---- Packed 16-bit helpers (a pair of f16 or bf16 in one 32-bit register, low half = first) ----
template <class T> using Pair = std::conditional_t<std::is_same_v<T, __half>, __half2, __nv_bfloat162>;

template <class T> __device__ __forceinline__ Pair<T> as_pair(std::uint32_t u) {
  Pair<T> p;
  memcpy(&p, &u, 4);
  return p;
}
template <class T> __device__ __forceinline__ std::uint32_t as_bits(Pair<T> p) {
  std::uint32_t u;
  memcpy(&u, &p, 4);
  return u;
}
template <class T> __device__ __forceinline__ std::uint32_t sub2(std::uint32_t a, std::uint32_t b) {
  return as_bits<T>(__hsub2(as_pair<T>(a), as_pair<T>(b)));
}
template <class T> __device__ __forceinline__ std::uint32_t fma2(std::uint32_t a, std::uint32_t b, std::uint32_t c) {
  return as_bits<T>(__hfma2(as_pair<T>(a), as_pair<T>(b), as_pair<T>(c)));
}

// (w & Mask) | Magic in one LOP3 (left to itself the compiler spends two: LOP3 takes one immediate).
template <std::uint32_t Mask, std::uint32_t Magic> __device__ __forceinline__ std::uint32_t and_or(std::uint32_t w) {
  std::uint32_t r;
  asm("lop3.b32 %0, %1, %2, %3, 0xea;" : "=r"(r) : "r"(w), "n"(Mask), "n"(Magic));  // 0xea = (a & b) | c
  return r;
}

// ---- Dequantisation to exact 16-bit integers --------------------------------------------------
// Int4: one 32-bit word = columns 0…7 of an 8-column run, column i in bits 4i…4i+3 (byte j holds
// columns 2j (low nibble) and 2j+1 (high nibble), weights/quant_int.h), stored value n = q + 8.
// Out: q as pairs {(q0, q4), (q1, q5), (q2, q6), (q3, q7)} (low half first) — the pairing that the
// masks 0x000f000f / 0x00f000f0 give; the caller pairs x the same way (x_pairs4 below).
// fp16: (w & 0x000f000f) | 0x64006400 is half2(1024 + n0, 1024 + n4) (0x6400 = 1024, whose ulp is 1,
// the nibble lands in the mantissa); − 1032 (= 1024 + 8) → (q0, q4), exact. The 0x00f000f0 mask
// gives (1024 + 16·n1, 1024 + 16·n5), and one fma ·(1/16) − 72 (= 64 + 8) gives (q1, q5), exact
// (every intermediate is a small integer or 64 + n, all representable). w >> 8 brings n2, n3, n6, n7
// to the same places.
// Worked example (pairs written (low half, high half)): w = 0x7E5A_93C1, bytes C1 93 5A 7E → nibbles
// n0…n7 = 1, C, 3, 9, A, 5, E, 7 (hex; column 0 = low nibble of byte 0).
//   w & 0x000f000f = 0x000A_0001, | 0x6400_6400 → (1024 + 1, 1024 + 10), − 1032 → (−7, 2) = (q0, q4).
//   w & 0x00f000f0 = 0x0050_00C0 → (1024 + 16·12, 1024 + 16·5), ·1/16 − 72 → (4, −3) = (q1, q5).
//   w >> 8 = 0x007E_5A93: & 0x000f000f = 0x000E_0003 → (−5, 6) = (q2, q6); & 0x00f000f0 = 0x0070_0090
//   → (1, −1) = (q3, q7). (A host emulation of these tricks and of the mma fragments, run over random
//   matrices, agreed with the exact reference when this kernel was written.)
// bf16 (7 mantissa bits): (w >> 4i) & 0x000f000f | 0x43004300 is (128 + n_i, 128 + n_{i+4}) (0x4300 =
// 128, ulp 1); − 136 → q, exact. (The 16·n form would spill into bf16's exponent, hence the shifts.)
template <class T> __device__ __forceinline__ void int4_pairs(std::uint32_t w, std::uint32_t (&q)[4]) {
  if constexpr (std::is_same_v<T, __half>) {
    const std::uint32_t w8 = w >> 8;
    q[0] = sub2<T>(and_or<0x000f000fu, 0x64006400u>(w), 0x64086408u);               // − 1032
    q[1] = fma2<T>(and_or<0x00f000f0u, 0x64006400u>(w), 0x2c002c00u, 0xd480d480u);  // · 1/16 − 72
    q[2] = sub2<T>(and_or<0x000f000fu, 0x64006400u>(w8), 0x64086408u);
    q[3] = fma2<T>(and_or<0x00f000f0u, 0x64006400u>(w8), 0x2c002c00u, 0xd480d480u);
  } else {
#pragma unroll
    for (int i = 0; i < 4; ++i) q[i] = sub2<T>(and_or<0x000f000fu, 0x43004300u>(w >> (4 * i)), 0x43084308u);  // − 136
  }
}

// x as the pairs that int4_pairs produces: from the four words of 8 consecutive activations
// h = {(x0,x1), (x2,x3), (x4,x5), (x6,x7)} make {(x0,x4), (x1,x5), (x2,x6), (x3,x7)} — byte
// permutes: 0x5410 takes the low 16 bits of both operands, 0x7632 the high 16 bits.
__device__ __forceinline__ void x_pairs4(const uint4& h, std::uint32_t (&p)[4]) {
  p[0] = __byte_perm(h.x, h.z, 0x5410u);
  p[1] = __byte_perm(h.x, h.z, 0x7632u);
  p[2] = __byte_perm(h.y, h.w, 0x5410u);
  p[3] = __byte_perm(h.y, h.w, 0x7632u);
}

// Int8: one word = 4 consecutive columns (byte i = column i, two's complement q ∈ [−127, 127]).
// Out: q as pairs {(q0, q1), (q2, q3)} in natural order. fp16: q + 128 (= byte ^ 0x80, 1…255) in the
// low byte of 0x64XX is 1024 + 128 + q; − 1152 → q, exact; the byte permute places 0x64 above each
// byte. bf16 has too few mantissa bits for 1024 + 255, so there q goes through fp32 (OR into the
// mantissa of 2²³, subtract 2²³ + 128, exact) and is packed to bf16 (exact: |q| < 256).
template <class T> __device__ __forceinline__ void int8_pairs(std::uint32_t w, std::uint32_t (&q)[2]) {
  const std::uint32_t biased = w ^ 0x80808080u;  // q + 128 in each byte
  if constexpr (std::is_same_v<T, __half>) {
    q[0] = sub2<T>(__byte_perm(biased, 0x64646464u, 0x4140u), 0x64806480u);  // bytes 0, 1
    q[1] = sub2<T>(__byte_perm(biased, 0x64646464u, 0x4342u), 0x64806480u);  // bytes 2, 3
  } else {
    float f[4];
#pragma unroll
    for (int j = 0; j < 4; ++j)
      f[j] = __uint_as_float(__byte_perm(biased, 0x4b000000u, 0x7440u + j)) - 8388736.0f;  // 2^23 + 128
    q[0] = mma::pack2<T>(f[0], f[1]);
    q[1] = mma::pack2<T>(f[2], f[3]);
  }
}

// The products of one 16-byte vector per row with x, into the mma accumulator c (16 rows × 8 batch
// rows, fp32). Thread (g, t) = (lane / 4, lane % 4) holds row g's vector in `wa`, row g+8's in `wb`
// (the same columns: vector v of both rows) and batch row g's activations of those columns in `xv`.
// mma.m16n8k16 (mma_sm80.cuh has the fragment layouts) sums over its 16 k-slots; thread t supplies
// slots {2t, 2t+1} (a0, a1, b0) and {2t+8, 2t+9} (a2, a3, b1). Which column sits in which slot does not
// matter for a sum as long as A and B agree and every thread with the same t (same columns) makes
// the same choice, so each thread feeds its own columns in whatever pairing its dequantisation
// yields and pairs x identically: the 16 slots of one mma are 4 columns of each of the 4 threads t.
template <class T, WKind W>
__device__ __forceinline__ void mma_vec(float (&c)[4], const uint4& wa, const uint4& wb,
                                        const uint4 (&xv)[kPerVec<W> / 8]) {
  const std::uint32_t a[4] = {wa.x, wa.y, wa.z, wa.w}, b[4] = {wb.x, wb.y, wb.z, wb.w};
  if constexpr (W == WKind::Half) {  // word i = columns 2i, 2i+1 of both weights and x
    mma::mma_16816<T>(c, {a[0], b[0], a[1], b[1]}, xv[0].x, xv[0].y);
    mma::mma_16816<T>(c, {a[2], b[2], a[3], b[3]}, xv[0].z, xv[0].w);
  } else if constexpr (W == WKind::Int8) {  // word j = columns 4j … 4j+3; x word m = columns 2m, 2m+1
    const std::uint32_t xw[8] = {xv[0].x, xv[0].y, xv[0].z, xv[0].w, xv[1].x, xv[1].y, xv[1].z, xv[1].w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      std::uint32_t qa[2], qb[2];
      int8_pairs<T>(a[j], qa);
      int8_pairs<T>(b[j], qb);
      mma::mma_16816<T>(c, {qa[0], qb[0], qa[1], qb[1]}, xw[2 * j], xw[2 * j + 1]);
    }
  } else {  // word j = columns 8j … 8j+7 = x vector xv[j]
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      std::uint32_t qa[4], qb[4], xp[4];
      int4_pairs<T>(a[j], qa);
      int4_pairs<T>(b[j], qb);
      x_pairs4(xv[j], xp);
      mma::mma_16816<T>(c, {qa[0], qb[0], qa[1], qb[1]}, xp[0], xp[1]);  // columns (0,4) and (1,5)
      mma::mma_16816<T>(c, {qa[2], qb[2], qa[3], qb[3]}, xp[2], xp[3]);  // columns (2,6) and (3,7)
    }
  }
}

__device__ __forceinline__ uint4 load_stream(const uint4* p) { return __ldcs(p); }

// Vector kernel. Block = 16 output rows × all of k; its 8 warps split k: warp w takes chunks
// w·U … w·U+U−1, then (w+8)·U …, where chunk c = vectors 4c … 4c+3 of each of the 16 rows (thread t
// takes vector 4c + t; for int4 a chunk is exactly group c of 128 columns). Thread (g, t) loads vector
// 4c+t of rows g and g+8 and the matching x of batch row min(g, batch − 1) — rows g ≥ batch only feed
// output columns that are never stored — and mma_vec multiplies. The warps' fp32 accumulators meet in
// shared memory; 128 threads add them up in a fixed order and store.
template <class T, WKind W>
__global__ void __launch_bounds__(kBlock, 2)
    gemv_mma_kernel(const T* __restrict__ x, const std::uint8_t* __restrict__ w, const __half* __restrict__ scale,
                    const T* residual, T* y, int n, int k, int batch) {
  constexpr int E = kPerVec<W>;
  constexpr int XV = E / 8;  // 16-byte x vectors per weight vector
  __shared__ float red[kWarps][4][32];
  const int warp = static_cast<int>(threadIdx.x) >> 5, lane = static_cast<int>(threadIdx.x) & 31;
  const int g = lane >> 2, t = lane & 3;
  const int tile = static_cast<int>(blockIdx.x) * kTileRows;
  const int r0 = min(tile + g, n - 1), r1 = min(tile + g + 8, n - 1);  // rows past n repeat row n−1 (not stored)
  const int vecs = k / E, chunks = (vecs + 3) / 4, full = vecs / 4;  // full: chunks with all 4 vectors
  const std::int64_t row_bytes = W == WKind::Half ? 2ll * k : (W == WKind::Int8 ? k : k / 2);
  const uint4* wa = reinterpret_cast<const uint4*>(w + r0 * row_bytes) + t;  // + 4c: vector 4c + t
  const uint4* wb = reinterpret_cast<const uint4*>(w + r1 * row_bytes) + t;
  const uint4* xq = reinterpret_cast<const uint4*>(x + static_cast<std::int64_t>(min(g, batch - 1)) * k) + t * XV;
  const __half* sa = W == WKind::Int4 ? scale + static_cast<std::int64_t>(r0) * (k / 128) : nullptr;
  const __half* sb = W == WKind::Int4 ? scale + static_cast<std::int64_t>(r1) * (k / 128) : nullptr;

  // 16-bit and int8: U independent accumulator chains; int4: one fp32 sum of scaled group partials.
  constexpr int NA = W == WKind::Int4 ? 1 : kUnroll;
  float acc[NA][4];
#pragma unroll
  for (int u = 0; u < NA; ++u)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[u][j] = 0.0f;

  // U chunks from cb on. Tail: the one step that may reach past the last vector (16-bit and int8 when
  // k/E is not a multiple of 4, or past the last chunk) — missing vectors give zero weights and x.
  bool waited = false;  // programmatic dependent launch (kernel_common.cuh): x is read after pdl_wait
  auto step = [&](int cb, auto tail) {
    constexpr bool Tail = decltype(tail)::value;
    const uint4* pa = wa + 4 * cb;  // then constant offsets: vector 4(cb+u) + t
    const uint4* pb = wb + 4 * cb;
    const uint4* px = xq + 4 * XV * cb;
    uint4 va[kUnroll], vb[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (!Tail || (cb + u) * 4 + t < vecs) {
        va[u] = load_stream(pa + 4 * u);
        vb[u] = load_stream(pb + 4 * u);
      } else {
        va[u] = vb[u] = make_uint4(0, 0, 0, 0);
      }
    }
    if (!waited) {  // the weights are in flight; x (and later y) are the previous kernel's: wait for it
      detail::pdl_wait();
      waited = true;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (Tail && cb + u >= chunks) break;  // warp-uniform: mma needs the whole warp
      const bool ok = !Tail || (cb + u) * 4 + t < vecs;
      uint4 xv[XV];
#pragma unroll
      for (int i = 0; i < XV; ++i) xv[i] = ok ? detail::ld_coherent(px + 4 * XV * u + i) : make_uint4(0, 0, 0, 0);  // not .nc: PDL
      if constexpr (W == WKind::Int4) {
        float part[4] = {0.0f, 0.0f, 0.0f, 0.0f};  // Σ q·x over group cb+u: exact products, fp32 sum
        mma_vec<T, W>(part, va[u], vb[u], xv);
        const float s0 = __half2float(sa[cb + u]), s1 = __half2float(sb[cb + u]);
        acc[0][0] = fmaf(s0, part[0], acc[0][0]);  // c0, c1: row g; c2, c3: row g+8
        acc[0][1] = fmaf(s0, part[1], acc[0][1]);
        acc[0][2] = fmaf(s1, part[2], acc[0][2]);
        acc[0][3] = fmaf(s1, part[3], acc[0][3]);
      } else {
        mma_vec<T, W>(acc[u], va[u], vb[u], xv);
      }
    }
  };
  int cb = warp * kUnroll;
#pragma unroll 1
  for (; cb + kUnroll <= full; cb += kWarps * kUnroll) step(cb, std::false_type{});
  if (cb < chunks) step(cb, std::true_type{});  // then cb + 8U > chunks: nothing after it

  if (!waited) detail::pdl_wait();  // warps without a step still store y and read the residual below
  // c0 = (row g, batch 2t), c1 = (row g, batch 2t+1), c2 / c3 = the same for row g+8.
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    float s = acc[0][j];
#pragma unroll
    for (int u = 1; u < NA; ++u) s += acc[u][j];
    red[warp][j][lane] = s;
  }
  __syncthreads();
  if (threadIdx.x < 4 * 32) {
    const int j = static_cast<int>(threadIdx.x) >> 5, l = static_cast<int>(threadIdx.x) & 31;
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < kWarps; ++i) sum += red[i][j][l];
    const int row = tile + (l >> 2) + 8 * (j >> 1), b = 2 * (l & 3) + (j & 1);
    if (row < n && b < batch) {
      if constexpr (W == WKind::Int8) sum *= __half2float(scale[row]);
      const std::int64_t o = static_cast<std::int64_t>(b) * n + row;
      y[o] = detail::from_float<T>(residual != nullptr ? sum + to_float(residual[o]) : sum);
    }
  }
}

// Scalar kernel (unaligned pointers, k not a multiple of the vector): warp = row, lane = column
// stride, fp32 throughout (the weight dequantised to q·s in fp32, exact).
template <class T>
__global__ void __launch_bounds__(kScalarBlock)
    gemv_scalar_kernel(const T* __restrict__ x, const std::uint8_t* __restrict__ w, const __half* __restrict__ scale,
                       const T* residual, T* y, int n, int k, int batch, int kind) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int row = static_cast<int>(blockIdx.x) * kScalarRows + (static_cast<int>(threadIdx.x) >> 5);
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
  const unsigned grid = static_cast<unsigned>((w.n + kTileRows - 1) / kTileRows);
  detail::launch_pdl(gemv_mma_kernel<T, W>, dim3(grid), dim3(kBlock), 0, stream,
      static_cast<const T*>(x), static_cast<const std::uint8_t*>(w.data), static_cast<const __half*>(w.scale),
      static_cast<const T*>(residual), static_cast<T*>(y), static_cast<int>(w.n), static_cast<int>(w.k), batch);
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
      const unsigned grid = static_cast<unsigned>((w.n + kScalarRows - 1) / kScalarRows);
      gemv_scalar_kernel<T><<<grid, kScalarBlock, 0, stream>>>(
          static_cast<const T*>(x), static_cast<const std::uint8_t*>(w.data), static_cast<const __half*>(w.scale),
          static_cast<const T*>(residual), static_cast<T*>(y), static_cast<int>(w.n), static_cast<int>(w.k), b, kind);
    }
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
