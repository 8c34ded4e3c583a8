// backend/cuda/kernels/spatial_attention.cu — see spatial_attention.cuh.
#include "backend/cuda/kernels/spatial_attention.cuh"

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

constexpr int kTile = 64;  // queries per block = keys per shared-memory tile = threads per block

struct Geometry {
  int heads, kd, hd, S;
  float scale;
};

// Element (image b, channel ch, position n) of a [B, C, S] tensor stored NCHW or NHWC.
template <bool kNhwc>
__device__ __forceinline__ std::int64_t at(std::int64_t b, int ch, int n, int C, int S) {
  if constexpr (kNhwc) return (b * S + n) * C + ch;
  else return (b * C + ch) * static_cast<std::int64_t>(S) + n;
}

template <class T, bool kNhwc, int KD, int HD>
__global__ void __launch_bounds__(kTile) spatial_attention_kernel(const T* qkv, T* y, Geometry g) {
  extern __shared__ float smem[];
  float* ks = smem;                 // [kd][kTile]
  float* vs = smem + g.kd * kTile;  // [hd][kTile]
  const int per_head = 2 * g.kd + g.hd, C = g.heads * per_head, Cout = g.heads * g.hd;
  const int head = static_cast<int>(blockIdx.y) % g.heads;
  const std::int64_t b = static_cast<int>(blockIdx.y) / g.heads;
  const int n = static_cast<int>(blockIdx.x) * kTile + static_cast<int>(threadIdx.x);
  const int base = head * per_head;
  const bool active = n < g.S;

  float q[KD], acc[HD];
#pragma unroll
  for (int c = 0; c < KD; ++c) q[c] = (active && c < g.kd) ? to_float(qkv[at<kNhwc>(b, base + c, n, C, g.S)]) * g.scale : 0.0f;
#pragma unroll
  for (int c = 0; c < HD; ++c) acc[c] = 0.0f;
  float m = -INFINITY, l = 0.0f;

  const int kv = g.kd + g.hd;  // key and value channels are adjacent: [base + kd, base + 2kd + hd)
  for (int t0 = 0; t0 < g.S; t0 += kTile) {
    const int keys = min(kTile, g.S - t0);
    __syncthreads();
    for (int i = threadIdx.x; i < kv * kTile; i += kTile) {
      // NHWC: consecutive threads take consecutive channels of one position; NCHW: consecutive positions.
      int ch, key;
      if constexpr (kNhwc) { key = i / kv; ch = i - key * kv; }
      else { ch = i / kTile; key = i - ch * kTile; }
      const float v = key < keys ? to_float(qkv[at<kNhwc>(b, base + g.kd + ch, t0 + key, C, g.S)]) : 0.0f;
      smem[ch * kTile + key] = v;  // ks then vs: channel ch < kd is a key channel, the rest values
    }
    __syncthreads();
    if (!active) continue;
    for (int j = 0; j < keys; ++j) {
      float s = 0.0f;
#pragma unroll
      for (int c = 0; c < KD; ++c)
        if (c < g.kd) s = fmaf(q[c], ks[c * kTile + j], s);
      if (s > m) {
        const float corr = __expf(m - s);  // 0 on the first key (m = −∞)
        l *= corr;
#pragma unroll
        for (int c = 0; c < HD; ++c) acc[c] *= corr;
        m = s;
      }
      const float p = __expf(s - m);
      l += p;
#pragma unroll
      for (int c = 0; c < HD; ++c)
        if (c < g.hd) acc[c] = fmaf(p, vs[c * kTile + j], acc[c]);
    }
  }
  if (!active) return;
  const float inv = 1.0f / l;
#pragma unroll
  for (int c = 0; c < HD; ++c)
    if (c < g.hd) y[at<kNhwc>(b, head * g.hd + c, n, Cout, g.S)] = detail::from_float<T>(acc[c] * inv);
}

template <class T, int KD, int HD>
void launch(Layout layout, const void* qkv, void* y, const SpatialAttentionDims& d, cudaStream_t stream) {
  const Geometry g{static_cast<int>(d.heads), static_cast<int>(d.key_dim), static_cast<int>(d.head_dim),
                   static_cast<int>(d.positions), d.scale};
  const dim3 grid(static_cast<unsigned>((d.positions + kTile - 1) / kTile), static_cast<unsigned>(d.batch * d.heads));
  const std::size_t smem = static_cast<std::size_t>(d.key_dim + d.head_dim) * kTile * sizeof(float);
  if (layout == Layout::NHWC)
    spatial_attention_kernel<T, true, KD, HD><<<grid, kTile, smem, stream>>>(static_cast<const T*>(qkv), static_cast<T*>(y), g);
  else
    spatial_attention_kernel<T, false, KD, HD><<<grid, kTile, smem, stream>>>(static_cast<const T*>(qkv), static_cast<T*>(y), g);
}

}  // namespace

std::optional<std::string> spatial_attention_unsupported(DType dtype, std::int64_t key_dim, std::int64_t head_dim) {
  if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
    return "spatial attention: dtype " + std::string(to_string(dtype)) + " is not supported (f32, f16, bf16)";
  if (key_dim < 1 || head_dim < 1 || key_dim > 64 || head_dim > 128)
    return "spatial attention: key_dim " + std::to_string(key_dim) + " and head_dim " + std::to_string(head_dim) +
           " outside the implemented 1..64 and 1..128";
  return std::nullopt;
}

void spatial_attention(DType dtype, Layout layout, const void* qkv, void* y, const SpatialAttentionDims& d,
                       cudaStream_t stream) {
  if (auto why = spatial_attention_unsupported(dtype, d.key_dim, d.head_dim)) throw Unsupported(*why);
  if (layout != Layout::NCHW && layout != Layout::NHWC) throw Unsupported("spatial attention: layout must be NCHW or NHWC");
  if (d.batch <= 0 || d.heads <= 0 || d.positions <= 0 || d.positions > INT32_MAX / 4 || d.batch * d.heads > 65535)
    throw InvalidInput("spatial attention: batch·heads must be 1..65535 and positions positive");
  detail::dispatch_float(dtype, "spatial attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (d.key_dim <= 32 && d.head_dim <= 64) launch<T, 32, 64>(layout, qkv, y, d, stream);
    else launch<T, 64, 128>(layout, qkv, y, d, stream);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
