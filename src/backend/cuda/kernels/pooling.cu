// backend/cuda/kernels/pooling.cu — see pooling.cuh.
#include "backend/cuda/kernels/pooling.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::kPack;
using detail::to_float;

enum class PoolKind { Max, Avg };

// The pooling geometry, in 32-bit where a single image's extents live and 64-bit for flat indices.
struct Geometry {
  int in_h, in_w, out_h, out_w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w;
};

Geometry geometry(const Pool2dDims& d) {
  return Geometry{static_cast<int>(d.in_h),     static_cast<int>(d.in_w),     static_cast<int>(d.out_h()),
                  static_cast<int>(d.out_w()),  static_cast<int>(d.kernel_h), static_cast<int>(d.kernel_w),
                  static_cast<int>(d.stride_h), static_cast<int>(d.stride_w), static_cast<int>(d.pad_h),
                  static_cast<int>(d.pad_w)};
}

// Running max that keeps a NaN once seen (v != v is true for NaN only).
__device__ __forceinline__ float max_nan(float m, float v) { return (v > m || v != v) ? v : m; }

// NCHW: one thread per output element; `planes` = N·C.
template <class T, PoolKind K>
__global__ void pool_nchw_kernel(const T* x, T* y, std::int64_t planes, Geometry g) {
  const std::int64_t per_plane = static_cast<std::int64_t>(g.out_h) * g.out_w;
  const std::int64_t total = planes * per_plane;
  const float inv_window = 1.0f / static_cast<float>(g.kernel_h * g.kernel_w);
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const std::int64_t plane = i / per_plane;
    const int rest = static_cast<int>(i - plane * per_plane);
    const int oh = rest / g.out_w, ow = rest - oh * g.out_w;
    const T* xp = x + plane * g.in_h * g.in_w;
    const int h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    float acc = K == PoolKind::Max ? -INFINITY : 0.0f;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const int h = h0 + kh;
      if (h < 0 || h >= g.in_h) continue;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        const int w = w0 + kw;
        if (w < 0 || w >= g.in_w) continue;
        const float v = to_float(xp[h * g.in_w + w]);
        if constexpr (K == PoolKind::Max) acc = max_nan(acc, v);
        else acc += v;
      }
    }
    if constexpr (K == PoolKind::Avg) acc *= inv_window;
    y[i] = detail::from_float<T>(acc);
  }
}

// NHWC: one thread per output pixel and group of V channels (V = a 16-byte pack, or 1).
template <class T, PoolKind K, int V>
__global__ void pool_nhwc_kernel(const T* x, T* y, std::int64_t batch, int channels, Geometry g) {
  const int groups = channels / V;
  const std::int64_t total = batch * g.out_h * g.out_w * groups;
  const float inv_window = 1.0f / static_cast<float>(g.kernel_h * g.kernel_w);
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int cg = static_cast<int>(i % groups);
    std::int64_t pix = i / groups;
    const int ow = static_cast<int>(pix % g.out_w);
    pix /= g.out_w;
    const int oh = static_cast<int>(pix % g.out_h);
    const std::int64_t n = pix / g.out_h;
    const T* xn = x + n * g.in_h * g.in_w * channels + cg * V;
    const int h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = K == PoolKind::Max ? -INFINITY : 0.0f;
    for (int kh = 0; kh < g.kernel_h; ++kh) {
      const int h = h0 + kh;
      if (h < 0 || h >= g.in_h) continue;
      for (int kw = 0; kw < g.kernel_w; ++kw) {
        const int w = w0 + kw;
        if (w < 0 || w >= g.in_w) continue;
        const T* src = xn + (static_cast<std::int64_t>(h) * g.in_w + w) * channels;
        T vals[V];
        if constexpr (V == 1) {
          vals[0] = *src;
        } else {
          const uint4 raw = *reinterpret_cast<const uint4*>(src);
          memcpy(vals, &raw, 16);
        }
#pragma unroll
        for (int j = 0; j < V; ++j) {
          const float v = to_float(vals[j]);
          if constexpr (K == PoolKind::Max) acc[j] = max_nan(acc[j], v);
          else acc[j] += v;
        }
      }
    }
    T out[V];
#pragma unroll
    for (int j = 0; j < V; ++j)
      out[j] = detail::from_float<T>(K == PoolKind::Avg ? acc[j] * inv_window : acc[j]);
    T* dst = y + i * V;  // output pixel (n, oh, ow), channel group cg: exactly i·V
    if constexpr (V == 1) {
      *dst = out[0];
    } else {
      uint4 raw;
      memcpy(&raw, out, 16);
      *reinterpret_cast<uint4*>(dst) = raw;
    }
  }
}

// NCHW global: one warp per plane.
template <class T>
__global__ void global_pool_nchw_kernel(const T* x, T* y, std::int64_t planes, std::int64_t plane) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const std::int64_t warps = grid_threads() / 32;
  const float inv = 1.0f / static_cast<float>(plane);
  for (std::int64_t p = global_thread() / 32; p < planes; p += warps) {
    const T* xp = x + p * plane;
    float s = 0.0f;
    for (std::int64_t i = lane; i < plane; i += 32) s += to_float(xp[i]);
    s = detail::warp_sum(s);
    if (lane == 0) y[p] = detail::from_float<T>(s * inv);
  }
}

// NHWC global: block (32 channels, 8 rows); grid (channel blocks, batch), batch looped past 65535.
template <class T>
__global__ void global_pool_nhwc_kernel(const T* x, T* y, std::int64_t batch, int channels,
                                        std::int64_t plane) {
  __shared__ float partial[8][33];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int c = static_cast<int>(blockIdx.x) * 32 + tx;
  const float inv = 1.0f / static_cast<float>(plane);
  for (std::int64_t n = blockIdx.y; n < batch; n += gridDim.y) {
    float s = 0.0f;
    if (c < channels) {
      const T* xn = x + n * plane * channels + c;
      for (std::int64_t p = ty; p < plane; p += 8) s += to_float(xn[p * channels]);
    }
    partial[ty][tx] = s;
    __syncthreads();
    if (ty == 0 && c < channels) {
      float t = 0.0f;
#pragma unroll
      for (int r = 0; r < 8; ++r) t += partial[r][tx];
      y[n * channels + c] = detail::from_float<T>(t * inv);
    }
    __syncthreads();
  }
}

void check_layout(const char* op, Layout layout) {
  if (layout != Layout::NCHW && layout != Layout::NHWC)
    throw Unsupported(std::string(op) + ": layout must be NCHW or NHWC");
}

template <PoolKind K>
void pool2d(const char* op, DType dtype, Layout layout, const void* x, void* y, const Pool2dDims& d,
            cudaStream_t stream) {
  d.validate(op);
  check_layout(op, layout);
  const Geometry g = geometry(d);
  detail::dispatch_float(dtype, op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    const std::int64_t outputs = d.batch * d.channels * d.out_h() * d.out_w();
    if (layout == Layout::NCHW) {
      pool_nchw_kernel<T, K><<<detail::grid_for(outputs), detail::kThreads, 0, stream>>>(
          xs, ys, d.batch * d.channels, g);
    } else if (d.channels % kPack<T> == 0 && detail::aligned16(x) && detail::aligned16(y)) {
      pool_nhwc_kernel<T, K, kPack<T>><<<detail::grid_for(outputs / kPack<T>), detail::kThreads, 0, stream>>>(
          xs, ys, d.batch, static_cast<int>(d.channels), g);
    } else {
      pool_nhwc_kernel<T, K, 1><<<detail::grid_for(outputs), detail::kThreads, 0, stream>>>(
          xs, ys, d.batch, static_cast<int>(d.channels), g);
    }
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace

void Pool2dDims::validate(const char* op) const {
  auto bad = [&](const std::string& what) { throw InvalidInput(std::string(op) + ": " + what); };
  if (batch <= 0 || channels <= 0 || in_h <= 0 || in_w <= 0)
    bad("extents must be positive, got [" + std::to_string(batch) + ", " + std::to_string(channels) + ", " +
        std::to_string(in_h) + ", " + std::to_string(in_w) + "]");
  if (kernel_h <= 0 || kernel_w <= 0 || stride_h <= 0 || stride_w <= 0)
    bad("kernel and stride must be positive");
  if (pad_h < 0 || pad_w < 0) bad("padding must be ≥ 0");
  if (in_h + 2 * pad_h < kernel_h || in_w + 2 * pad_w < kernel_w || out_h() < 1 || out_w() < 1)
    bad("the " + std::to_string(kernel_h) + "×" + std::to_string(kernel_w) + " window does not fit the padded " +
        std::to_string(in_h) + "×" + std::to_string(in_w) + " input");
  // Per-image extents are 32-bit inside the kernels (flat indices are 64-bit).
  constexpr std::int64_t kMax = 0x7fffffff;
  if (in_h * in_w > kMax || channels > kMax || kernel_h * kernel_w > kMax || in_h + 2 * pad_h > kMax ||
      in_w + 2 * pad_w > kMax)
    bad("an image extent exceeds 2^31 − 1");
}

void max_pool2d(DType dtype, Layout layout, const void* x, void* y, const Pool2dDims& d, cudaStream_t stream) {
  pool2d<PoolKind::Max>("max_pool2d", dtype, layout, x, y, d, stream);
}

void avg_pool2d(DType dtype, Layout layout, const void* x, void* y, const Pool2dDims& d, cudaStream_t stream) {
  pool2d<PoolKind::Avg>("avg_pool2d", dtype, layout, x, y, d, stream);
}

void global_avg_pool(DType dtype, Layout layout, const void* x, void* y, std::int64_t batch,
                     std::int64_t channels, std::int64_t plane, cudaStream_t stream) {
  if (batch <= 0 || channels <= 0 || plane <= 0)
    throw InvalidInput("global_avg_pool: extents must be positive, got batch " + std::to_string(batch) +
                       ", channels " + std::to_string(channels) + ", plane " + std::to_string(plane));
  check_layout("global_avg_pool", layout);
  if (channels > 0x7fffffff) throw InvalidInput("global_avg_pool: channels exceed 2^31 − 1");
  detail::dispatch_float(dtype, "global_avg_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xs = static_cast<const T*>(x);
    T* ys = static_cast<T*>(y);
    if (layout == Layout::NCHW) {
      const std::int64_t planes = batch * channels;
      global_pool_nchw_kernel<T><<<detail::grid_for(planes * 32), detail::kThreads, 0, stream>>>(xs, ys, planes,
                                                                                                  plane);
    } else {
      const dim3 block(32, 8);
      const dim3 grid(static_cast<unsigned>((channels + 31) / 32),
                      static_cast<unsigned>(batch < 65535 ? batch : 65535));
      global_pool_nhwc_kernel<T><<<grid, block, 0, stream>>>(xs, ys, batch, static_cast<int>(channels), plane);
    }
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
