// backend/cuda/kernels/llm_gemm_dequant.cu — see llm_gemm_dequant.cuh.
#include "backend/cuda/kernels/llm_gemm_dequant.cuh"

#include <optional>

#include "backend/cuda/cublaslt_gemm.h"
#include "backend/cuda/kernels/gguf_gemv.cuh"
#include "backend/cuda/kernels/llm_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

// Item = 8 consecutive columns of one row when V = 8 (one 16-byte store), else one element.
template <class T, int V>
__global__ void dequant_kernel(const std::uint8_t* __restrict__ w, const __half* __restrict__ scale, bool int4,
                               std::int64_t row0, std::int64_t k, std::int64_t items, T* __restrict__ out) {
  const std::int64_t per_row = k / V;
  for (std::int64_t it = detail::global_thread(); it < items; it += detail::grid_threads()) {
    const std::int64_t r = it / per_row, c0 = (it - r * per_row) * V, row = row0 + r;
    llm::Unit<T, V> u;
    if (int4) {
      const float s = __half2float(scale[row * (k / 128) + c0 / 128]);  // V = 8 never crosses a group
#pragma unroll
      for (int j = 0; j < V; ++j) {
        const std::int64_t c = c0 + j;
        const std::uint8_t byte = w[row * (k / 2) + c / 2];
        const int nib = (c & 1) ? (byte >> 4) : (byte & 0xf);
        u.v[j] = detail::from_float<T>(static_cast<float>(nib - 8) * s);
      }
    } else {
      const float s = __half2float(scale[row]);
#pragma unroll
      for (int j = 0; j < V; ++j)
        u.v[j] = detail::from_float<T>(static_cast<float>(static_cast<std::int8_t>(w[row * k + c0 + j])) * s);
    }
    llm::store_unit<T, V>(out + r * k + c0, u);
  }
}

std::uint64_t align256(std::uint64_t b) { return (b + 255) / 256 * 256; }

}  // namespace

void dequantize_weight_rows(DType act, const LlmWeights& w, std::int64_t row0, std::int64_t rows, void* out,
                            cudaStream_t stream) {
  llm::require(w.n > 0 && w.k > 0 && row0 >= 0 && rows > 0 && row0 + rows <= w.n,
               "dequantize_weight_rows: rows [" + std::to_string(row0) + ", " + std::to_string(row0 + rows) +
                   ") outside [0, " + std::to_string(w.n) + ")");
  if (w.dtype != DType::i8 && w.dtype != DType::i4)
    throw Unsupported("dequantize_weight_rows: weights must be i8 or i4, not " + std::string(to_string(w.dtype)));
  llm::require(w.dtype != DType::i4 || w.k % kInt4GroupSize == 0, "dequantize_weight_rows: int4 needs k % 128 = 0");
  llm::require(w.data != nullptr && w.scale != nullptr && out != nullptr, "dequantize_weight_rows: null pointer");
  const bool int4 = w.dtype == DType::i4;
  llm::dispatch_16bit(act, "dequantize_weight_rows", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto* wp = static_cast<const std::uint8_t*>(w.data);
    const auto* sp = static_cast<const __half*>(w.scale);
    if (w.k % 8 == 0 && detail::aligned16(out)) {
      const std::int64_t items = rows * (w.k / 8);
      dequant_kernel<T, 8><<<detail::grid_for(items), detail::kThreads, 0, stream>>>(wp, sp, int4, row0, w.k, items,
                                                                                    static_cast<T*>(out));
    } else {
      const std::int64_t items = rows * w.k;
      dequant_kernel<T, 1><<<detail::grid_for(items), detail::kThreads, 0, stream>>>(wp, sp, int4, row0, w.k, items,
                                                                                    static_cast<T*>(out));
    }
    CUDA_CHECK(cudaGetLastError());
  });
}

namespace {
bool gguf_type(DType t) { return t == DType::q8_0 || t == DType::q4_0 || t == DType::q4_k || t == DType::q6_k; }
}  // namespace

void dequantize_segment_rows(DType act, std::span<const WeightSegment> w, std::int64_t k, std::int64_t row0,
                             std::int64_t rows, void* out, cudaStream_t stream) {
  llm::require(!w.empty() && k > 0 && row0 >= 0 && rows > 0, "dequantize_segment_rows: empty weight or row range");
  const std::int64_t n = w.back().row0 + w.back().rows;
  llm::require(row0 + rows <= n, "dequantize_segment_rows: rows [" + std::to_string(row0) + ", " +
                                     std::to_string(row0 + rows) + ") outside [0, " + std::to_string(n) + ")");
  for (const WeightSegment& seg : w) {
    const std::int64_t a = std::max(row0, seg.row0), b = std::min(row0 + rows, seg.row0 + seg.rows);
    if (a >= b) continue;
    void* dst = static_cast<std::uint8_t*>(out) + (a - row0) * k * 2;
    if (gguf_type(seg.dtype)) {
      if (act != DType::f16)
        throw Unsupported("dequantize_segment_rows: GGUF blocks run with f16 activations, not " + std::string(to_string(act)));
      const auto* src = static_cast<const std::uint8_t*>(seg.data) + (a - seg.row0) * gguf_row_bytes(seg.dtype, k);
      gguf_dequantize(seg.dtype, src, b - a, k, dst, stream);
    } else {
      LlmWeights lw;
      lw.dtype = seg.dtype;
      lw.data = seg.data;
      lw.scale = seg.scale;
      lw.n = seg.rows;
      lw.k = k;
      dequantize_weight_rows(act, lw, a - seg.row0, b - a, dst, stream);
    }
  }
}

struct DequantGemm::Impl {
  DType act = DType::f16, wdt = DType::i8;
  std::int64_t m = 0, n = 0, k = 0, tile = 0;
  bool has_residual = false;
  std::optional<LinearRunner> main, tail;  // tail: the last, shorter tile
  std::uint64_t w_bytes = 0, y_bytes = 0, ws_bytes = 0;
  bool tiled() const { return tile < n; }
};

DequantGemm::DequantGemm(cublasLtHandle_t handle, DType act, DType weight_dtype, std::int64_t m, std::int64_t n,
                         std::int64_t k, std::int64_t tile_rows, bool has_residual, std::uint64_t workspace_limit,
                         AlgorithmCache* cache)
    : impl_(std::make_unique<Impl>()) {
  llm::require(m > 0 && n > 0 && k > 0 && tile_rows >= 0, "DequantGemm: m, n, k must be positive, tile_rows ≥ 0");
  if (act != DType::f16 && act != DType::bf16)
    throw Unsupported("DequantGemm: activations must be f16 or bf16, not " + std::string(to_string(act)));
  if (weight_dtype != DType::i8 && weight_dtype != DType::i4 && !gguf_type(weight_dtype))
    throw Unsupported("DequantGemm: weights must be i8, i4 or a GGUF block type, not " + std::string(to_string(weight_dtype)));
  llm::require(weight_dtype != DType::i4 || k % kInt4GroupSize == 0, "DequantGemm: int4 weights need k % 128 = 0");
  Impl& s = *impl_;
  s.act = act;
  s.wdt = weight_dtype;
  s.m = m;
  s.n = n;
  s.k = k;
  s.tile = tile_rows == 0 || tile_rows >= n ? n : tile_rows;
  s.has_residual = has_residual;
  auto params = [&](std::int64_t cols) {
    LinearParams p;
    p.m = m;
    p.n = cols;
    p.k = k;
    p.dtype = act;
    p.has_residual = has_residual;
    p.pointer_alignment = 16;
    return p;
  };
  s.main.emplace(handle, params(s.tile), workspace_limit, cache);
  if (n % s.tile != 0) s.tail.emplace(handle, params(n % s.tile), workspace_limit, cache);
  s.w_bytes = align256(static_cast<std::uint64_t>(s.tile * k) * 2);
  s.y_bytes = s.tiled() ? align256(static_cast<std::uint64_t>(m * s.tile) * 2) : 0;
  s.ws_bytes = align256(std::max(s.main->workspace_bytes(), s.tail ? s.tail->workspace_bytes() : 0));
}

DequantGemm::~DequantGemm() = default;
DequantGemm::DequantGemm(DequantGemm&&) noexcept = default;
DequantGemm& DequantGemm::operator=(DequantGemm&&) noexcept = default;

std::int64_t DequantGemm::tile_rows() const { return impl_->tile; }
std::uint64_t DequantGemm::scratch_bytes() const { return impl_->w_bytes + impl_->y_bytes + impl_->ws_bytes; }

void DequantGemm::run(cudaStream_t stream, const void* x, const LlmWeights& w, const void* residual, void* y,
                      void* scratch) const {
  const Impl& s = *impl_;
  llm::require(w.dtype == s.wdt && w.n == s.n && w.k == s.k, "DequantGemm::run: weights differ from the prepared shape");
  const WeightSegment seg{w.dtype, w.data, w.scale, 0, w.n};
  run(stream, x, std::span<const WeightSegment>(&seg, 1), residual, y, scratch);
}

void DequantGemm::run(cudaStream_t stream, const void* x, std::span<const WeightSegment> w, const void* residual, void* y,
                      void* scratch) const {
  const Impl& s = *impl_;
  llm::require(!w.empty() && w.front().row0 == 0 && w.back().row0 + w.back().rows == s.n,
               "DequantGemm::run: the segments must cover the prepared rows");
  llm::require((residual != nullptr) == s.has_residual, "DequantGemm::run: residual given iff has_residual");
  llm::require(scratch != nullptr && (reinterpret_cast<std::uintptr_t>(scratch) & 255u) == 0,
               "DequantGemm::run: scratch must be 256-byte aligned");
  auto* base = static_cast<std::uint8_t*>(scratch);
  void* w_tile = base;
  void* y_tile = base + s.w_bytes;
  void* ws = s.ws_bytes > 0 ? base + s.w_bytes + s.y_bytes : nullptr;
  const std::size_t es = 2;
  for (std::int64_t r0 = 0; r0 < s.n; r0 += s.tile) {
    const std::int64_t rows = std::min(s.tile, s.n - r0);
    const LinearRunner& runner = rows == s.tile ? *s.main : *s.tail;
    dequantize_segment_rows(s.act, w, s.k, r0, rows, w_tile, stream);
    if (!s.tiled()) {
      runner.run(stream, x, w_tile, nullptr, residual, y, ws);
      continue;
    }
    const std::size_t pitch_y = static_cast<std::size_t>(s.n) * es, pitch_t = static_cast<std::size_t>(rows) * es;
    if (residual != nullptr)
      CUDA_CHECK(cudaMemcpy2DAsync(y_tile, pitch_t, static_cast<const std::uint8_t*>(residual) + r0 * es, pitch_y,
                                   pitch_t, static_cast<std::size_t>(s.m), cudaMemcpyDeviceToDevice, stream));
    runner.run(stream, x, w_tile, nullptr, residual != nullptr ? y_tile : nullptr, y_tile, ws);
    CUDA_CHECK(cudaMemcpy2DAsync(static_cast<std::uint8_t*>(y) + r0 * es, pitch_y, y_tile, pitch_t, pitch_t,
                                 static_cast<std::size_t>(s.m), cudaMemcpyDeviceToDevice, stream));
  }
}

}  // namespace vramfit::cuda::kernels
