// backend/cuda/kernels/tokens.cu — see tokens.cuh.
#include "backend/cuda/kernels/tokens.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"
#include "backend/cuda/kernels/layout.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::kPack;
using detail::to_float;

// V elements of T moved together: a 16-byte pack (V = kPack<T>) or one element.
template <class T, int V> struct Group {
  T v[V];
};
template <class T, int V> __device__ __forceinline__ Group<T, V> load_group(const T* p) {
  Group<T, V> g;
  if constexpr (V == 1) {
    g.v[0] = *p;
  } else {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    memcpy(&g, &raw, 16);
  }
  return g;
}
template <class T, int V> __device__ __forceinline__ void store_group(T* p, const Group<T, V>& g) {
  if constexpr (V == 1) {
    *p = g.v[0];
  } else {
    uint4 raw;
    memcpy(&raw, &g, 16);
    *reinterpret_cast<uint4*>(p) = raw;
  }
}

// y[b, s, e] for s < seq_out: token s comes from cls (s == 0 with a class token) or x[b, s − shift],
// plus pos[s, e] when pos is given. Indices in groups of V along e (embed % V == 0).
template <class T, int V>
__global__ void class_token_positional_kernel(const T* x, const T* cls, const T* pos, T* y, std::int64_t batch,
                                              std::int64_t seq_out, std::int64_t embed) {
  const std::int64_t groups_per_row = embed / V;
  const std::int64_t total = batch * seq_out * groups_per_row;
  const std::int64_t shift = cls != nullptr ? 1 : 0;
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const std::int64_t e = (i % groups_per_row) * V;
    const std::int64_t token = i / groups_per_row;  // b·seq_out + s
    const std::int64_t s = token % seq_out;
    const std::int64_t b = token / seq_out;
    Group<T, V> g;
    if (shift == 1 && s == 0) g = load_group<T, V>(cls + e);
    else g = load_group<T, V>(x + (b * (seq_out - shift) + s - shift) * embed + e);
    if (pos != nullptr) {
      const Group<T, V> p = load_group<T, V>(pos + s * embed + e);
#pragma unroll
      for (int j = 0; j < V; ++j) g.v[j] = detail::from_float<T>(to_float(g.v[j]) + to_float(p.v[j]));
    }
    store_group<T, V>(y + token * embed + e, g);
  }
}

template <class T, int V>
__global__ void take_token_kernel(const T* x, T* y, std::int64_t batch, std::int64_t seq, std::int64_t embed,
                                  std::int64_t index) {
  const std::int64_t groups_per_row = embed / V;
  const std::int64_t total = batch * groups_per_row;
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const std::int64_t b = i / groups_per_row;
    const std::int64_t e = (i - b * groups_per_row) * V;
    store_group<T, V>(y + b * embed + e, load_group<T, V>(x + (b * seq + index) * embed + e));
  }
}

}  // namespace

void patch_flatten(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t channels, std::int64_t h,
                   std::int64_t w, cudaStream_t stream) {
  if (batch <= 0 || channels <= 0 || h <= 0 || w <= 0)
    throw InvalidInput("patch_flatten: extents must be positive, got [" + std::to_string(batch) + ", " +
                       std::to_string(channels) + ", " + std::to_string(h) + ", " + std::to_string(w) + "]");
  nchw_to_nhwc(dtype, x, y, batch, channels, h * w, stream);
}

void class_token_positional(DType dtype, const void* x, const void* cls, const void* pos, void* y,
                            std::int64_t batch, std::int64_t seq, std::int64_t embed, cudaStream_t stream) {
  if (batch <= 0 || seq < 0 || embed <= 0 || (cls == nullptr && seq == 0))
    throw InvalidInput("class_token_positional: need batch > 0, embed > 0 and a non-empty output sequence, got batch " +
                       std::to_string(batch) + ", seq " + std::to_string(seq) + ", embed " + std::to_string(embed));
  if (cls == nullptr && pos == nullptr)
    throw InvalidInput("class_token_positional: neither a class token nor a positional embedding was given");
  if (cls != nullptr && x == y)
    throw InvalidInput("class_token_positional: y may not alias x when a class token is prepended");
  const std::int64_t seq_out = seq + (cls != nullptr ? 1 : 0);
  detail::dispatch_float(dtype, "class_token_positional", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int P = kPack<T>;
    const bool vec = embed % P == 0 && detail::aligned16(x) && detail::aligned16(y) &&
                     (cls == nullptr || detail::aligned16(cls)) && (pos == nullptr || detail::aligned16(pos));
    const auto* xs = static_cast<const T*>(x);
    const auto* cs = static_cast<const T*>(cls);
    const auto* ps = static_cast<const T*>(pos);
    auto* ys = static_cast<T*>(y);
    const std::int64_t elements = batch * seq_out * embed;
    if (vec)
      class_token_positional_kernel<T, P><<<detail::grid_for(elements / P), detail::kThreads, 0, stream>>>(
          xs, cs, ps, ys, batch, seq_out, embed);
    else
      class_token_positional_kernel<T, 1><<<detail::grid_for(elements), detail::kThreads, 0, stream>>>(
          xs, cs, ps, ys, batch, seq_out, embed);
    CUDA_CHECK(cudaGetLastError());
  });
}

void take_token(DType dtype, const void* x, void* y, std::int64_t batch, std::int64_t seq, std::int64_t embed,
                std::int64_t index, cudaStream_t stream) {
  if (batch <= 0 || seq <= 0 || embed <= 0)
    throw InvalidInput("take_token: extents must be positive, got batch " + std::to_string(batch) + ", seq " +
                       std::to_string(seq) + ", embed " + std::to_string(embed));
  if (index < 0 || index >= seq)
    throw InvalidInput("take_token: token " + std::to_string(index) + " is outside the sequence of " +
                       std::to_string(seq));
  detail::dispatch_float(dtype, "take_token", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int P = kPack<T>;
    const bool vec = embed % P == 0 && detail::aligned16(x) && detail::aligned16(y);
    const auto* xs = static_cast<const T*>(x);
    auto* ys = static_cast<T*>(y);
    if (vec)
      take_token_kernel<T, P><<<detail::grid_for(batch * embed / P), detail::kThreads, 0, stream>>>(
          xs, ys, batch, seq, embed, index);
    else
      take_token_kernel<T, 1><<<detail::grid_for(batch * embed), detail::kThreads, 0, stream>>>(xs, ys, batch, seq,
                                                                                              embed, index);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
