// tests/gpu/test_yolo.cpp — the YOLO kernels (upsample, concat/slice, spatial attention, pose decoding,
// NMS) against the CPU reference (backend/cpu/ops.h) at awkward shapes, in NCHW and NHWC, f32/f16/bf16;
// then the whole yolo11n-pose on the CUDA executor against the CPU reference and the PyTorch golden.
//
// 16-bit cases: inputs are rounded to the storage dtype on the host and the reference runs on the
// rounded values, so what is left is the kernel's arithmetic and its one output rounding. Copies
// (upsample, concat, slice) and NMS must be exact; attention and decoding are judged with
// |got − ref| ≤ atol + rtol·|ref| by dtype, printing the share of the tolerance used.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/cpu/executor.h"
#include "backend/cpu/ops.h"
#include "backend/cuda/arena.h"
#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "backend/cuda/executor.h"
#include "backend/cuda/kernels/channel_copy.cuh"
#include "backend/cuda/kernels/nms.cuh"
#include "backend/cuda/kernels/pose_decode.cuh"
#include "backend/cuda/kernels/spatial_attention.cuh"
#include "backend/cuda/kernels/upsample.cuh"
#include "core/half.h"
#include "core/rng.h"
#include "gpu_env.h"
#include "graph/passes.h"
#include "graph/planner.h"
#include "models/yolo11_pose.h"
#include "weights/binding.h"
#include "weights/safetensors.h"

namespace vramfit {
namespace {

namespace kern = cuda::kernels;

const DType kFloatTypes[] = {DType::f32, DType::f16, DType::bf16};
const Layout kLayouts[] = {Layout::NCHW, Layout::NHWC};

std::size_t elem_bytes(DType dt) { return dt == DType::f32 ? 4 : 2; }

float round_as(DType dt, float f) {
  return dt == DType::f16 ? round_to_half(f) : dt == DType::bf16 ? round_to_bf16(f) : f;
}
std::vector<float> rounded(DType dt, std::vector<float> v) {
  for (float& f : v) f = round_as(dt, f);
  return v;
}

std::vector<float> random_values(std::size_t n, std::uint64_t stream, float std_dev = 1.0f, float mean = 0.0f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = mean + std_dev * normal01(77, stream, i);
  return v;
}

// NCHW [n, c, p] ↔ NHWC [n, p, c] on the host.
std::vector<float> to_layout(const std::vector<float>& nchw, std::int64_t n, std::int64_t c, std::int64_t p, Layout l) {
  if (l == Layout::NCHW) return nchw;
  std::vector<float> out(nchw.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < p; ++i)
        out[static_cast<std::size_t>((b * p + i) * c + ch)] = nchw[static_cast<std::size_t>((b * c + ch) * p + i)];
  return out;
}
std::vector<float> from_layout(const std::vector<float>& v, std::int64_t n, std::int64_t c, std::int64_t p, Layout l) {
  if (l == Layout::NCHW) return v;
  std::vector<float> out(v.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t i = 0; i < p; ++i)
        out[static_cast<std::size_t>((b * c + ch) * p + i)] = v[static_cast<std::size_t>((b * p + i) * c + ch)];
  return out;
}

class DeviceArray {
 public:
  DeviceArray(DType dt, std::size_t n) : dt_(dt) { CUDA_CHECK(cudaMalloc(&p_, std::max<std::size_t>(n, 1) * elem_bytes(dt))); }
  ~DeviceArray() { (void)cudaFree(p_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  void* get() { return p_; }
  void upload(const std::vector<float>& v) {
    std::vector<std::uint8_t> bytes(v.size() * elem_bytes(dt_));
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(bytes.data() + 4 * i, &v[i], 4);
      } else {
        const std::uint16_t h = dt_ == DType::f16 ? float_to_half_bits(v[i]) : float_to_bf16_bits(v[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    }
    CUDA_CHECK(cudaMemcpy(p_, bytes.data(), bytes.size(), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
  }
  std::vector<float> download(std::size_t n) {
    CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<std::uint8_t> bytes(n * elem_bytes(dt_));
    CUDA_CHECK(cudaMemcpy(bytes.data(), p_, bytes.size(), cudaMemcpyDeviceToHost));
    std::vector<float> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (dt_ == DType::f32) {
        std::memcpy(&out[i], bytes.data() + 4 * i, 4);
      } else {
        std::uint16_t h;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        out[i] = dt_ == DType::f16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
      }
    }
    return out;
  }

 private:
  DType dt_;
  void* p_ = nullptr;
};

void expect_exact(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << what << ": element " << i;
}

// atol + rtol·|ref| by dtype: fp32 arithmetic vs the reference's double, plus one output rounding.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, DType dt, const std::string& what) {
  const double rtol = dt == DType::f32 ? 2e-5 : dt == DType::f16 ? 2e-3 : 1.6e-2;
  double rms = 0;
  for (float w : want) rms += static_cast<double>(w) * w;
  rms = std::sqrt(rms / static_cast<double>(std::max<std::size_t>(want.size(), 1)));
  const double atol = rtol * rms;
  ASSERT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double used = std::abs(static_cast<double>(got[i]) - want[i]) / (atol + rtol * std::abs(want[i]));
    if (!(used <= worst)) {
      worst = std::isnan(used) ? 1e30 : used;
      at = i;
    }
  }
  std::printf("  %-60s %5.1f%% of tolerance\n", what.c_str(), 100.0 * worst);
  EXPECT_LE(worst, 1.0) << what << ": element " << at << " is " << got[at] << ", expected " << want[at];
}

std::string name(DType dt, Layout l) { return fmt::format("{} {}", to_string(dt), l == Layout::NHWC ? "NHWC" : "NCHW"); }

class YoloKernels : public test::GpuTest {};

TEST_F(YoloKernels, UpsampleIsExact) {
  for (DType dt : kFloatTypes)
    for (Layout l : kLayouts)
      for (auto [c, h, w, s] : {std::array<std::int64_t, 4>{13, 5, 7, 2}, {16, 20, 20, 2}, {3, 4, 3, 3}}) {
        const std::int64_t n = 3, plane = h * w, oplane = plane * s * s;
        const auto x = rounded(dt, random_values(static_cast<std::size_t>(n * c * plane), 1));
        std::vector<float> want(static_cast<std::size_t>(n * c * oplane));
        cpu::upsample_nearest(x.data(), want.data(), n, c, h, w, s);
        DeviceArray dx(dt, x.size()), dy(dt, want.size());
        dx.upload(to_layout(x, n, c, plane, l));
        kern::upsample_nearest(dt, l, dx.get(), dy.get(), n, c, h, w, s, nullptr);
        expect_exact(from_layout(dy.download(want.size()), n, c, oplane, l), want,
                     fmt::format("upsample {} c{} {}×{} ×{}", name(dt, l), c, h, w, s));
      }
}

TEST_F(YoloKernels, ConcatAndSliceAreExact) {
  for (DType dt : kFloatTypes)
    for (Layout l : kLayouts)
      for (const std::vector<std::int64_t>& chans : {std::vector<std::int64_t>{5, 8, 3}, {16, 32}, {64, 16, 16, 16}}) {
        const std::int64_t n = 2, plane = 7 * 9;
        std::int64_t total = 0;
        for (auto c : chans) total += c;
        std::vector<std::vector<float>> xs;
        std::vector<std::unique_ptr<DeviceArray>> own;
        std::vector<const float*> host_ptrs;
        std::vector<const void*> dev_ptrs;
        for (std::size_t i = 0; i < chans.size(); ++i) {
          xs.push_back(rounded(dt, random_values(static_cast<std::size_t>(n * chans[i] * plane), 10 + i)));
          own.push_back(std::make_unique<DeviceArray>(dt, xs.back().size()));
          own.back()->upload(to_layout(xs.back(), n, chans[i], plane, l));
        }
        for (std::size_t i = 0; i < chans.size(); ++i) {
          host_ptrs.push_back(xs[i].data());
          dev_ptrs.push_back(own[i]->get());
        }
        std::vector<float> want(static_cast<std::size_t>(n * total * plane));
        cpu::concat_channels(host_ptrs, chans, want.data(), n, plane);
        DeviceArray dy(dt, want.size());
        kern::concat_channels(dt, l, dev_ptrs, chans, dy.get(), n, plane, nullptr);
        expect_exact(from_layout(dy.download(want.size()), n, total, plane, l), want,
                     fmt::format("concat {} of {} inputs", name(dt, l), chans.size()));
        // Slices of the concatenation: a plain range and a grouped one (the per-head v of attention).
        for (auto [b0, b1, g] : {std::array<std::int64_t, 3>{1, total - 2, 1}, {2, 5, total % 3 == 0 ? 3 : 1}, {0, 8, total % 8 == 0 ? 2 : 1}}) {
          if ((total / g) < b1) continue;
          const std::int64_t oc = g * (b1 - b0);
          std::vector<float> ws(static_cast<std::size_t>(n * oc * plane));
          cpu::slice_channels(want.data(), ws.data(), n, total, plane, b0, b1, g);
          DeviceArray ds(dt, ws.size());
          kern::slice_channels(dt, l, dy.get(), ds.get(), n, total, plane, b0, b1, g, nullptr);
          expect_exact(from_layout(ds.download(ws.size()), n, oc, plane, l), ws,
                       fmt::format("slice {} [{}, {}) × {} groups of {}", name(dt, l), b0, b1, g, total));
        }
      }
}

TEST_F(YoloKernels, SpatialAttentionMatchesCpu) {
  struct Case { std::int64_t batch, heads, kd, hd, h, w; };
  // YOLO11's own (key 32, head 64; 20×20 at 640², 2×2 at 64²), awkward small dims, a partial tile, and
  // the wider instantiation (key 48, head 96).
  for (const Case& k : {Case{3, 2, 32, 64, 20, 20}, Case{2, 3, 5, 13, 7, 9}, Case{1, 1, 7, 3, 1, 1}, Case{2, 2, 32, 64, 2, 2},
                        Case{1, 2, 48, 96, 13, 11}})
    for (DType dt : kFloatTypes)
      for (Layout l : kLayouts) {
        const std::int64_t S = k.h * k.w, C = k.heads * (2 * k.kd + k.hd), Co = k.heads * k.hd;
        const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(k.kd)));
        const auto qkv = rounded(dt, random_values(static_cast<std::size_t>(k.batch * C * S), 30));
        std::vector<float> want(static_cast<std::size_t>(k.batch * Co * S));
        cpu::spatial_attention(qkv.data(), want.data(),
                               cpu::SpatialAttentionShape{k.batch, k.heads, k.kd, k.hd, S, scale});
        DeviceArray dx(dt, qkv.size()), dy(dt, want.size());
        dx.upload(to_layout(qkv, k.batch, C, S, l));
        kern::spatial_attention(dt, l, dx.get(), dy.get(), kern::SpatialAttentionDims{k.batch, k.heads, k.kd, k.hd, S, scale},
                                nullptr);
        expect_close(from_layout(dy.download(want.size()), k.batch, Co, S, l), rounded(dt, want), dt,
                     fmt::format("spatial attention {} B{} h{} k{} d{} S{}", name(dt, l), k.batch, k.heads, k.kd, k.hd, S));
      }
  EXPECT_TRUE(kern::spatial_attention_unsupported(DType::f16, 65, 64).has_value());
}

TEST_F(YoloKernels, PoseDecodeMatchesCpu) {
  // Three levels of a 64×96 input (strides 8/16/32), 3 classes, 17×3 keypoints; and a Detect head
  // (no keypoints) with 2-value keypoints excluded.
  for (std::int64_t kpts : {std::int64_t{17}, std::int64_t{0}})
    for (DType dt : kFloatTypes)
      for (Layout l : kLayouts) {
        const std::int64_t n = 2, nc = 3, r = 16, nk = kpts * 3;
        const std::int64_t hs[] = {8, 4, 2}, ws[] = {12, 6, 3}, strides[] = {8, 16, 32};
        std::vector<std::vector<float>> box, cls, kpt;
        std::vector<std::unique_ptr<DeviceArray>> own;
        std::vector<kern::PoseDecodeLevel> levels;
        cpu::PoseDecodeShape shape{n, nc, r, kpts, 3, {}};
        for (int i = 0; i < 3; ++i) {
          const std::int64_t p = hs[i] * ws[i];
          box.push_back(rounded(dt, random_values(static_cast<std::size_t>(n * 4 * r * p), 40 + i, 2.0f)));
          cls.push_back(rounded(dt, random_values(static_cast<std::size_t>(n * nc * p), 50 + i, 2.0f)));
          kpt.push_back(rounded(dt, random_values(static_cast<std::size_t>(std::max<std::int64_t>(n * nk * p, 1)), 60 + i)));
          kern::PoseDecodeLevel L;
          own.push_back(std::make_unique<DeviceArray>(dt, box.back().size()));
          own.back()->upload(to_layout(box.back(), n, 4 * r, p, l));
          L.box = own.back()->get();
          own.push_back(std::make_unique<DeviceArray>(dt, cls.back().size()));
          own.back()->upload(to_layout(cls.back(), n, nc, p, l));
          L.cls = own.back()->get();
          if (kpts > 0) {
            own.push_back(std::make_unique<DeviceArray>(dt, kpt.back().size()));
            own.back()->upload(to_layout(kpt.back(), n, nk, p, l));
            L.kpt = own.back()->get();
          }
          L.h = hs[i];
          L.w = ws[i];
          L.stride = strides[i];
          levels.push_back(L);
          shape.levels.push_back(cpu::DetectLevel{hs[i], ws[i], strides[i]});
        }
        std::vector<float> bins(16);
        for (int j = 0; j < 16; ++j) bins[static_cast<std::size_t>(j)] = static_cast<float>(j);
        const std::int64_t A = shape.anchors(), Cout = shape.channels();
        std::vector<float> want(static_cast<std::size_t>(n * Cout * A));
        const float* bp[] = {box[0].data(), box[1].data(), box[2].data()};
        const float* cp[] = {cls[0].data(), cls[1].data(), cls[2].data()};
        const float* kp[] = {kpt[0].data(), kpt[1].data(), kpt[2].data()};
        cpu::pose_decode(bp, cp, kpts > 0 ? std::span<const float* const>(kp) : std::span<const float* const>(), bins.data(),
                         want.data(), shape);
        DeviceArray db(dt, 16), dy(dt, want.size());
        db.upload(bins);
        kern::pose_decode(dt, l, levels, db.get(), dy.get(), kern::PoseDecodeDims{n, nc, r, kpts, 3}, nullptr);
        expect_close(dy.download(want.size()), rounded(dt, want), dt,
                     fmt::format("pose decode {} keypoints {}", name(dt, l), kpts));
      }
}

// Random predictions [n, 4 + nc + E, A] with many overlaps: centres in a 120-pixel square, sides 10–50.
std::vector<float> random_predictions(std::int64_t n, std::int64_t nc, std::int64_t extras, std::int64_t A, std::uint64_t seed) {
  const std::int64_t C = 4 + nc + extras;
  std::vector<float> x(static_cast<std::size_t>(n * C * A));
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t a = 0; a < A; ++a) {
        const float u = 0.5f + 0.5f * std::erf(normal01(seed, static_cast<std::uint64_t>(c), static_cast<std::uint64_t>(b * A + a)));
        float v = u;  // class scores uniform in (0, 1)
        if (c < 2) v = 120.0f * u;
        else if (c < 4) v = 10.0f + 40.0f * u;
        else if (c >= 4 + nc) v = 50.0f * (u - 0.5f);
        x[static_cast<std::size_t>((b * C + c) * A + a)] = v;
      }
  return x;
}

TEST_F(YoloKernels, NmsEqualsCpuExactly) {
  struct Case { std::int64_t n, nc, extras, anchors, max_det; bool agnostic; float iou; };
  for (const Case& k : {Case{3, 1, 51, 8400, 300, false, 0.7f}, Case{2, 3, 5, 1000, 20, false, 0.5f},
                        Case{2, 3, 5, 1000, 300, true, 0.45f}, Case{1, 1, 0, 37, 300, false, 0.7f},
                        Case{2, 1, 51, 33600, 300, false, 0.7f}})
    for (DType dt : kFloatTypes) {
      const std::int64_t C = 4 + k.nc + k.extras, R = 6 + k.extras;
      const auto x = rounded(dt, random_predictions(k.n, k.nc, k.extras, k.anchors, 90));
      std::vector<float> want(static_cast<std::size_t>(k.n * k.max_det * R));
      const cpu::NmsParams p{k.nc, 0.25f, k.iou, k.max_det, k.agnostic};
      cpu::nms(x.data(), want.data(), k.n, C, k.anchors, p);
      DeviceArray dx(dt, x.size()), dy(dt, want.size());
      dx.upload(x);
      kern::NmsDims d;
      d.batch = k.n; d.channels = C; d.anchors = k.anchors; d.num_classes = k.nc; d.max_det = k.max_det;
      d.conf_threshold = 0.25f; d.iou_threshold = k.iou; d.agnostic = k.agnostic;
      kern::nms(dt, dx.get(), dy.get(), d, nullptr);
      std::int64_t kept = 0;
      for (std::int64_t i = 0; i < k.n * k.max_det; ++i) kept += want[static_cast<std::size_t>(i * R + 4)] > 0;
      std::printf("  nms %-5s %lld images × %lld anchors, %lld classes%s: %lld kept\n", std::string(to_string(dt)).c_str(),
                  static_cast<long long>(k.n), static_cast<long long>(k.anchors), static_cast<long long>(k.nc),
                  k.agnostic ? " (agnostic)" : "", static_cast<long long>(kept));
      EXPECT_GT(kept, k.n);
      expect_exact(dy.download(want.size()), rounded(dt, want), fmt::format("nms {} A{}", to_string(dt), k.anchors));
    }
}

// ---- whole model ----

Tensor random_tensor(const Shape& s, std::uint64_t seed) {
  Tensor t(s);
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = normal01(seed, stream_id("yolo-input"), i);
  return t;
}

// Runs the optimised `g` on the GPU (precision p) and returns its outputs.
std::vector<Tensor> run_on_gpu(Graph g, TensorMap weights, Precision p, const Tensor& x) {
  optimize_for_inference(g, p, &weights);
  const Plan plan = plan_memory(g);
  cuda::ExecutorOptions opt;
  opt.workspace_bytes = 64ull << 20;
  cuda::Stream stream;
  cuda::DeviceArena arena(cuda::required_arena_bytes(g, plan, opt), UINT64_MAX);
  cuda::Executor ex(g, plan, weights, arena, opt, stream.get());
  ex.set_input(0, x);
  ex.capture(stream.get());
  ex.launch(stream.get());
  stream.synchronize();
  std::vector<Tensor> out;
  for (std::size_t i = 0; i < g.outputs().size(); ++i) out.push_back(ex.output(i));
  return out;
}

double tolerance(Precision p) { return p == Precision::fp32 ? 1e-4 : p == Precision::fp16 ? 1e-2 : 3e-2; }

class YoloModel : public test::GpuTest {};

TEST_F(YoloModel, Yolo11nPoseMatchesCpuReference) {
  // Non-square, small: 96×160 (anchors 12·20 + 6·10 + 3·5 = 315), batch 3. The decoded output is
  // dominated by anchor positions, so layer 22's features (the P5 map, through C2PSA) are compared too.
  Yolo11PoseConfig c = yolo11_pose_preset('n');
  c.image_h = 96;
  c.image_w = 160;
  Graph g = build_yolo11_pose(c, 3, "yolo11n-pose-small");
  g.mark_output(*g.find_value("model.22.cv2.act"));
  const TensorMap w = random_weights(g, 5);
  const Tensor x = random_tensor(g.value(g.inputs()[0]).shape, 9);
  Graph ref = g;
  TensorMap ref_w = w;
  optimize_for_inference(ref, Precision::fp32, &ref_w);
  const std::vector<Tensor> want = cpu::run_graph(ref, ref_w, std::span<const Tensor>(&x, 1));
  for (Precision p : {Precision::fp32, Precision::fp16, Precision::bf16}) {
    const std::vector<Tensor> got = run_on_gpu(g, w, p, x);
    ASSERT_EQ(got.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(all_finite(got[i].span()));
      const double err = relative_l2(got[i].span(), want[i].span());
      std::printf("  yolo11n-pose %-4s %-8s rel L2 vs CPU reference %.3e (%.1f%% of tol %.0e)\n",
                  std::string(to_string(p)).c_str(), i == 0 ? "decoded" : "layer 22", err, 100.0 * err / tolerance(p),
                  tolerance(p));
      EXPECT_LE(err, tolerance(p)) << to_string(p) << " output " << i;
    }
  }
}

TEST_F(YoloModel, Yolo11nPoseWithNmsRunsAndIsOrdered) {
  // NMS on the GPU after the whole network: rows sorted by confidence, all above the threshold, the
  // rest zero; in fp32 the same detections as the CPU (same decoded values up to ~1e-6).
  Yolo11PoseConfig c = yolo11_pose_preset('n');
  c.image_h = c.image_w = 128;
  c.with_nms = true;
  Graph g = build_yolo11_pose(c, 2, "yolo11n-pose-nms");
  const TensorMap w = random_weights(g, 3);
  const Tensor x = random_tensor(g.value(g.inputs()[0]).shape, 4);
  for (Precision p : {Precision::fp32, Precision::fp16}) {
    const Tensor got = run_on_gpu(g, w, p, x)[0];
    ASSERT_EQ(got.shape, (Shape{2, 300, 57}));
    for (std::int64_t b = 0; b < 2; ++b) {
      float prev = 2.0f;
      bool ended = false;
      std::int64_t kept = 0;
      for (std::int64_t r = 0; r < 300; ++r) {
        const float conf = got.data[static_cast<std::size_t>((b * 300 + r) * 57 + 4)];
        if (conf == 0.0f) { ended = true; continue; }
        EXPECT_FALSE(ended) << "a detection after the zero rows";
        EXPECT_GT(conf, 0.25f);
        EXPECT_LE(conf, prev);
        prev = conf;
        ++kept;
      }
      std::printf("  yolo11n-pose+nms %s image %lld: %lld detections\n", std::string(to_string(p)).c_str(),
                  static_cast<long long>(b), static_cast<long long>(kept));
    }
  }
}

TEST_F(YoloModel, GoldenThroughCuda) {
  const std::string dir = std::string(VRAMFIT_SOURCE_DIR) + "/tests/golden/";
  ASSERT_TRUE(std::filesystem::exists(dir + "yolo11n_pose_tiny.io.safetensors"))
      << "regenerate with python3 tools/yolo_reference.py golden --out tests/golden";
  const auto wf = SafetensorsFile::open(dir + "yolo11n_pose_tiny.weights.safetensors");
  const auto io = SafetensorsFile::open(dir + "yolo11n_pose_tiny.io.safetensors");
  Yolo11PoseConfig c = yolo11_pose_preset('n');
  c.image_h = c.image_w = 64;
  Graph g = build_yolo11_pose(c, 2, "yolo11n_pose_tiny");
  g.mark_output(*g.find_value("model.10.cv2.act"));
  const TensorMap w = bind_checkpoint(g, wf);
  const Tensor x = io.read_f32("input");
  const Tensor want = io.read_f32("output"), want10 = io.read_f32("features.10");
  for (Precision p : {Precision::fp32, Precision::fp16}) {
    const std::vector<Tensor> got = run_on_gpu(g, w, p, x);
    const double e0 = relative_l2(got[0].span(), want.span()), e1 = relative_l2(got[1].span(), want10.span());
    std::printf("  golden yolo11n-pose on CUDA %s: decoded %.3e, layer 10 %.3e (tol %.0e)\n", std::string(to_string(p)).c_str(),
                e0, e1, tolerance(p));
    EXPECT_LE(e0, tolerance(p));
    EXPECT_LE(e1, tolerance(p));
  }
}

}  // namespace
}  // namespace vramfit
