// backend/cuda/kernels/llm_prefill_attention.cu — see llm_prefill_attention.cuh. The kernel is
// attention.cu's 16-bit FlashAttention kernel (read that file's comments for the fragment layouts and
// the pipeline) with strided q/k/v/o, GQA and the causal mask added.
#include "backend/cuda/kernels/llm_prefill_attention.cuh"

#include <cmath>

#include "backend/cuda/kernels/llm_common.cuh"
#include "backend/cuda/kernels/mma_sm80.cuh"

namespace vramfit::cuda::kernels {
namespace {

using mma::cp_async16;
using mma::cp_async_commit;
using mma::cp_async_wait;
using mma::ldmatrix_x4_trans;
using mma::load32;
using mma::mma_16816;
using mma::pack2;

constexpr int kThreadsPrefill = 128;  // 4 warps × 16 query rows

struct KernelArgs {
  int q_len, kv_len, heads, group;
  std::int64_t q_offset;
  bool causal;
  float scale_log2;
  AttnStrides q, k, v, o;
};

template <class T, int D> struct Shape {
  static constexpr int kBr = 64, kBc = 64;
  static constexpr int kLd = D + 8;
  static constexpr std::size_t kTileElems = static_cast<std::size_t>(kBc) * kLd;
  static constexpr std::size_t kSmemBytes = 4 * kTileElems * sizeof(T);
};

constexpr int min_blocks(int d) { return d <= 64 ? 3 : 2; }  // 4 at d = 64 spills (the 64-bit strides)

// Grid (⌈q_len/64⌉, batch·H); query tile = gridDim.x − 1 − blockIdx.x (longest causal rows first).
// One long kernel on purpose: the Q fragments, the running max/sum and the O accumulators live in
// registers across the load → scores → softmax → P·V loop; splitting it into device functions would
// pass those arrays by reference and, without a GPU benchmark at hand, risk spills for no gain in reading.
template <class T, int D>
__global__ void __launch_bounds__(kThreadsPrefill, min_blocks(D))
    prefill_attention_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                             T* __restrict__ o, const KernelArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  static_assert(D % 16 == 0, "head dim must be a multiple of 16");
  using S = Shape<T, D>;
  constexpr int kBr = S::kBr, kBc = S::kBc, kLd = S::kLd;
  constexpr int kChunks = D / 8;
  constexpr int kKeyTiles8 = kBc / 8, kDimTiles8 = D / 8;
  extern __shared__ __align__(16) unsigned char smem[];
  T* const tiles = reinterpret_cast<T*>(smem);
  auto s_k = [tiles](int i) { return tiles + static_cast<std::size_t>(i) * S::kTileElems; };
  auto s_v = [tiles](int i) { return tiles + static_cast<std::size_t>(2 + i) * S::kTileElems; };

  const int tid = static_cast<int>(threadIdx.x);
  const int warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int b = static_cast<int>(blockIdx.y) / a.heads, h = static_cast<int>(blockIdx.y) - b * a.heads;
  const int hk = h / a.group;
  const int q0 = static_cast<int>(gridDim.x - 1 - blockIdx.x) * kBr;
  const T* qb = q + b * a.q.batch + h * a.q.head;
  const T* kb = k + b * a.k.batch + hk * a.k.head;
  const T* vb = v + b * a.v.batch + hk * a.v.head;

  // Rows row0 … row0+63 (stride `rs`, `limit` valid rows) into dst; rows past the limit are zeros.
  auto load_tile_async = [&](T* dst, const T* src, std::int64_t rs, int row0, int limit) {
    for (int i = tid; i < kBr * kChunks; i += kThreadsPrefill) {
      const int r = i / kChunks, c = i - r * kChunks;
      const bool valid = row0 + r < limit;
      const T* from = valid ? src + (row0 + r) * rs + c * 8 : src;
      cp_async16(dst + r * kLd + c * 8, from, valid);
    }
  };

  // Key tiles this query tile needs: all up to kv_len, and under the causal mask only up to the one
  // holding the position of the tile's last row.
  int key_tiles = (a.kv_len + kBc - 1) / kBc;
  if (a.causal) {
    const std::int64_t last_pos = a.q_offset + q0 + kBr - 1;
    const std::int64_t need = last_pos / kBc + 1;
    if (need < key_tiles) key_tiles = static_cast<int>(need);
  }

  load_tile_async(s_k(1), qb, a.q.token, q0, a.q_len);
  cp_async_commit();
  load_tile_async(s_k(0), kb, a.k.token, 0, a.kv_len);
  load_tile_async(s_v(0), vb, a.v.token, 0, a.kv_len);
  cp_async_commit();
  cp_async_wait<1>();
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
  __syncthreads();

  float acc[kDimTiles8][4];
#pragma unroll
  for (int n = 0; n < kDimTiles8; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
  const bool warp_active = q0 + warp * 16 < a.q_len;
  // Positions of this thread's two rows, and of the warp's last row (for skipping whole key tiles).
  const std::int64_t pos0 = a.q_offset + q0 + qr, pos1 = pos0 + 8;
  const std::int64_t warp_last_pos = a.q_offset + q0 + warp * 16 + 15;

  for (int kt = 0; kt < key_tiles; ++kt) {
    const int cur = kt & 1;
    if (kt + 1 < key_tiles) {
      load_tile_async(s_k(cur ^ 1), kb, a.k.token, (kt + 1) * kBc, a.kv_len);
      load_tile_async(s_v(cur ^ 1), vb, a.v.token, (kt + 1) * kBc, a.kv_len);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    // Warp-uniform: a warp whose rows precede this whole key tile (causal) has nothing to add.
    if (warp_active && (!a.causal || static_cast<std::int64_t>(kt) * kBc <= warp_last_pos)) {
      const T* sk = s_k(cur);
      const T* sv = s_v(cur);
      float s[kKeyTiles8][4];
#pragma unroll
      for (int n = 0; n < kKeyTiles8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
      for (int ks = 0; ks < D / 16; ++ks) {
#pragma unroll
        for (int n = 0; n < kKeyTiles8; ++n) {
          const T* kp = sk + (n * 8 + g) * kLd + ks * 16 + 2 * t;
          mma_16816<T>(s[n], qf[ks], load32(kp), load32(kp + 8));
        }
      }
      const int key0 = kt * kBc + 2 * t;
      float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
      for (int n = 0; n < kKeyTiles8; ++n) {
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int key = key0 + n * 8 + e;
          const bool in = key < a.kv_len;
          const bool v0 = in && (!a.causal || key <= pos0), v1 = in && (!a.causal || key <= pos1);
          s[n][e] = v0 ? s[n][e] * a.scale_log2 : -INFINITY;
          s[n][2 + e] = v1 ? s[n][2 + e] * a.scale_log2 : -INFINITY;
          mx0 = fmaxf(mx0, s[n][e]);
          mx1 = fmaxf(mx1, s[n][2 + e]);
        }
      }
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
      const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1);
      // A row with no visible key so far keeps m = −∞; shift by 0 then so that no −∞ − (−∞) appears
      // (its p are all 0 and its rescale factor is irrelevant: l and acc are still 0).
      const float sh0 = mn0 == -INFINITY ? 0.0f : mn0, sh1 = mn1 == -INFINITY ? 0.0f : mn1;
      const float a0 = exp2f(m0 - sh0), a1 = exp2f(m1 - sh1);
      m0 = mn0;
      m1 = mn1;
      float ls0 = 0.0f, ls1 = 0.0f;
#pragma unroll
      for (int n = 0; n < kKeyTiles8; ++n) {
        s[n][0] = exp2f(s[n][0] - sh0);
        s[n][1] = exp2f(s[n][1] - sh0);
        s[n][2] = exp2f(s[n][2] - sh1);
        s[n][3] = exp2f(s[n][3] - sh1);
        ls0 += s[n][0] + s[n][1];
        ls1 += s[n][2] + s[n][3];
      }
      l0 = l0 * a0 + ls0;
      l1 = l1 * a1 + ls1;
#pragma unroll
      for (int n = 0; n < kDimTiles8; ++n) {
        acc[n][0] *= a0;
        acc[n][1] *= a0;
        acc[n][2] *= a1;
        acc[n][3] *= a1;
      }
      const int mi = lane >> 3, r8 = lane & 7;
#pragma unroll
      for (int ks = 0; ks < kBc / 16; ++ks) {
        const std::uint32_t pa[4] = {pack2<T>(s[2 * ks][0], s[2 * ks][1]), pack2<T>(s[2 * ks][2], s[2 * ks][3]),
                                     pack2<T>(s[2 * ks + 1][0], s[2 * ks + 1][1]),
                                     pack2<T>(s[2 * ks + 1][2], s[2 * ks + 1][3])};
        const T* vrow = sv + (ks * 16 + (mi & 1) * 8 + r8) * kLd + (mi >> 1) * 8;
#pragma unroll
        for (int np = 0; np < D / 16; ++np) {
          std::uint32_t vbf[4];
          ldmatrix_x4_trans(vbf, vrow + np * 16);
          mma_16816<T>(acc[2 * np], pa, vbf[0], vbf[1]);
          mma_16816<T>(acc[2 * np + 1], pa, vbf[2], vbf[3]);
        }
      }
    }
    __syncthreads();
  }

  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;

  T* s_out = s_k(0);
  if (warp_active) {
#pragma unroll
    for (int n = 0; n < kDimTiles8; ++n) {
      const int c = n * 8 + 2 * t;
      *reinterpret_cast<std::uint32_t*>(s_out + qr * kLd + c) = pack2<T>(acc[n][0] * inv0, acc[n][1] * inv0);
      *reinterpret_cast<std::uint32_t*>(s_out + (qr + 8) * kLd + c) = pack2<T>(acc[n][2] * inv1, acc[n][3] * inv1);
    }
  }
  __syncthreads();
  T* ob = o + b * a.o.batch + h * a.o.head;
  for (int i = tid; i < kBr * kChunks; i += kThreadsPrefill) {
    const int r = i / kChunks, c = i - r * kChunks;
    if (q0 + r < a.q_len)
      *reinterpret_cast<uint4*>(ob + (q0 + r) * a.o.token + c * 8) = *reinterpret_cast<const uint4*>(s_out + r * kLd + c * 8);
  }
#else
  (void)q, (void)k, (void)v, (void)o, (void)a;
  __trap();  // the host gate never launches this below sm_80
#endif
}

bool strides_ok(const AttnStrides& s) { return s.batch % 8 == 0 && s.token % 8 == 0 && s.head % 8 == 0 && s.token > 0; }

}  // namespace

std::optional<std::string> prefill_attention_unsupported(DType dtype, std::int64_t head_dim, int cc) {
  if (dtype != DType::f16 && dtype != DType::bf16)
    return "prefill_attention: dtype " + std::string(to_string(dtype)) + " is not supported (f16, bf16)";
  if (head_dim != 64 && head_dim != 128)
    return "prefill_attention: no kernel for head dim " + std::to_string(head_dim) + " (built for 64, 128)";
  if (cc < 80)
    return "prefill_attention: tensor-core mma.sync m16n8k16 needs sm_80 or newer (this GPU is sm_" +
           std::to_string(cc) + ")";
  return std::nullopt;
}

void prefill_attention(DType dtype, const void* q, const void* k, const void* v, void* o,
                       const PrefillAttentionArgs& a, cudaStream_t stream) {
  llm::require(a.batch > 0 && a.q_len > 0 && a.kv_len > 0 && a.heads > 0 && a.kv_heads > 0 &&
                   a.heads % a.kv_heads == 0 && a.q_offset >= 0,
               "prefill_attention: batch, q_len, kv_len, heads, kv_heads must be positive, kv_heads must divide heads, "
               "q_offset ≥ 0");
  llm::require(a.q_len <= 65535LL * 64 && a.kv_len <= 0x7fffffff && a.batch * a.heads <= 65535,
               "prefill_attention: q_len ≤ 4194240, batch·heads ≤ 65535");
  if (auto why = prefill_attention_unsupported(dtype, a.head_dim, llm::current_cc())) throw Unsupported(*why);
  llm::require(strides_ok(a.q) && strides_ok(a.k) && strides_ok(a.v) && strides_ok(a.o),
               "prefill_attention: strides must be multiples of 8 elements (16-byte rows), token strides positive");
  llm::require(q != nullptr && k != nullptr && v != nullptr && o != nullptr && detail::aligned16(q) &&
                   detail::aligned16(k) && detail::aligned16(v) && detail::aligned16(o),
               "prefill_attention: q, k, v, o must be 16-byte aligned device pointers");
  const double scale = a.softmax_scale > 0.0f ? a.softmax_scale : 1.0 / std::sqrt(static_cast<double>(a.head_dim));
  KernelArgs ka{static_cast<int>(a.q_len), static_cast<int>(a.kv_len), static_cast<int>(a.heads),
                static_cast<int>(a.heads / a.kv_heads), a.q_offset, a.causal,
                static_cast<float>(scale * 1.4426950408889634), a.q, a.k, a.v, a.o};
  const dim3 grid(static_cast<unsigned>((a.q_len + 63) / 64), static_cast<unsigned>(a.batch * a.heads));
  llm::dispatch_16bit(dtype, "prefill_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto go = [&](auto dtag) {
      constexpr int D = decltype(dtag)::value;
      constexpr std::size_t smem = Shape<T, D>::kSmemBytes;
      if constexpr (smem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(prefill_attention_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(smem)));
      prefill_attention_kernel<T, D><<<grid, kThreadsPrefill, smem, stream>>>(
          static_cast<const T*>(q), static_cast<const T*>(k), static_cast<const T*>(v), static_cast<T*>(o), ka);
      CUDA_CHECK(cudaGetLastError());
    };
    if (a.head_dim == 64) go(std::integral_constant<int, 64>{});
    else go(std::integral_constant<int, 128>{});
  });
}

}  // namespace vramfit::cuda::kernels
