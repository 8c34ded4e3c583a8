// backend/cuda/kernels/layernorm.cu — see layernorm.cuh.
#include "backend/cuda/kernels/layernorm.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

constexpr int kMaxBlock = 1024;

using detail::load_unit;  // kernel_common.cuh: 16-byte packs or single elements
using detail::store_unit;
using detail::Unit;

// One block per row; thread t owns units t, t + blockDim, …, t + (K−1)·blockDim of the row.
template <class T, int V, int K>
__global__ void layer_norm_kernel(const T* x, const T* gamma, const T* beta, T* y, int units, int features,
                                  float eps) {
  __shared__ float scratch[32];
  const std::int64_t row_offset = static_cast<std::int64_t>(blockIdx.x) * features;
  const T* xr = x + row_offset;
  T* yr = y + row_offset;

  float v[K][V];
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int u = static_cast<int>(threadIdx.x) + k * static_cast<int>(blockDim.x);
    if (u < units) {
      const Unit<T, V> in = load_unit<T, V>(xr + static_cast<std::int64_t>(u) * V);
#pragma unroll
      for (int j = 0; j < V; ++j) {
        v[k][j] = to_float(in.v[j]);
        sum += v[k][j];
      }
    } else {
#pragma unroll
      for (int j = 0; j < V; ++j) v[k][j] = 0.0f;
    }
  }
  const float inv_n = 1.0f / static_cast<float>(features);
  const float mean = detail::block_sum(sum, scratch) * inv_n;

  float sq = 0.0f;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int u = static_cast<int>(threadIdx.x) + k * static_cast<int>(blockDim.x);
    if (u < units) {
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const float d = v[k][j] - mean;
        sq += d * d;
      }
    }
  }
  const float var = detail::block_sum(sq, scratch) * inv_n;
  const float rstd = rsqrtf(var + eps);

#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int u = static_cast<int>(threadIdx.x) + k * static_cast<int>(blockDim.x);
    if (u < units) {
      const std::int64_t e = static_cast<std::int64_t>(u) * V;
      const Unit<T, V> g = load_unit<T, V>(gamma + e);
      const Unit<T, V> b = load_unit<T, V>(beta + e);
      Unit<T, V> out;
#pragma unroll
      for (int j = 0; j < V; ++j)
        out.v[j] = detail::from_float<T>((v[k][j] - mean) * rstd * to_float(g.v[j]) + to_float(b.v[j]));
      store_unit<T, V>(yr + e, out);
    }
  }
}

template <class T, int V, int K>
void launch(const void* x, const void* gamma, const void* beta, void* y, std::int64_t rows, int units,
            int features, float eps, cudaStream_t stream) {
  int threads = (units + K - 1) / K;
  threads = (threads + 31) / 32 * 32;
  layer_norm_kernel<T, V, K><<<static_cast<unsigned>(rows), static_cast<unsigned>(threads), 0, stream>>>(
      static_cast<const T*>(x), static_cast<const T*>(gamma), static_cast<const T*>(beta), static_cast<T*>(y),
      units, features, eps);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace

std::int64_t layer_norm_max_features(DType dtype) {
  std::int64_t limit = 4 * kMaxBlock;  // scalar path
  detail::dispatch_float(dtype, "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    limit = std::int64_t{4} * kMaxBlock * detail::kPack<T>;
  });
  return limit;
}

void layer_norm(DType dtype, const void* x, const void* gamma, const void* beta, void* y, std::int64_t rows,
                std::int64_t features, float eps, cudaStream_t stream) {
  if (rows < 0 || features <= 0)
    throw InvalidInput("layer_norm: rows must be ≥ 0 and features > 0, got rows " + std::to_string(rows) +
                       ", features " + std::to_string(features));
  if (!(eps >= 0.0f)) throw InvalidInput("layer_norm: eps must be ≥ 0, got " + std::to_string(eps));
  if (rows == 0) return;
  if (rows > 0x7fffffff)
    throw Unsupported("layer_norm: " + std::to_string(rows) + " rows exceed one launch's grid (2^31 − 1)");
  detail::dispatch_float(dtype, "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int P = detail::kPack<T>;
    const bool vec = features % P == 0 && detail::aligned16(x) && detail::aligned16(y) &&
                     detail::aligned16(gamma) && detail::aligned16(beta);
    const std::int64_t units = vec ? features / P : features;
    if (units > std::int64_t{4} * kMaxBlock)
      throw Unsupported("layer_norm: " + std::to_string(features) + " features exceed this kernel's limit (" +
                        std::to_string(vec ? 4 * kMaxBlock * P : 4 * kMaxBlock) + " for " +
                        std::string(to_string(dtype)) + (vec ? ", 16-byte aligned" : ", unaligned") + ")");
    const int u = static_cast<int>(units), e = static_cast<int>(features);
    if (vec) {
      if (units <= kMaxBlock) launch<T, P, 1>(x, gamma, beta, y, rows, u, e, eps, stream);
      else launch<T, P, 4>(x, gamma, beta, y, rows, u, e, eps, stream);
    } else {
      if (units <= kMaxBlock) launch<T, 1, 1>(x, gamma, beta, y, rows, u, e, eps, stream);
      else launch<T, 1, 4>(x, gamma, beta, y, rows, u, e, eps, stream);
    }
  });
}

}  // namespace vramfit::cuda::kernels
