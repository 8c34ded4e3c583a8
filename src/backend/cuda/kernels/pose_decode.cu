// backend/cuda/kernels/pose_decode.cu — see pose_decode.cuh.
#include "backend/cuda/kernels/pose_decode.cuh"

#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels {
namespace {

using detail::global_thread;
using detail::grid_threads;
using detail::to_float;

constexpr int kMaxLevels = 4;
constexpr int kMaxRegMax = 32;

struct Levels {
  const void* box[kMaxLevels];
  const void* cls[kMaxLevels];
  const void* kpt[kMaxLevels];
  int h[kMaxLevels], w[kMaxLevels];
  float stride[kMaxLevels];
  int start[kMaxLevels + 1];  // first anchor of each level; start[count] = A
  int count;
};

struct Dims {
  int nc, r, kpts, kdims, anchors;
};

// Channel ch of the pixel `pos` of image b in a [B, C, plane] map.
template <bool kNhwc>
__device__ __forceinline__ std::int64_t at(std::int64_t b, int ch, int pos, int C, int plane) {
  if constexpr (kNhwc) return (b * plane + pos) * C + ch;
  else return (b * C + ch) * static_cast<std::int64_t>(plane) + pos;
}

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

template <class T, bool kNhwc>
__global__ void pose_decode_kernel(Levels lv, const T* bins, T* y, std::int64_t batch, Dims d) {
  const int channels = 4 + d.nc + d.kpts * d.kdims;
  const std::int64_t total = batch * d.anchors;
  for (std::int64_t i = global_thread(); i < total; i += grid_threads()) {
    const std::int64_t b = i / d.anchors;
    const int a = static_cast<int>(i - b * d.anchors);
    int l = 0;
    while (l + 1 < lv.count && a >= lv.start[l + 1]) ++l;
    const int pos = a - lv.start[l], W = lv.w[l], plane = lv.h[l] * W;
    const int px = pos % W, py = pos / W;
    const float ax = static_cast<float>(px) + 0.5f, ay = static_cast<float>(py) + 0.5f, s = lv.stride[l];
    T* out = y + b * channels * static_cast<std::int64_t>(d.anchors) + a;
    const auto put = [&](int row, float v) { out[static_cast<std::int64_t>(row) * d.anchors] = detail::from_float<T>(v); };

    const T* box = static_cast<const T*>(lv.box[l]);
    float dist[4];
    for (int side = 0; side < 4; ++side) {
      float logit[kMaxRegMax];
      float mx = -INFINITY;
      for (int j = 0; j < d.r; ++j) {
        logit[j] = to_float(box[at<kNhwc>(b, side * d.r + j, pos, 4 * d.r, plane)]);
        mx = fmaxf(mx, logit[j]);
      }
      float sum = 0.0f, e = 0.0f;
      for (int j = 0; j < d.r; ++j) {
        const float p = expf(logit[j] - mx);
        sum += p;
        e = fmaf(p, to_float(bins[j]), e);
      }
      dist[side] = e / sum;
    }
    const float x1 = ax - dist[0], y1 = ay - dist[1], x2 = ax + dist[2], y2 = ay + dist[3];
    put(0, (x1 + x2) * 0.5f * s);
    put(1, (y1 + y2) * 0.5f * s);
    put(2, (x2 - x1) * s);
    put(3, (y2 - y1) * s);
    const T* cls = static_cast<const T*>(lv.cls[l]);
    for (int c = 0; c < d.nc; ++c) put(4 + c, sigmoid(to_float(cls[at<kNhwc>(b, c, pos, d.nc, plane)])));
    if (d.kpts > 0) {
      const T* kp = static_cast<const T*>(lv.kpt[l]);
      const int nk = d.kpts * d.kdims;
      for (int k = 0; k < d.kpts; ++k) {
        const int row = k * d.kdims;
        put(4 + d.nc + row, (to_float(kp[at<kNhwc>(b, row, pos, nk, plane)]) * 2.0f + (ax - 0.5f)) * s);
        put(4 + d.nc + row + 1, (to_float(kp[at<kNhwc>(b, row + 1, pos, nk, plane)]) * 2.0f + (ay - 0.5f)) * s);
        if (d.kdims == 3) put(4 + d.nc + row + 2, sigmoid(to_float(kp[at<kNhwc>(b, row + 2, pos, nk, plane)])));
      }
    }
  }
}

}  // namespace

void pose_decode(DType dtype, Layout layout, const std::vector<PoseDecodeLevel>& levels, const void* bins, void* y,
                 const PoseDecodeDims& d, cudaStream_t stream) {
  if (levels.empty() || levels.size() > static_cast<std::size_t>(kMaxLevels))
    throw Unsupported("pose_decode: 1 to " + std::to_string(kMaxLevels) + " levels are implemented, got " +
                      std::to_string(levels.size()));
  if (d.reg_max < 1 || d.reg_max > kMaxRegMax)
    throw Unsupported("pose_decode: reg_max " + std::to_string(d.reg_max) + " outside the implemented 1.." +
                      std::to_string(kMaxRegMax));
  if (d.batch <= 0 || d.num_classes <= 0 || d.kpt_count < 0 || (d.kpt_count > 0 && d.kpt_dims != 2 && d.kpt_dims != 3))
    throw InvalidInput("pose_decode: need batch > 0, ≥ 1 class and keypoints of 2 or 3 values");
  if (layout != Layout::NCHW && layout != Layout::NHWC) throw Unsupported("pose_decode: layout must be NCHW or NHWC");
  Levels lv{};
  lv.count = static_cast<int>(levels.size());
  std::int64_t anchors = 0;
  for (std::size_t l = 0; l < levels.size(); ++l) {
    const auto& L = levels[l];
    if (L.h <= 0 || L.w <= 0 || L.stride <= 0 || !L.box || !L.cls || (d.kpt_count > 0 && !L.kpt))
      throw InvalidInput("pose_decode: level " + std::to_string(l) + " has a bad extent or a missing map");
    lv.box[l] = L.box;
    lv.cls[l] = L.cls;
    lv.kpt[l] = L.kpt;
    lv.h[l] = static_cast<int>(L.h);
    lv.w[l] = static_cast<int>(L.w);
    lv.stride[l] = static_cast<float>(L.stride);
    lv.start[l] = static_cast<int>(anchors);
    anchors += L.h * L.w;
  }
  if (anchors > INT32_MAX) throw InvalidInput("pose_decode: too many anchors");
  lv.start[lv.count] = static_cast<int>(anchors);
  const Dims dims{static_cast<int>(d.num_classes), static_cast<int>(d.reg_max), static_cast<int>(d.kpt_count),
                  static_cast<int>(d.kpt_dims), static_cast<int>(anchors)};
  detail::dispatch_float(dtype, "pose_decode", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const auto* bn = static_cast<const T*>(bins);
    auto* ys = static_cast<T*>(y);
    const unsigned grid = detail::grid_for(d.batch * anchors);
    if (layout == Layout::NHWC) pose_decode_kernel<T, true><<<grid, detail::kThreads, 0, stream>>>(lv, bn, ys, d.batch, dims);
    else pose_decode_kernel<T, false><<<grid, detail::kThreads, 0, stream>>>(lv, bn, ys, d.batch, dims);
    CUDA_CHECK(cudaGetLastError());
  });
}

}  // namespace vramfit::cuda::kernels
