// backend/cuda/kernels/elementwise.cu — see elementwise.cuh.
#include "backend/cuda/kernels/elementwise.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::activate;
using detail::global_thread;
using detail::grid_threads;
using detail::kPack;
using detail::load_pack;
using detail::Pack;
using detail::store_pack;
using detail::to_float;

template <class T> inline constexpr bool kIs16 = sizeof(T) == 2;

// y = act(x). `vec`: all pointers 16-byte aligned → packs for the first ⌊n/P⌋·P elements.
template <class T, Activation A>
__global__ void activation_kernel(const T* x, T* y, std::int64_t n, bool vec) {
  constexpr int P = kPack<T>;
  std::int64_t scalar_begin = 0;
  if (vec) {
    const std::int64_t packs = n / P;
    for (std::int64_t i = global_thread(); i < packs; i += grid_threads()) {
      Pack<T> p = load_pack(x + i * P);
#pragma unroll
      for (int j = 0; j < P; ++j) p.v[j] = detail::from_float<T>(activate<A, kIs16<T>>(to_float(p.v[j])));
      store_pack(y + i * P, p);
    }
    scalar_begin = packs * P;
  }
  for (std::int64_t i = scalar_begin + global_thread(); i < n; i += grid_threads())
    y[i] = detail::from_float<T>(activate<A, kIs16<T>>(to_float(x[i])));
}

// y = act(a + b).
template <class T, Activation A>
__global__ void add_kernel(const T* a, const T* b, T* y, std::int64_t n, bool vec) {
  constexpr int P = kPack<T>;
  std::int64_t scalar_begin = 0;
  if (vec) {
    const std::int64_t packs = n / P;
    for (std::int64_t i = global_thread(); i < packs; i += grid_threads()) {
      Pack<T> pa = load_pack(a + i * P);
      const Pack<T> pb = load_pack(b + i * P);
#pragma unroll
      for (int j = 0; j < P; ++j)
        pa.v[j] = detail::from_float<T>(activate<A, kIs16<T>>(to_float(pa.v[j]) + to_float(pb.v[j])));
      store_pack(y + i * P, pa);
    }
    scalar_begin = packs * P;
  }
  for (std::int64_t i = scalar_begin + global_thread(); i < n; i += grid_threads())
    y[i] = detail::from_float<T>(activate<A, kIs16<T>>(to_float(a[i]) + to_float(b[i])));
}

// y[r, c] = act(x[r, c] + bias[c]). `vec`: pointers aligned and cols % P == 0, so pack i covers
// columns (i·P mod cols) … +P−1 of one row and the bias pack at that column is aligned too.
template <class T, Activation A>
__global__ void bias_activation_kernel(const T* x, const T* bias, T* y, std::int64_t rows, std::int64_t cols,
                                       bool vec) {
  constexpr int P = kPack<T>;
  const std::int64_t n = rows * cols;
  if (vec) {
    const std::int64_t packs = n / P;  // exact: cols % P == 0
    for (std::int64_t i = global_thread(); i < packs; i += grid_threads()) {
      const std::int64_t c = (i * P) % cols;
      Pack<T> px = load_pack(x + i * P);
      const Pack<T> pb = load_pack(bias + c);
#pragma unroll
      for (int j = 0; j < P; ++j)
        px.v[j] = detail::from_float<T>(activate<A, kIs16<T>>(to_float(px.v[j]) + to_float(pb.v[j])));
      store_pack(y + i * P, px);
    }
    return;
  }
  for (std::int64_t i = global_thread(); i < n; i += grid_threads())
    y[i] = detail::from_float<T>(activate<A, kIs16<T>>(to_float(x[i]) + to_float(bias[i % cols])));
}

void require_non_negative(const char* op, const char* what, std::int64_t v) {
  if (v < 0) throw InvalidInput(std::string(op) + ": " + what + " must be ≥ 0, got " + std::to_string(v));
}

}  // namespace

void activation(DType dtype, const void* x, void* y, std::int64_t n, Activation act, cudaStream_t stream) {
  require_non_negative("activation", "element count", n);
  if (n == 0) return;
  const bool vec = detail::aligned16(x) && detail::aligned16(y);
  detail::dispatch_float(dtype, "activation", [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::dispatch_activation(act, [&](auto a) {
      constexpr Activation A = decltype(a)::value;
      const std::int64_t work = vec ? n / kPack<T> + kPack<T> : n;
      activation_kernel<T, A><<<detail::grid_for(work), detail::kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<T*>(y), n, vec);
      CUDA_CHECK(cudaGetLastError());
    });
  });
}

void add(DType dtype, const void* a, const void* b, void* y, std::int64_t n, Activation act,
         cudaStream_t stream) {
  require_non_negative("add", "element count", n);
  if (n == 0) return;
  const bool vec = detail::aligned16(a) && detail::aligned16(b) && detail::aligned16(y);
  detail::dispatch_float(dtype, "add", [&](auto tag) {
    using T = typename decltype(tag)::type;
    detail::dispatch_activation(act, [&](auto ac) {
      constexpr Activation A = decltype(ac)::value;
      const std::int64_t work = vec ? n / kPack<T> + kPack<T> : n;
      add_kernel<T, A><<<detail::grid_for(work), detail::kThreads, 0, stream>>>(
          static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), n, vec);
      CUDA_CHECK(cudaGetLastError());
    });
  });
}

void bias_activation(DType dtype, const void* x, const void* bias, void* y, std::int64_t rows,
                     std::int64_t cols, Activation act, cudaStream_t stream) {
  require_non_negative("bias_activation", "rows", rows);
  require_non_negative("bias_activation", "cols", cols);
  if (rows == 0 || cols == 0) return;
  detail::dispatch_float(dtype, "bias_activation", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const bool vec = detail::aligned16(x) && detail::aligned16(bias) && detail::aligned16(y) &&
                     cols % kPack<T> == 0;
    detail::dispatch_activation(act, [&](auto ac) {
      constexpr Activation A = decltype(ac)::value;
      const std::int64_t work = vec ? rows * cols / kPack<T> : rows * cols;
      bias_activation_kernel<T, A><<<detail::grid_for(work), detail::kThreads, 0, stream>>>(
          static_cast<const T*>(x), static_cast<const T*>(bias), static_cast<T*>(y), rows, cols, vec);
      CUDA_CHECK(cudaGetLastError());
    });
  });
}

}  // namespace vramfit::cuda::kernels
