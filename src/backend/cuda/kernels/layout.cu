// backend/cuda/kernels/layout.cu — see layout.cuh.
#include "backend/cuda/kernels/layout.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"
#include "core/rng.h"

namespace vramfit::cuda::kernels {
namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::to_float;

// ---- transpose: per image, x [rows, cols] → y [cols, rows] ----

constexpr int kTile = 32;
constexpr int kTileRows = 8;  // threadIdx.y extent; each thread moves kTile / kTileRows elements

template <class U>
__global__ void transpose_kernel(const U* x, U* y, std::int64_t batch, std::int64_t rows, std::int64_t cols) {
  __shared__ U tile[kTile][kTile + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const std::int64_t row_tiles = (rows + kTile - 1) / kTile;
  const std::int64_t c0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
  const std::int64_t image = rows * cols;
  for (std::int64_t b = blockIdx.z; b < batch; b += gridDim.z) {
    const U* xb = x + b * image;
    U* yb = y + b * image;
    for (std::int64_t rt = blockIdx.y; rt < row_tiles; rt += gridDim.y) {
      const std::int64_t r0 = rt * kTile;
#pragma unroll
      for (int i = 0; i < kTile; i += kTileRows) {
        const std::int64_t r = r0 + ty + i, c = c0 + tx;
        if (r < rows && c < cols) tile[ty + i][tx] = xb[r * cols + c];
      }
      __syncthreads();
#pragma unroll
      for (int i = 0; i < kTile; i += kTileRows) {
        const std::int64_t out_r = c0 + ty + i, out_c = r0 + tx;  // y row = x column
        if (out_r < cols && out_c < rows) yb[out_r * rows + out_c] = tile[tx][ty + i];
      }
      __syncthreads();
    }
  }
}

// One side of the matrix ≤ kNarrow (an RGB image: 3 channels): a 32×32 tile would leave 29 of 32
// lanes idle, so instead one thread takes one index of the long side and moves its few elements. The
// warp's accesses stay coalesced on both sides: along the long side consecutive threads touch
// consecutive elements; along the short side each thread touches ≤ 8 adjacent ones.
constexpr int kNarrow = 8;

template <class U>
__global__ void transpose_narrow_kernel(const U* x, U* y, std::int64_t batch, std::int64_t rows, std::int64_t cols) {
  const bool narrow_cols = cols <= kNarrow;
  const std::int64_t long_side = narrow_cols ? rows : cols;
  const int short_side = static_cast<int>(narrow_cols ? cols : rows);
  const std::int64_t image = rows * cols;
  const std::int64_t total = batch * long_side;
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const std::int64_t b = i / long_side, l = i - b * long_side;
    const U* xb = x + b * image;
    U* yb = y + b * image;
    if (narrow_cols) {  // x row l (short, contiguous) → y column l
      for (int j = 0; j < short_side; ++j) yb[j * rows + l] = xb[l * cols + j];
    } else {            // x column l → y row l (short, contiguous)
      for (int j = 0; j < short_side; ++j) yb[l * rows + j] = xb[j * cols + l];
    }
  }
}

template <class U>
void launch_transpose(const void* x, void* y, std::int64_t batch, std::int64_t rows, std::int64_t cols,
                      cudaStream_t stream) {
  const U* xs = static_cast<const U*>(x);
  U* ys = static_cast<U*>(y);
  if (rows <= kNarrow || cols <= kNarrow) {
    const std::int64_t long_side = cols <= kNarrow ? rows : cols;
    transpose_narrow_kernel<U><<<detail::grid_for(batch * long_side), detail::kThreads, 0, stream>>>(xs, ys, batch,
                                                                                                     rows, cols);
    return;
  }
  const std::int64_t col_tiles = (cols + kTile - 1) / kTile;
  const std::int64_t row_tiles = (rows + kTile - 1) / kTile;
  const dim3 block(kTile, kTileRows);
  const dim3 grid(static_cast<unsigned>(col_tiles), static_cast<unsigned>(row_tiles < 65535 ? row_tiles : 65535),
                  static_cast<unsigned>(batch < 65535 ? batch : 65535));
  transpose_kernel<U><<<grid, block, 0, stream>>>(xs, ys, batch, rows, cols);
}

void transpose(const char* op, DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t rows,
               std::int64_t cols, cudaStream_t stream) {
  if (batch < 0 || rows < 0 || cols < 0)
    throw InvalidInput(std::string(op) + ": extents must be ≥ 0, got batch " + std::to_string(batch) +
                       ", rows " + std::to_string(rows) + ", cols " + std::to_string(cols));
  if (batch == 0 || rows == 0 || cols == 0) return;
  const DTypeInfo& in = info(dtype);
  if (in.block_elems != 1 || (in.block_bytes != 1 && in.block_bytes != 2 && in.block_bytes != 4))
    throw Unsupported(std::string(op) + ": dtype " + std::string(in.name) +
                      " is packed or blocked; only 1-, 2- and 4-byte elements can be transposed");
  if ((cols + kTile - 1) / kTile > 0x7fffffff) throw InvalidInput(std::string(op) + ": too many columns for one launch");
  switch (in.block_bytes) {
    case 1: launch_transpose<std::uint8_t>(x, y, batch, rows, cols, stream); break;
    case 2: launch_transpose<std::uint16_t>(x, y, batch, rows, cols, stream); break;
    default: launch_transpose<std::uint32_t>(x, y, batch, rows, cols, stream); break;
  }
  CUDA_CHECK(cudaGetLastError());
}

// ---- cast ----

constexpr int kCastGroup = 8;  // 8 elements: 16 bytes of a 16-bit type, 32 bytes of fp32

template <class S, class D>
__global__ void cast_kernel(const S* x, D* y, std::int64_t n, bool vec) {
  std::int64_t scalar_begin = 0;
  if (vec) {
    constexpr int kInWords = static_cast<int>(kCastGroup * sizeof(S) / 16);
    constexpr int kOutWords = static_cast<int>(kCastGroup * sizeof(D) / 16);
    const std::int64_t groups = n / kCastGroup;
    for (std::int64_t g = global_thread(); g < groups; g += grid_threads()) {
      uint4 raw_in[kInWords];
#pragma unroll
      for (int w = 0; w < kInWords; ++w) raw_in[w] = reinterpret_cast<const uint4*>(x + g * kCastGroup)[w];
      S in[kCastGroup];
      memcpy(in, raw_in, sizeof(in));
      D out[kCastGroup];
#pragma unroll
      for (int j = 0; j < kCastGroup; ++j) out[j] = detail::from_float<D>(to_float(in[j]));
      uint4 raw_out[kOutWords];
      memcpy(raw_out, out, sizeof(out));
#pragma unroll
      for (int w = 0; w < kOutWords; ++w) reinterpret_cast<uint4*>(y + g * kCastGroup)[w] = raw_out[w];
    }
    scalar_begin = groups * kCastGroup;
  }
  for (std::int64_t i = scalar_begin + global_thread(); i < n; i += grid_threads())
    y[i] = detail::from_float<D>(to_float(x[i]));
}

// ---- fill_normal: core/rng.h normal01 in device code ----

// core/rng.cpp's mix() and normal01(), operation for operation (see layout.cuh for why the results
// agree). The explicit _rn intrinsics keep the compiler from fusing any multiply with an add.
__device__ float normal01_device(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const std::uint64_t r = splitmix64(splitmix64(seed ^ splitmix64(stream)) + index);
  const double u1 = __ddiv_rn(__dadd_rn(static_cast<double>(r >> 32), 1.0), 4294967296.0);
  const double u2 = __ddiv_rn(static_cast<double>(r & 0xffffffffull), 4294967296.0);
  constexpr double kTwoPi = 2.0 * 3.141592653589793238462643383279502884;  // 2.0 * std::numbers::pi
  const double radius = sqrt(__dmul_rn(-2.0, log(u1)));
  return static_cast<float>(__dmul_rn(radius, cos(__dmul_rn(kTwoPi, u2))));
}

template <class T>
__global__ void fill_normal_kernel(T* y, std::int64_t n, NormalFill f) {
  for (std::int64_t i = global_thread(); i < n; i += grid_threads()) {
    const float z = normal01_device(f.seed, f.stream_id, f.first_index + static_cast<std::uint64_t>(i));
    const float v = __fadd_rn(f.offset, __fmul_rn(f.scale, f.absolute ? fabsf(z) : z));
    y[i] = detail::from_float<T>(v);
  }
}

}  // namespace

void nchw_to_nhwc(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                  std::int64_t plane, cudaStream_t stream) {
  transpose("nchw_to_nhwc", dtype, x, y, batch, channels, plane, stream);
}

void nhwc_to_nchw(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t channels,
                  std::int64_t plane, cudaStream_t stream) {
  transpose("nhwc_to_nchw", dtype, x, y, batch, plane, channels, stream);
}

void cast(DType from, DType to, const void* x, void* y, std::int64_t n, cudaStream_t stream) {
  if (n < 0) throw InvalidInput("cast: element count must be ≥ 0, got " + std::to_string(n));
  if (n == 0) return;
  if (from == to) {
    detail::dispatch_float(from, "cast", [](auto) {});  // same dtype gate as the converting path
    CUDA_CHECK(cudaMemcpyAsync(y, x, storage_bytes(from, static_cast<std::uint64_t>(n)), cudaMemcpyDeviceToDevice,
                               stream));
    return;
  }
  const bool vec = detail::aligned16(x) && detail::aligned16(y);
  const std::int64_t work = vec ? n / kCastGroup + kCastGroup : n;
  detail::dispatch_float(from, "cast", [&](auto from_tag) {
    using S = typename decltype(from_tag)::type;
    detail::dispatch_float(to, "cast", [&](auto to_tag) {
      using D = typename decltype(to_tag)::type;
      if constexpr (!std::is_same_v<S, D>) {
        cast_kernel<S, D><<<detail::grid_for(work), detail::kThreads, 0, stream>>>(static_cast<const S*>(x),
                                                                                  static_cast<D*>(y), n, vec);
        CUDA_CHECK(cudaGetLastError());
      }
    });
  });
}

void fill_normal(DType dtype, void* y, std::int64_t n, const NormalFill& f, cudaStream_t stream) {
  if (n < 0) throw InvalidInput("fill_normal: element count must be ≥ 0, got " + std::to_string(n));
  if (n == 0) return;
  detail::dispatch_float(dtype, "fill_normal", [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_normal_kernel<T><<<detail::grid_for(n), detail::kThreads, 0, stream>>>(static_cast<T*>(y), n, f);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
