// backend/cuda/kernels/attention.cu — see attention.cuh.
#include "backend/cuda/kernels/attention.cuh"

#include <cmath>
#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"
#include "backend/cuda/kernels/mma_sm80.cuh"

namespace vramfit::cuda::kernels {
namespace {

constexpr int kThreadsPerBlock = 128;  // both kernels: 4 warps

// Tensor-core helpers: mma_sm80.cuh (shared with llm_prefill_attention.cu).
using mma::cp_async16;
using mma::cp_async_commit;
using mma::cp_async_wait;
using mma::ldmatrix_x4;
using mma::ldmatrix_x4_trans;
using mma::load32;
using mma::mma_16816;
using mma::pack2;

// One k/v tile for a warp's 16 query rows: the online-softmax update of (m, l, o) over NK8 8-key
// sub-tiles of the tile starting at key `key0` (NK8 even: whole 16-key groups). kMask: keys ≥ seq
// count as −∞ (only the last tile needs it). k's B fragments come from ldmatrix.x4 — two sub-tiles'
// (b0, b1) per instruction instead of four 32-bit loads — and v's from ldmatrix.x4.trans.
template <class T, int D, int NK8, bool kMask>
__device__ __forceinline__ void attend_tile(const T* __restrict__ sk, const T* __restrict__ sv,
                                            const std::uint32_t (&qf)[D / 16][4], float (&o)[D / 8][4], float& m0,
                                            float& m1, float& l0, float& l1, int key0, int seq, float scale_log2,
                                            int lane) {
  static_assert(NK8 % 2 == 0 && NK8 >= 2 && NK8 <= 8, "whole 16-key groups of a 64-key tile");
  constexpr int kLd = D + 8;
  constexpr int kDimTiles8 = D / 8;
  const int t = lane & 3;
  const int mi = lane >> 3, r8 = lane & 7;

  // s = q kᵀ for this warp's 16 rows × 8·NK8 keys. ldmatrix matrix mi: keys (n + (mi >> 1))·8 + 0…7,
  // dims ks·16 + (mi & 1)·8 + 0…7 → registers b0(n), b1(n), b0(n+1), b1(n+1).
  float s[NK8][4];
#pragma unroll
  for (int n = 0; n < NK8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
#pragma unroll
    for (int n = 0; n < NK8; n += 2) {
      std::uint32_t kb[4];
      ldmatrix_x4(kb, sk + ((n + (mi >> 1)) * 8 + r8) * kLd + ks * 16 + (mi & 1) * 8);
      mma_16816<T>(s[n], qf[ks], kb[0], kb[1]);
      mma_16816<T>(s[n + 1], qf[ks], kb[2], kb[3]);
    }
  }

  // Scale into the log2 domain, mask keys past the sequence (last tile only), row max over the quad.
  float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
  for (int n = 0; n < NK8; ++n) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      if constexpr (kMask) {
        const bool valid = key0 + n * 8 + 2 * t + e < seq;
        s[n][e] = valid ? s[n][e] * scale_log2 : -INFINITY;
        s[n][2 + e] = valid ? s[n][2 + e] * scale_log2 : -INFINITY;
      } else {
        s[n][e] *= scale_log2;
        s[n][2 + e] *= scale_log2;
      }
      mx0 = fmaxf(mx0, s[n][e]);
      mx1 = fmaxf(mx1, s[n][2 + e]);
    }
  }
  mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
  mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
  mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
  mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
  // Every tile has a valid key in its first 16-key group, so the new max is finite; on the first tile
  // m is −∞ and the rescale factor exp2(−∞) = 0 clears nothing but zeros.
  const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
  const float a0 = exp2f(m0 - mn0), a1 = exp2f(m1 - mn1);
  m0 = mn0;
  m1 = mn1;
  float ls0 = 0.0f, ls1 = 0.0f;
#pragma unroll
  for (int n = 0; n < NK8; ++n) {
    s[n][0] = exp2f(s[n][0] - mn0);
    s[n][1] = exp2f(s[n][1] - mn0);
    s[n][2] = exp2f(s[n][2] - mn1);
    s[n][3] = exp2f(s[n][3] - mn1);
    ls0 += s[n][0] + s[n][1];
    ls1 += s[n][2] + s[n][3];
  }
  l0 = l0 * a0 + ls0;
  l1 = l1 * a1 + ls1;
#pragma unroll
  for (int n = 0; n < kDimTiles8; ++n) {
    o[n][0] *= a0;
    o[n][1] *= a0;
    o[n][2] *= a1;
    o[n][3] *= a1;
  }

  // o += p v: p's C fragments of key sub-tiles 2ks and 2ks+1 are the A fragment of k-step ks.
#pragma unroll
  for (int ks = 0; ks < NK8 / 2; ++ks) {
    const std::uint32_t pa[4] = {pack2<T>(s[2 * ks][0], s[2 * ks][1]), pack2<T>(s[2 * ks][2], s[2 * ks][3]),
                                 pack2<T>(s[2 * ks + 1][0], s[2 * ks + 1][1]),
                                 pack2<T>(s[2 * ks + 1][2], s[2 * ks + 1][3])};
    // matrix mi: keys ks·16 + (mi & 1)·8 + 0…7, dims np·16 + (mi >> 1)·8 + 0…7
    const T* vrow = sv + (ks * 16 + (mi & 1) * 8 + r8) * kLd + (mi >> 1) * 8;
#pragma unroll
    for (int np = 0; np < D / 16; ++np) {
      std::uint32_t vb[4];
      ldmatrix_x4_trans(vb, vrow + np * 16);
      mma_16816<T>(o[2 * np], pa, vb[0], vb[1]);
      mma_16816<T>(o[2 * np + 1], pa, vb[2], vb[3]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 16-bit kernel: grid (B·H, ⌈S/64⌉), 128 threads; warp w owns query rows 16w … 16w+15 of the tile.
// Dynamic shared memory: four tiles of 64 rows × (d+8) — k[0], k[1], v[0], v[1] — so tile kt+1 is
// copied (cp.async) while tile kt is computed. q is staged in k[1] before the loop, the output in
// k[0] after it.
template <class T, int D> struct MmaShape {
  static constexpr int kBr = 64, kBc = 64;  // queries, keys per tile
  static constexpr int kLd = D + 8;         // padded smem row (elements): 16-byte aligned, conflict-free
  static constexpr std::size_t kTileElems = static_cast<std::size_t>(kBc) * kLd;
  static constexpr std::size_t kSmemBytes = 4 * kTileElems * sizeof(T);
};

// Blocks per SM the register budget must allow: 4 (≤ 128 registers) at d = 64, 3 at 80, 2 at 128 —
// what the accumulators (d/2 floats of o, 32 of s, d/4 words of q per thread) leave room for.
constexpr int mma_min_blocks(int d) { return d <= 64 ? 4 : (d <= 80 ? 3 : 2); }

// Long on purpose (over 120 lines): the Q fragments, running max/sum and O accumulators stay in
// registers across the whole key loop (attend_tile already holds the per-tile step).
template <class T, int D>
__global__ void __launch_bounds__(kThreadsPerBlock, mma_min_blocks(D))
    attention_mma_kernel(const T* __restrict__ qkv, T* __restrict__ y, int seq, int heads, float scale_log2) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  static_assert(D % 16 == 0, "head dim must be a multiple of 16 (mma k-steps and ldmatrix pairs)");
  using Shape = MmaShape<T, D>;
  constexpr int kBr = Shape::kBr, kBc = Shape::kBc, kLd = Shape::kLd;
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kKeyTiles8 = kBc / 8, kDimTiles8 = D / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  T* const tiles = reinterpret_cast<T*>(smem);
  auto s_k = [tiles](int i) { return tiles + static_cast<std::size_t>(i) * Shape::kTileElems; };
  auto s_v = [tiles](int i) { return tiles + static_cast<std::size_t>(2 + i) * Shape::kTileElems; };

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  // One linear block index, query tile fastest: the ⌈S/64⌉ blocks of one (b, h) run side by side and
  // read its k and v from L2 after the first (with (b·h) fastest they ran B·H blocks apart, and k and v
  // came from DRAM once per query tile).
  const int q_tiles = (seq + kBr - 1) / kBr;
  const int bh = static_cast<int>(blockIdx.x) / q_tiles;
  const int b = bh / heads, h = bh - b * heads;
  const int q0 = (static_cast<int>(blockIdx.x) - bh * q_tiles) * kBr;
  const std::int64_t embed = static_cast<std::int64_t>(heads) * D;
  const std::int64_t row_stride = 3 * embed;
  const T* base = qkv + static_cast<std::int64_t>(b) * seq * row_stride + static_cast<std::int64_t>(h) * D;

  // Rows row0 … row0+63 of one part (q, k or v) of this head into dst; rows ≥ seq become zeros, so
  // padded keys contribute 0·v = 0 and padded queries compute harmless values that are not stored.
  auto load_tile_async = [&](T* dst, const T* src, int row0) {
    for (int i = tid; i < kBr * kChunks; i += kThreadsPerBlock) {
      const int r = i / kChunks, c = i - r * kChunks;
      const bool valid = row0 + r < seq;
      const T* from = valid ? src + static_cast<std::int64_t>(row0 + r) * row_stride + c * 8 : src;
      cp_async16(dst + r * kLd + c * 8, from, valid);
    }
  };

  const int key_tiles = (seq + kBc - 1) / kBc;
  load_tile_async(s_k(1), base, q0);  // q, staged where k tile 1 will go
  cp_async_commit();
  load_tile_async(s_k(0), base + embed, 0);
  load_tile_async(s_v(0), base + 2 * embed, 0);
  cp_async_commit();
  cp_async_wait<1>();  // q has landed (tile 0 may still be in flight)
  __syncthreads();

  const int qr = warp * 16 + g;
  std::uint32_t qf[D / 16][4];
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    const int c = ks * 16 + 2 * t;
    qf[ks][0] = load32(s_k(1) + qr * kLd + c);
    qf[ks][1] = load32(s_k(1) + (qr + 8) * kLd + c);
    qf[ks][2] = load32(s_k(1) + qr * kLd + c + 8);
    qf[ks][3] = load32(s_k(1) + (qr + 8) * kLd + c + 8);
  }
  __syncthreads();  // every warp holds its q fragments before k tile 1 overwrites the staging

  float o[kDimTiles8][4];
#pragma unroll
  for (int n = 0; n < kDimTiles8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY;  // running max of rows g and g+8 (log2 domain)
  float l0 = 0.0f, l1 = 0.0f;            // running sums, this thread's columns only (quad-reduced at the end)
  // A warp whose 16 query rows all lie past S only helps copy and meets the barriers (at S = 197 the
  // last query tile has 5 rows: 3 of its 4 warps idle). Key sub-tiles past S are skipped by choosing,
  // once per tile, a tile body compiled for that many 16-key groups (attend_tile<NK8>): no branch inside
  // the unrolled mma loops (a run-time test there was measured slower than doing the padded work).
  const bool warp_active = q0 + warp * 16 < seq;

  for (int kt = 0; kt < key_tiles; ++kt) {
    const int cur = kt & 1;
    if (kt + 1 < key_tiles) {  // prefetch tile kt+1 into the other buffers (freed at the end of kt−1)
      load_tile_async(s_k(cur ^ 1), base + embed, (kt + 1) * kBc);
      load_tile_async(s_v(cur ^ 1), base + 2 * embed, (kt + 1) * kBc);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();  // tile kt is visible to every warp
    if (warp_active) {  // warp-uniform; every warp still meets both barriers
      // Full tiles need no mask; the last tile computes only its 16-key groups that hold a valid key
      // (at S = 197 that is 16 of its 64 keys), masking the rest of its last group.
      const int valid = seq - kt * kBc;
      const int key0 = kt * kBc;
      if (valid >= kBc) attend_tile<T, D, kKeyTiles8, false>(s_k(cur), s_v(cur), qf, o, m0, m1, l0, l1, key0, seq, scale_log2, lane);
      else if (valid > 48) attend_tile<T, D, 8, true>(s_k(cur), s_v(cur), qf, o, m0, m1, l0, l1, key0, seq, scale_log2, lane);
      else if (valid > 32) attend_tile<T, D, 6, true>(s_k(cur), s_v(cur), qf, o, m0, m1, l0, l1, key0, seq, scale_log2, lane);
      else if (valid > 16) attend_tile<T, D, 4, true>(s_k(cur), s_v(cur), qf, o, m0, m1, l0, l1, key0, seq, scale_log2, lane);
      else attend_tile<T, D, 2, true>(s_k(cur), s_v(cur), qf, o, m0, m1, l0, l1, key0, seq, scale_log2, lane);
    }
    __syncthreads();  // every warp is done with buffers `cur` before iteration kt+1 refills them
  }

  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float inv0 = 1.0f / l0, inv1 = 1.0f / l1;

  // Stage the normalised tile in shared memory (k[0]; no copy is in flight and the loop ended with a
  // barrier), then write whole 16-byte chunks of each row.
  T* s_out = s_k(0);
  if (warp_active) {  // (an idle warp's rows are never stored)
#pragma unroll
    for (int n = 0; n < kDimTiles8; ++n) {
      const int c = n * 8 + 2 * t;
      *reinterpret_cast<std::uint32_t*>(s_out + qr * kLd + c) = pack2<T>(o[n][0] * inv0, o[n][1] * inv0);
      *reinterpret_cast<std::uint32_t*>(s_out + (qr + 8) * kLd + c) = pack2<T>(o[n][2] * inv1, o[n][3] * inv1);
    }
  }
  __syncthreads();
  T* out = y + static_cast<std::int64_t>(b) * seq * embed + static_cast<std::int64_t>(h) * D;
  for (int i = tid; i < kBr * kChunks; i += kThreadsPerBlock) {
    const int r = i / kChunks, c = i - r * kChunks;
    if (q0 + r < seq)
      *reinterpret_cast<uint4*>(out + static_cast<std::int64_t>(q0 + r) * embed + c * 8) =
          *reinterpret_cast<const uint4*>(s_out + r * kLd + c * 8);
  }
#else
  (void)qkv, (void)y, (void)seq, (void)heads, (void)scale_log2;
  __trap();  // the host gate (attention_unsupported) never launches this below sm_80
#endif
}

// ---------------------------------------------------------------------------------------------
// fp32 kernel: grid (B·H, ⌈S/32⌉), 128 threads, CUDA cores.
// Long on purpose (over 120 lines), for the same reason as attention_mma_kernel: per-thread state in
// registers across the key loop.
template <int D>
__global__ void __launch_bounds__(kThreadsPerBlock)
    attention_f32_kernel(const float* __restrict__ qkv, float* __restrict__ y, int seq, int heads,
                         float scale_log2) {
  static_assert(D % 16 == 0, "head dim must be a multiple of 16 (p·v micro-tiles)");
  constexpr int kBr = 32, kBc = 32;
  constexpr int kLd = D + 1;     // odd stride: column reads by 8 different rows hit 8 banks
  constexpr int kLdP = kBc + 1;
  constexpr int kChunks = D / 4;  // float4 chunks per row
  constexpr int kDimsPerThread = D / 16;
  __shared__ float s_q[kBr * kLd];
  __shared__ float s_kv[kBc * kLd];  // k tile, then (once the scores are out) v tile
  __shared__ float s_p[kBr * kLdP];  // scores, then probabilities
  __shared__ float s_alpha[kBr];
  __shared__ float s_l[kBr];

  const int tid = static_cast<int>(threadIdx.x);
  const int b = static_cast<int>(blockIdx.x) / heads, h = static_cast<int>(blockIdx.x) - b * heads;
  const int q0 = static_cast<int>(blockIdx.y) * kBr;
  const std::int64_t embed = static_cast<std::int64_t>(heads) * D;
  const std::int64_t row_stride = 3 * embed;
  const float* base = qkv + static_cast<std::int64_t>(b) * seq * row_stride + static_cast<std::int64_t>(h) * D;

  auto load_tile = [&](float* dst, const float* src, int row0) {
    for (int i = tid; i < kBr * kChunks; i += kThreadsPerBlock) {
      const int r = i / kChunks, c = i - r * kChunks;
      float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      if (row0 + r < seq) v = *reinterpret_cast<const float4*>(src + static_cast<std::int64_t>(row0 + r) * row_stride + c * 4);
      float* d = dst + r * kLd + c * 4;
      d[0] = v.x;
      d[1] = v.y;
      d[2] = v.z;
      d[3] = v.w;
    }
  };

  const int sr = tid >> 3, sc = tid & 7;   // scores: rows sr, sr+16; keys sc + 8j
  const int xr = tid >> 2, xp = tid & 3;   // softmax: row xr; keys 8xp … 8xp+7 (4 lanes a row)
  const int pr = tid >> 4, pc = tid & 15;  // p·v: rows pr + 8i; dims pc + 16j

  load_tile(s_q, base, q0);
  float o[4][kDimsPerThread];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < kDimsPerThread; ++j) o[i][j] = 0.0f;
  float m_run = -INFINITY, l_run = 0.0f;  // row xr's statistics, identical in its 4 lanes

  const int key_tiles = (seq + kBc - 1) / kBc;
  for (int kt = 0; kt < key_tiles; ++kt) {
    __syncthreads();  // previous p·v done with s_kv, s_p, s_alpha (and q staged on the first pass)
    load_tile(s_kv, base + embed, kt * kBc);
    __syncthreads();

    float acc[2][4] = {};
#pragma unroll 8
    for (int k = 0; k < D; ++k) {
      const float qa = s_q[sr * kLd + k], qb = s_q[(sr + 16) * kLd + k];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const float kv = s_kv[(sc + 8 * j) * kLd + k];
        acc[0][j] = fmaf(qa, kv, acc[0][j]);
        acc[1][j] = fmaf(qb, kv, acc[1][j]);
      }
    }
#pragma unroll
    for (int i = 0; i < 2; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j)
        s_p[(sr + 16 * i) * kLdP + sc + 8 * j] = kt * kBc + sc + 8 * j < seq ? acc[i][j] * scale_log2 : -INFINITY;
    __syncthreads();  // scores complete; k is dead

    load_tile(s_kv, base + 2 * embed, kt * kBc);
    float* prow = s_p + xr * kLdP + xp * 8;
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < 8; ++j) mx = fmaxf(mx, prow[j]);
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float mn = fmaxf(m_run, mx);  // finite: every tile holds a valid key
    const float alpha = exp2f(m_run - mn);
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const float p = exp2f(prow[j] - mn);
      prow[j] = p;
      sum += p;
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    l_run = l_run * alpha + sum;
    m_run = mn;
    if (xp == 0) s_alpha[xr] = alpha;
    __syncthreads();  // p, alpha and v ready

#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float a = s_alpha[pr + 8 * i];
#pragma unroll
      for (int j = 0; j < kDimsPerThread; ++j) o[i][j] *= a;
    }
#pragma unroll 4
    for (int key = 0; key < kBc; ++key) {
      float v[kDimsPerThread];
#pragma unroll
      for (int j = 0; j < kDimsPerThread; ++j) v[j] = s_kv[key * kLd + pc + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float p = s_p[(pr + 8 * i) * kLdP + key];
#pragma unroll
        for (int j = 0; j < kDimsPerThread; ++j) o[i][j] = fmaf(p, v[j], o[i][j]);
      }
    }
  }

  if (xp == 0) s_l[xr] = l_run;
  __syncthreads();
  float* out = y + static_cast<std::int64_t>(b) * seq * embed + static_cast<std::int64_t>(h) * D;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = pr + 8 * i;
    if (q0 + r >= seq) continue;
    const float inv = 1.0f / s_l[r];
#pragma unroll
    for (int j = 0; j < kDimsPerThread; ++j) out[static_cast<std::int64_t>(q0 + r) * embed + pc + 16 * j] = o[i][j] * inv;
  }
}

// ---------------------------------------------------------------------------------------------

bool supported_head_dim(std::int64_t d) { return d == 64 || d == 80 || d == 128; }

template <class T, int D>
void launch(const void* qkv, void* y, const AttentionDims& d, float scale_log2, cudaStream_t stream) {
  const int rows_per_block = std::is_same_v<T, float> ? 32 : 64;
  const std::int64_t q_tiles = (d.seq + rows_per_block - 1) / rows_per_block;
  if constexpr (std::is_same_v<T, float>) {
    const dim3 grid(static_cast<unsigned>(d.batch * d.heads), static_cast<unsigned>(q_tiles));
    attention_f32_kernel<D><<<grid, kThreadsPerBlock, 0, stream>>>(
        static_cast<const float*>(qkv), static_cast<float*>(y), static_cast<int>(d.seq), static_cast<int>(d.heads),
        scale_log2);
  } else {
    constexpr std::size_t smem = MmaShape<T, D>::kSmemBytes;  // 37 KiB at d = 64, 46 at 80, 70 at 128
    if constexpr (smem > 48 * 1024) {
      // Above the 48 KiB default a kernel must opt in; per device, idempotent, not a stream operation
      // (so it is allowed while a stream is being captured into a CUDA graph).
      CUDA_CHECK(cudaFuncSetAttribute(attention_mma_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(smem)));
    }
    const dim3 grid(static_cast<unsigned>(d.batch * d.heads * q_tiles));  // (b·h, query tile), tile fastest
    attention_mma_kernel<T, D><<<grid, kThreadsPerBlock, smem, stream>>>(
        static_cast<const T*>(qkv), static_cast<T*>(y), static_cast<int>(d.seq), static_cast<int>(d.heads),
        scale_log2);
  }
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace

std::optional<std::string> attention_unsupported(DType dtype, std::int64_t head_dim, int cc) {
  if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
    return "attention: dtype " + std::string(to_string(dtype)) + " is not supported (f32, f16, bf16)";
  if (!supported_head_dim(head_dim))
    return "attention: no kernel for head dim " + std::to_string(head_dim) + " (built for 64, 80, 128)";
  if (dtype != DType::f32 && cc < 80)
    return "attention: 16-bit attention uses tensor-core mma.sync m16n8k16, which needs sm_80 or newer (this GPU is sm_" +
           std::to_string(cc) + ")";
  return std::nullopt;
}

void attention(DType dtype, const void* qkv, void* y, const AttentionDims& d, cudaStream_t stream) {
  if (d.batch <= 0 || d.seq <= 0 || d.embed <= 0 || d.heads <= 0 || d.embed % d.heads != 0)
    throw InvalidInput("attention: need positive batch, seq, embed, heads with heads dividing embed; got batch " +
                       std::to_string(d.batch) + ", seq " + std::to_string(d.seq) + ", embed " +
                       std::to_string(d.embed) + ", heads " + std::to_string(d.heads));
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  if (auto why = attention_unsupported(dtype, d.head_dim(), device_cc(device))) throw Unsupported(*why);
  if (!detail::aligned16(qkv) || !detail::aligned16(y))
    throw InvalidInput("attention: qkv and y must be 16-byte aligned device pointers");
  if (d.seq > 65535LL * 32 || d.batch * d.heads * ((d.seq + 31) / 32) > 0x7fffffffLL)
    throw Unsupported("attention: batch·heads or sequence too large for one launch's grid");

  const float scale_log2 = static_cast<float>(1.4426950408889634 / std::sqrt(static_cast<double>(d.head_dim())));
  detail::dispatch_float(dtype, "attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    switch (d.head_dim()) {
      case 64: launch<T, 64>(qkv, y, d, scale_log2, stream); break;
      case 80: launch<T, 80>(qkv, y, d, scale_log2, stream); break;
      case 128: launch<T, 128>(qkv, y, d, scale_log2, stream); break;
      default: break;  // excluded by attention_unsupported
    }
  });
}

}  // namespace vramfit::cuda::kernels
