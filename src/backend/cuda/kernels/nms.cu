// backend/cuda/kernels/nms.cu — see nms.cuh.
#include "backend/cuda/kernels/nms.cuh"

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::to_float;

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / 32;

struct Params {
  int channels, anchors, nc, max_det, extras;
  float conf, iou;
  bool agnostic;
};

struct Box {
  float x1, y1, x2, y2, area;
};

template <class T>
__device__ __forceinline__ Box box_of(const T* x, int A, int a) {
  const float cx = to_float(x[a]), cy = to_float(x[A + a]);
  const float hw = __fmul_rn(to_float(x[2 * A + a]), 0.5f), hh = __fmul_rn(to_float(x[3 * A + a]), 0.5f);
  Box b;
  b.x1 = __fsub_rn(cx, hw);
  b.y1 = __fsub_rn(cy, hh);
  b.x2 = __fadd_rn(cx, hw);
  b.y2 = __fadd_rn(cy, hh);
  b.area = __fmul_rn(__fsub_rn(b.x2, b.x1), __fsub_rn(b.y2, b.y1));
  return b;
}

// The CPU reference's fp32 IoU, operation by operation: inter / ((area_kept + area_j) − inter).
__device__ __forceinline__ float iou(const Box& k, const Box& j) {
  const float w = fmaxf(0.0f, __fsub_rn(fminf(k.x2, j.x2), fmaxf(k.x1, j.x1)));
  const float h = fmaxf(0.0f, __fsub_rn(fminf(k.y2, j.y2), fmaxf(k.y1, j.y1)));
  const float inter = __fmul_rn(w, h);
  return __fdiv_rn(inter, __fsub_rn(__fadd_rn(k.area, j.area), inter));
}

template <class T>
__device__ __forceinline__ int class_of(const T* x, int A, int nc, int a, float* conf) {
  float best = to_float(x[4 * A + a]);
  int c = 0;
  for (int k = 1; k < nc; ++k) {
    const float v = to_float(x[(4 + k) * A + a]);
    if (v > best) {
      best = v;
      c = k;
    }
  }
  if (conf) *conf = best;
  return c;
}

// (value, index) argmax: larger value, then lower index.
__device__ __forceinline__ bool better(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

template <class T>
__global__ void __launch_bounds__(kThreads) nms_kernel(const T* pred, T* y, Params p) {
  extern __shared__ float key[];  // per anchor: conf if a live candidate, else −∞
  __shared__ float warp_v[kWarps];
  __shared__ int warp_i[kWarps];
  __shared__ int chosen;
  const int A = p.anchors, tid = static_cast<int>(threadIdx.x);
  const T* x = pred + static_cast<std::int64_t>(blockIdx.x) * p.channels * A;
  T* out = y + static_cast<std::int64_t>(blockIdx.x) * p.max_det * (6 + p.extras);

  float bv = -INFINITY;
  int bi = INT32_MAX;
  for (int a = tid; a < A; a += kThreads) {
    float conf;
    class_of(x, A, p.nc, a, &conf);
    const float k = conf > p.conf ? conf : -INFINITY;
    key[a] = k;
    if (better(k, a, bv, bi)) { bv = k; bi = a; }
  }

  int kept = 0;
  for (;;) {
    // Block argmax of the per-thread bests.
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float ov = __shfl_down_sync(0xffffffffu, bv, o);
      const int oi = __shfl_down_sync(0xffffffffu, bi, o);
      if (better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
    }
    if ((tid & 31) == 0) { warp_v[tid >> 5] = bv; warp_i[tid >> 5] = bi; }
    __syncthreads();
    if (tid < 32) {
      bv = warp_v[tid];
      bi = warp_i[tid];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_down_sync(0xffffffffu, bv, o);
        const int oi = __shfl_down_sync(0xffffffffu, bi, o);
        if (better(ov, oi, bv, bi)) { bv = ov; bi = oi; }
      }
      if (tid == 0) chosen = bv == -INFINITY ? -1 : bi;
    }
    __syncthreads();
    const int k = chosen;
    if (k < 0 || kept == p.max_det) break;
    float conf;
    const int kcls = class_of(x, A, p.nc, k, &conf);
    const Box kb = box_of(x, A, k);
    T* row = out + static_cast<std::int64_t>(kept) * (6 + p.extras);
    if (tid == 0) {
      row[0] = detail::from_float<T>(kb.x1);
      row[1] = detail::from_float<T>(kb.y1);
      row[2] = detail::from_float<T>(kb.x2);
      row[3] = detail::from_float<T>(kb.y2);
      row[4] = x[4 * A + kcls * A + k];
      row[5] = detail::from_float<T>(static_cast<float>(kcls));
    }
    for (int e = tid; e < p.extras; e += kThreads) row[6 + e] = x[(4 + p.nc + e) * A + k];
    ++kept;
    // Suppress against the kept box and form the next argmax from the survivors.
    bv = -INFINITY;
    bi = INT32_MAX;
    for (int a = tid; a < A; a += kThreads) {
      float v = key[a];
      if (v == -INFINITY) continue;
      if (a == k) {
        v = -INFINITY;
      } else if (p.agnostic || class_of<T>(x, A, p.nc, a, nullptr) == kcls) {
        if (iou(kb, box_of(x, A, a)) > p.iou) v = -INFINITY;
      }
      key[a] = v;
      if (better(v, a, bv, bi)) { bv = v; bi = a; }
    }
    __syncthreads();  // `chosen` and the warp slots are rewritten next round
  }
  // Rows past the kept count are zero.
  const std::int64_t first = static_cast<std::int64_t>(kept) * (6 + p.extras);
  const std::int64_t last = static_cast<std::int64_t>(p.max_det) * (6 + p.extras);
  for (std::int64_t i = first + tid; i < last; i += kThreads) out[i] = detail::from_float<T>(0.0f);
}

int max_shared_bytes() {
  int dev = 0, bytes = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return bytes;
}

}  // namespace

std::optional<std::string> nms_unsupported(DType dtype, std::int64_t anchors) {
  if (dtype != DType::f32 && dtype != DType::f16 && dtype != DType::bf16)
    return "nms: dtype " + std::string(to_string(dtype)) + " is not supported (f32, f16, bf16)";
  const std::int64_t need = anchors * 4 + 2048;  // keys + the static slots
  if (need > max_shared_bytes())
    return "nms: " + std::to_string(anchors) + " anchors need " + std::to_string(anchors * 4) +
           " bytes of shared memory per image, more than this GPU's " + std::to_string(max_shared_bytes());
  return std::nullopt;
}

void nms(DType dtype, const void* pred, void* y, const NmsDims& d, cudaStream_t stream) {
  if (auto why = nms_unsupported(dtype, d.anchors)) throw Unsupported(*why);
  if (d.batch <= 0 || d.anchors <= 0 || d.num_classes <= 0 || d.channels < 4 + d.num_classes || d.max_det <= 0 ||
      d.batch > INT32_MAX)
    throw InvalidInput("nms: need positive extents and ≥ 4 + classes channels");
  const Params p{static_cast<int>(d.channels), static_cast<int>(d.anchors), static_cast<int>(d.num_classes),
                 static_cast<int>(d.max_det), static_cast<int>(d.channels - 4 - d.num_classes),
                 d.conf_threshold, d.iou_threshold, d.agnostic};
  const std::size_t smem = static_cast<std::size_t>(d.anchors) * sizeof(float);
  detail::dispatch_float(dtype, "nms", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (smem > 48 * 1024)
      CUDA_CHECK(cudaFuncSetAttribute(nms_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    nms_kernel<T><<<static_cast<unsigned>(d.batch), kThreads, smem, stream>>>(static_cast<const T*>(pred), static_cast<T*>(y), p);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
