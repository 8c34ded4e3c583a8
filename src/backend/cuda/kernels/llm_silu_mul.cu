// backend/cuda/kernels/llm_silu_mul.cu — see llm_silu_mul.cuh.
#include "backend/cuda/kernels/llm_silu_mul.cuh"

#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

// Item = one unit (V elements) of y; units_per_row = cols / V.
template <class T, int V>
__global__ void silu_mul_kernel(const T* gate, std::int64_t gate_stride, const T* up, std::int64_t up_stride, T* y,
                                std::int64_t units_per_row, std::int64_t items) {
  constexpr bool k16 = !std::is_same_v<T, float>;
  detail::pdl_trigger();  // the next kernel (the down GEMV) may start streaming its weights now
  for (std::int64_t it = detail::global_thread(); it < items; it += detail::grid_threads()) {
    const std::int64_t r = it / units_per_row, c = (it - r * units_per_row) * V;
    const auto g = llm::load_unit<T, V>(gate + r * gate_stride + c);
    const auto u = llm::load_unit<T, V>(up + r * up_stride + c);
    llm::Unit<T, V> out;
#pragma unroll
    for (int j = 0; j < V; ++j)
      out.v[j] = detail::from_float<T>(detail::activate<Activation::Silu, k16>(to_float(g.v[j])) * to_float(u.v[j]));
    llm::store_unit<T, V>(y + r * units_per_row * V + c, out);
  }
}

}  // namespace

void silu_mul(DType dtype, const void* gate, std::int64_t gate_stride, const void* up, std::int64_t up_stride, void* y,
              std::int64_t rows, std::int64_t cols, cudaStream_t stream) {
  llm::require(rows > 0 && cols > 0 && gate_stride >= cols && up_stride >= cols,
               "silu_mul: rows, cols must be positive and strides ≥ cols (got rows " + std::to_string(rows) + ", cols " +
                   std::to_string(cols) + ", strides " + std::to_string(gate_stride) + ", " + std::to_string(up_stride) + ")");
  detail::dispatch_float(dtype, "silu_mul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int P = detail::kPack<T>;
    const bool vec = cols % P == 0 && gate_stride % P == 0 && up_stride % P == 0 && detail::aligned16(gate) &&
                     detail::aligned16(up) && detail::aligned16(y);
    const std::int64_t upr = vec ? cols / P : cols, items = rows * upr;
    if (vec)
      silu_mul_kernel<T, P><<<detail::grid_for(items), detail::kThreads, 0, stream>>>(
          static_cast<const T*>(gate), gate_stride, static_cast<const T*>(up), up_stride, static_cast<T*>(y), upr, items);
    else
      silu_mul_kernel<T, 1><<<detail::grid_for(items), detail::kThreads, 0, stream>>>(
          static_cast<const T*>(gate), gate_stride, static_cast<const T*>(up), up_stride, static_cast<T*>(y), upr, items);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
