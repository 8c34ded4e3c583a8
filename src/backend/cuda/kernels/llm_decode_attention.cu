// backend/cuda/kernels/llm_decode_attention.cu — see llm_decode_attention.cuh.
#include "backend/cuda/kernels/llm_decode_attention.cuh"

#include <algorithm>
#include <cmath>

#include "backend/cuda/kernels/llm_common.cuh"

#include <cooperative_groups.h>

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

// Warps per block. 8 (for groups of ≤ 4 query heads, one step of K and V loads per 64-key chunk) was
// measured on the H200: 10.2 vs 10.7 µs at context 512 but 31.5 vs 28.2 µs at 4096 — so 4.
template <int G> inline constexpr int kWarpsFor = 4;
constexpr int kMaxClusterSplitsDev = 8;  // = kMaxClusterSplits (the host's launch limit below)
constexpr int kMaxChunk = 512;       // keys per split (score buffer)
constexpr int kMinChunk = 64;        // fewer keys per split than this is not worth a block
constexpr int kUnrollKeys = 4;       // 16-byte K/V loads in flight per lane (8 measured slower at 4096 keys: 33.7 vs 29.0 µs)

template <class T> __device__ __forceinline__ void to_float8(const uint4& u, float (&f)[8]) {
  const std::uint32_t w[4] = {u.x, u.y, u.z, u.w};
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
}

// Splits actually used for a sequence of `len` keys, and keys per split.
__host__ __device__ __forceinline__ int used_splits(int len, int splits) {
  const int by_len = (len + kMinChunk - 1) / kMinChunk;
  return by_len < splits ? (by_len > 0 ? by_len : 1) : splits;
}

// Reduce-scatter of G partial sums over the L lanes of a lane group (L a power of two, G ≤ L, both
// powers of two): at offsets L/2, L/4, … a lane keeps half of its remaining sums (the upper half if
// its offset bit is set) and adds the partner's copy of that half — G − 1 shuffles for the halving,
// then plain butterfly steps. Afterwards v[0] is the full sum of head `head` (returned).
template <int G, int L> __device__ __forceinline__ int reduce_scatter(float (&v)[G], int lane) {
  int head = 0;
  int cnt = G;
#pragma unroll
  for (int o = L / 2; o >= 1; o >>= 1) {
    if (cnt > 1) {
      const int half = cnt / 2;
      const bool upper = (lane & o) != 0;
#pragma unroll
      for (int i = 0; i < G / 2; ++i) {
        if (i < half) {
          const float send = upper ? v[i] : v[i + half];
          const float keep = upper ? v[i + half] : v[i];
          v[i] = keep + __shfl_xor_sync(0xffffffffu, send, o);
        }
      }
      if (upper) head += half;
      cnt = half;
    } else {
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], o);
    }
  }
  return head;
}

// Grid (splits, batch·H_kv). G = group size rounded up to a power of two (padded heads have q = 0 and
// are never stored).
// Long on purpose (over 120 lines): the query, the running max/sum and the output accumulators of the
// whole group stay in registers across the key loop, and the cluster merge reads them in place.
// CLUSTER (sm_90+): the splits of one (sequence, kv head) are one thread-block cluster; each block
// leaves its partial (m, l, unnormalised o) in its shared memory and the cluster's first block merges
// them through distributed shared memory — no partials in global memory and no second kernel.
template <class T, int D, int G, bool CLUSTER = false, int kWarps = kWarpsFor<G>, int kThreadsDecode = 32 * kWarpsFor<G>>
__global__ void __launch_bounds__(kThreadsDecode) decode_attention_kernel(
    const T* __restrict__ q, const T* __restrict__ ck, const T* __restrict__ cv, T* __restrict__ o,
    float* __restrict__ part_o, float* __restrict__ part_ml, const std::int32_t* __restrict__ seq_lens, int heads,
    int kv_heads, int group, std::int64_t max_ctx, std::int64_t q_stride, std::int64_t o_stride, float scale_log2) {
  constexpr int L = D / 8;        // lanes per key (8 values = 16 bytes each)
  constexpr int KPW = 32 / L;     // keys per warp step
  constexpr int KPB = KPW * kWarps;
  static_assert(G <= L, "group larger than the lanes of a key");
  detail::pdl_trigger();  // the o-projection GEMV may start streaming its weights now
  __shared__ float s_p[G][kMaxChunk];
  __shared__ float s_red[kWarps][G][D];
  __shared__ float s_m[G], s_l[G];

  const int tid = static_cast<int>(threadIdx.x), warp = tid >> 5, lane = tid & 31;
  const int sub = lane % L, key_in_warp = lane / L;
  const int bh = static_cast<int>(blockIdx.y), b = bh / kv_heads, hk = bh - b * kv_heads;
  const int splits = static_cast<int>(gridDim.x), split = static_cast<int>(blockIdx.x);
  const int len = seq_lens[b];
  const int n_s = used_splits(len, splits);
  if (!CLUSTER && split >= n_s) return;  // a cluster's idle blocks stay for its barriers (count 0)
  const int chunk = (len + n_s - 1) / n_s;
  const int j0 = split * chunk;
  const int j1 = min(len, j0 + chunk);
  const int count = split < n_s ? max(0, j1 - j0) : 0;

  const std::int64_t cache_off = (static_cast<std::int64_t>(b) * kv_heads + hk) * max_ctx * D;
  const T* kb = ck + cache_off + sub * 8;
  const T* vb = cv + cache_off + sub * 8;

  // q of the group's heads, this lane's 8 dims, scaled into the log2 domain.
  float qf[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    if (g < group) {
      const T* qp = q + static_cast<std::int64_t>(b) * q_stride + static_cast<std::int64_t>(hk * group + g) * D + sub * 8;
      to_float8<T>(*reinterpret_cast<const uint4*>(qp), qf[g]);
#pragma unroll
      for (int e = 0; e < 8; ++e) qf[g][e] *= scale_log2;
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) qf[g][e] = 0.0f;
    }
  }

  // Scores. The V vectors of the first step are loaded with its K vectors (they do not depend on the
  // scores), so a chunk of ≤ KPB·kUnrollKeys keys costs one memory round trip, not two.
  uint4 v_first[kUnrollKeys];
  for (int jb = warp * KPW; jb < count; jb += KPB * kUnrollKeys) {
    uint4 kv[kUnrollKeys];
#pragma unroll
    for (int u = 0; u < kUnrollKeys; ++u) {
      const int j = jb + u * KPB + key_in_warp;
      if (j < count) kv[u] = *reinterpret_cast<const uint4*>(kb + static_cast<std::int64_t>(j0 + j) * D);
      else kv[u] = make_uint4(0, 0, 0, 0);
    }
    if (jb == warp * KPW) {
#pragma unroll
      for (int u = 0; u < kUnrollKeys; ++u) {
        const int j = jb + u * KPB + key_in_warp;
        v_first[u] = j < count ? *reinterpret_cast<const uint4*>(vb + static_cast<std::int64_t>(j0 + j) * D) : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnrollKeys; ++u) {
      const int j = jb + u * KPB + key_in_warp;
      float kf[8];
      to_float8<T>(kv[u], kf);
      float p[G];
#pragma unroll
      for (int g = 0; g < G; ++g) {
        p[g] = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) p[g] = fmaf(qf[g][e], kf[e], p[g]);
      }
      const int head = reduce_scatter<G, L>(p, sub);
      if (j < count && (sub & (L / G - 1)) == 0) s_p[head][j] = p[0];
    }
  }
  __syncthreads();

  // Softmax statistics per head (a warp per head).
  for (int g = warp; g < G; g += kWarps) {
    float m = -INFINITY;
    for (int j = lane; j < count; j += 32) m = fmaxf(m, s_p[g][j]);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    float l = 0.0f;
    for (int j = lane; j < count; j += 32) {
      const float e = exp2f(s_p[g][j] - m);
      s_p[g][j] = e;
      l += e;
    }
    l = detail::warp_sum(l);
    if (lane == 0) {
      s_m[g] = m;
      s_l[g] = l;
    }
  }
  __syncthreads();

  // p·V.
  float acc[G][8];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < 8; ++e) acc[g][e] = 0.0f;
  for (int jb = warp * KPW; jb < count; jb += KPB * kUnrollKeys) {
    uint4 vv[kUnrollKeys];
    const bool first = jb == warp * KPW;
#pragma unroll
    for (int u = 0; u < kUnrollKeys; ++u) {
      const int j = jb + u * KPB + key_in_warp;
      if (first) vv[u] = v_first[u];
      else if (j < count) vv[u] = *reinterpret_cast<const uint4*>(vb + static_cast<std::int64_t>(j0 + j) * D);
    }
#pragma unroll
    for (int u = 0; u < kUnrollKeys; ++u) {
      const int j = jb + u * KPB + key_in_warp;
      if (j < count) {
        float vf[8];
        to_float8<T>(vv[u], vf);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float p = s_p[g][j];
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[g][e] = fmaf(p, vf[e], acc[g][e]);
        }
      }
    }
  }
  // Lanes with the same `sub` hold the same dims: butterfly over the key groups of the warp.
#pragma unroll
  for (int off = L; off < 32; off <<= 1)
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[g][e] += __shfl_xor_sync(0xffffffffu, acc[g][e], off);
  if (key_in_warp == 0) {
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
      for (int e = 0; e < 8; ++e) s_red[warp][g][sub * 8 + e] = acc[g][e];
  }
  __syncthreads();

  if constexpr (CLUSTER) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    __shared__ float s_po[G][D];
    for (int i = tid; i < G * D; i += kThreadsDecode) {
      const int g = i / D, dim = i - g * D;
      float sum = 0.0f;
#pragma unroll
      for (int w = 0; w < kWarps; ++w) sum += s_red[w][g][dim];
      s_po[g][dim] = sum;
    }
    if (tid < G && count == 0) s_l[tid] = 0.0f;  // an idle block's partial weighs nothing
    namespace cg = cooperative_groups;
    cg::cluster_group cluster = cg::this_cluster();
    cluster.sync();
    if (cluster.block_rank() == 0) {
      for (int i = tid; i < G * D; i += kThreadsDecode) {
        const int g = i / D, dim = i - g * D;
        if (g >= group) continue;
        // Every rank's (m, l, o) loaded first (independent remote loads in flight together), then merged.
        float mr[kMaxClusterSplitsDev], lr[kMaxClusterSplitsDev], orr[kMaxClusterSplitsDev];
#pragma unroll
        for (int r = 0; r < kMaxClusterSplitsDev; ++r) {
          const bool live = r < n_s;
          lr[r] = live ? cluster.map_shared_rank(&s_l[0], r)[g] : 0.0f;
          mr[r] = live ? cluster.map_shared_rank(&s_m[0], r)[g] : -INFINITY;
          orr[r] = live ? cluster.map_shared_rank(&s_po[0][0], r)[g * D + dim] : 0.0f;
        }
        float m = -INFINITY;
#pragma unroll
        for (int r = 0; r < kMaxClusterSplitsDev; ++r)
          if (lr[r] > 0.0f) m = fmaxf(m, mr[r]);
        float l = 0.0f, acc_o = 0.0f;
#pragma unroll
        for (int r = 0; r < kMaxClusterSplitsDev; ++r)
          if (lr[r] > 0.0f) {
            const float w = exp2f(mr[r] - m);
            l = fmaf(w, lr[r], l);
            acc_o = fmaf(w, orr[r], acc_o);
          }
        const int h = hk * group + g;
        o[static_cast<std::int64_t>(b) * o_stride + static_cast<std::int64_t>(h) * D + dim] =
            detail::from_float<T>(l > 0.0f ? acc_o / l : 0.0f);
      }
    }
    cluster.sync();  // the other blocks' shared memory stays alive until the first block has read it
#endif
    return;
  }
  const bool single = splits == 1;
  for (int i = tid; i < G * D; i += kThreadsDecode) {
    const int g = i / D, dim = i - g * D;
    if (g >= group) continue;
    float sum = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) sum += s_red[w][g][dim];
    const int h = hk * group + g;
    if (single) {
      o[static_cast<std::int64_t>(b) * o_stride + static_cast<std::int64_t>(h) * D + dim] =
          detail::from_float<T>(count > 0 ? sum / s_l[g] : 0.0f);
    } else {
      const std::int64_t slot = (static_cast<std::int64_t>(b) * heads + h) * splits + split;
      part_o[slot * D + dim] = sum;
      if (dim == 0) {
        part_ml[2 * slot] = s_m[g];
        part_ml[2 * slot + 1] = count > 0 ? s_l[g] : 0.0f;
      }
    }
  }
}

// Grid batch·H, D threads: merge the used splits of one (b, h).
template <class T, int D>
__global__ void __launch_bounds__(D) decode_combine_kernel(const float* __restrict__ part_o,
                                                           const float* __restrict__ part_ml,
                                                           const std::int32_t* __restrict__ seq_lens, T* __restrict__ o,
                                                           int heads, int splits, std::int64_t o_stride) {
  detail::pdl_trigger();
  const int bh = static_cast<int>(blockIdx.x), b = bh / heads, h = bh - b * heads;
  const int n_s = used_splits(seq_lens[b], splits);
  const std::int64_t slot0 = static_cast<std::int64_t>(bh) * splits;
  float m = -INFINITY;
  for (int s = 0; s < n_s; ++s)
    if (part_ml[2 * (slot0 + s) + 1] > 0.0f) m = fmaxf(m, part_ml[2 * (slot0 + s)]);
  float l = 0.0f, acc = 0.0f;
  const int dim = static_cast<int>(threadIdx.x);
  for (int s = 0; s < n_s; ++s) {
    const float ls = part_ml[2 * (slot0 + s) + 1];
    if (ls > 0.0f) {
      const float w = exp2f(part_ml[2 * (slot0 + s)] - m);
      l = fmaf(w, ls, l);
      acc = fmaf(w, part_o[(slot0 + s) * D + dim], acc);
    }
  }
  o[static_cast<std::int64_t>(b) * o_stride + static_cast<std::int64_t>(h) * D + dim] =
      detail::from_float<T>(l > 0.0f ? acc / l : 0.0f);
}

// Clusters of up to 8 blocks are portable on sm_90+; the cluster kernel is compiled for those only.
constexpr int kMaxClusterSplits = kMaxClusterSplitsDev;

int pow2_group(std::int64_t group) {
  int g = 1;
  while (g < group) g *= 2;
  return g;
}

}  // namespace

std::optional<std::string> decode_attention_unsupported(DType dtype, std::int64_t head_dim, std::int64_t group) {
  if (dtype != DType::f16 && dtype != DType::bf16)
    return "decode_attention: dtype " + std::string(to_string(dtype)) + " is not supported (f16, bf16)";
  if (head_dim != 64 && head_dim != 128)
    return "decode_attention: no kernel for head dim " + std::to_string(head_dim) + " (built for 64, 128)";
  if (group < 1 || group > 8)
    return "decode_attention: " + std::to_string(group) + " query heads per kv head (supported: 1 … 8)";
  return std::nullopt;
}

int decode_attention_splits(const DecodeAttentionArgs& a, int sm_count) {
  const std::int64_t groups = std::max<std::int64_t>(1, a.batch * a.kv_heads);
  const std::int64_t min_splits = (a.max_ctx + kMaxChunk - 1) / kMaxChunk;
  const std::int64_t max_splits = std::max<std::int64_t>(1, (a.max_ctx + kMinChunk - 1) / kMinChunk);
  const std::int64_t fill = (4LL * std::max(sm_count, 1) + groups - 1) / groups;  // ~4 blocks per SM
  return static_cast<int>(std::max<std::int64_t>(min_splits, std::min(fill, max_splits)));
}

std::uint64_t decode_attention_scratch_bytes(const DecodeAttentionArgs& a, int splits) {
  if (splits <= 1) return 0;
  return static_cast<std::uint64_t>(a.batch * a.heads * splits) * static_cast<std::uint64_t>(a.head_dim + 2) * 4u;
}

void decode_attention(DType dtype, const void* q, const void* cache_k, const void* cache_v, void* o,
                      const DecodeAttentionArgs& a, int splits, void* scratch, cudaStream_t stream) {
  llm::require(a.batch > 0 && a.heads > 0 && a.kv_heads > 0 && a.max_ctx > 0 && a.heads % a.kv_heads == 0,
               "decode_attention: batch, heads, kv_heads, max_ctx must be positive and kv_heads must divide heads");
  if (auto why = decode_attention_unsupported(dtype, a.head_dim, a.heads / a.kv_heads)) throw Unsupported(*why);
  const std::int64_t q_stride = a.q_stride > 0 ? a.q_stride : a.heads * a.head_dim;
  const std::int64_t o_stride = a.o_stride > 0 ? a.o_stride : a.heads * a.head_dim;
  llm::require(q_stride >= a.heads * a.head_dim && o_stride >= a.heads * a.head_dim && q_stride % 8 == 0,
               "decode_attention: q_stride / o_stride must cover the heads (q_stride a multiple of 8)");
  llm::require(a.max_ctx <= 0x7fffffff && a.batch * a.kv_heads <= 65535,
               "decode_attention: max_ctx < 2^31 and batch·kv_heads ≤ 65535");
  llm::require(splits >= 1 && splits <= 65535 && static_cast<std::int64_t>(splits) * kMaxChunk >= a.max_ctx,
               "decode_attention: splits must be ≥ ⌈max_ctx/512⌉ (use decode_attention_splits)");
  llm::require(splits == 1 || (scratch != nullptr && detail::aligned16(scratch)),
               "decode_attention: splits > 1 needs 16-byte aligned scratch of decode_attention_scratch_bytes()");
  llm::require(q != nullptr && cache_k != nullptr && cache_v != nullptr && o != nullptr && a.seq_lens != nullptr &&
                   detail::aligned16(q) && detail::aligned16(cache_k) && detail::aligned16(cache_v),
               "decode_attention: null or misaligned pointer (q and the cache must be 16-byte aligned)");
  const double scale = a.softmax_scale > 0.0f ? a.softmax_scale : 1.0 / std::sqrt(static_cast<double>(a.head_dim));
  const auto scale_log2 = static_cast<float>(scale * 1.4426950408889634);
  const int G = pow2_group(a.heads / a.kv_heads);
  llm::dispatch_16bit(dtype, "decode_attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto run = [&](auto dtag, auto gtag) {
      constexpr int D = decltype(dtag)::value, GG = decltype(gtag)::value;
      float* part_o = splits > 1 ? static_cast<float*>(scratch) : nullptr;
      float* part_ml = part_o == nullptr ? nullptr : part_o + a.batch * a.heads * splits * D;
      const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(a.batch * a.kv_heads));
      if (splits > 1 && splits <= kMaxClusterSplits && detail::sm90_or_newer()) {
        cudaLaunchAttribute attr[1];
        attr[0].id = cudaLaunchAttributeClusterDimension;
        attr[0].val.clusterDim = {static_cast<unsigned>(splits), 1, 1};
        detail::launch_with(decode_attention_kernel<T, D, GG, true>, grid, dim3(32 * kWarpsFor<GG>), 0, stream, attr, 1,
                            static_cast<const T*>(q), static_cast<const T*>(cache_k), static_cast<const T*>(cache_v),
                            static_cast<T*>(o), static_cast<float*>(nullptr), static_cast<float*>(nullptr), a.seq_lens,
                            static_cast<int>(a.heads), static_cast<int>(a.kv_heads),
                            static_cast<int>(a.heads / a.kv_heads), a.max_ctx, q_stride, o_stride, scale_log2);
        return;
      }
      decode_attention_kernel<T, D, GG><<<grid, 32 * kWarpsFor<GG>, 0, stream>>>(
          static_cast<const T*>(q), static_cast<const T*>(cache_k), static_cast<const T*>(cache_v), static_cast<T*>(o),
          part_o, part_ml, a.seq_lens, static_cast<int>(a.heads), static_cast<int>(a.kv_heads),
          static_cast<int>(a.heads / a.kv_heads), a.max_ctx, q_stride, o_stride, scale_log2);
      CUDA_CHECK(cudaGetLastError());
      if (splits > 1) {
        decode_combine_kernel<T, D><<<static_cast<unsigned>(a.batch * a.heads), D, 0, stream>>>(
            part_o, part_ml, a.seq_lens, static_cast<T*>(o), static_cast<int>(a.heads), splits, o_stride);
        CUDA_CHECK(cudaGetLastError());
      }
    };
    auto by_g = [&](auto dtag) {
      switch (G) {
        case 1: run(dtag, std::integral_constant<int, 1>{}); break;
        case 2: run(dtag, std::integral_constant<int, 2>{}); break;
        case 4: run(dtag, std::integral_constant<int, 4>{}); break;
        default: run(dtag, std::integral_constant<int, 8>{}); break;
      }
    };
    if (a.head_dim == 64) by_g(std::integral_constant<int, 64>{});
    else by_g(std::integral_constant<int, 128>{});
  });
}

}  // namespace vramfit::cuda::kernels
