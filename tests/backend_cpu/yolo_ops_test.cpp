// The YOLO ops of the CPU reference: upsample, concat and slice by hand; spatial attention against the
// packed-qkv attention op (same math, other layout) and a hand softmax; pose decoding on hand-built
// anchors (DFL expectation, dist2bbox, keypoints); NMS on hand-placed boxes (IoU threshold, classes,
// confidence threshold, max_det, order, extras carried).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_close;
using test::random_vector;

TEST(YoloOps, UpsampleNearestRepeatsEachPixel) {
  const std::vector<float> x{1, 2, 3, 4, 5, 6};  // [1, 1, 2, 3]
  std::vector<float> y(24);
  upsample_nearest(x.data(), y.data(), 1, 1, 2, 3, 2);
  const std::vector<float> expect{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6};
  test::expect_equal(y, expect, "upsample ×2");
  EXPECT_THROW(upsample_nearest(x.data(), y.data(), 1, 1, 2, 3, 0), InvalidInput);
}

TEST(YoloOps, ConcatAndSliceAlongChannels) {
  // Two images; a has 1 channel, b 2 channels; plane 2.
  const std::vector<float> a{1, 2, /*img1*/ 3, 4};
  const std::vector<float> b{10, 11, 12, 13, /*img1*/ 14, 15, 16, 17};
  const float* xs[] = {a.data(), b.data()};
  const std::int64_t ch[] = {1, 2};
  std::vector<float> y(12);
  concat_channels(xs, ch, y.data(), 2, 2);
  test::expect_equal(y, {1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17}, "concat");
  // Slice channels [1, 3) of the 3-channel result.
  std::vector<float> s(8);
  slice_channels(y.data(), s.data(), 2, 3, 2, 1, 3, 1);
  test::expect_equal(s, {10, 11, 12, 13, 14, 15, 16, 17}, "slice");
  // Grouped: 6 channels = 2 groups of 3, keep channel 2 of each → channels 2 and 5.
  std::vector<float> x6(12);
  for (std::size_t i = 0; i < x6.size(); ++i) x6[i] = static_cast<float>(i);  // [1, 6, 2]
  std::vector<float> g(4);
  slice_channels(x6.data(), g.data(), 1, 6, 2, 2, 3, 2);
  test::expect_equal(g, {4, 5, 10, 11}, "grouped slice");
  EXPECT_THROW(slice_channels(x6.data(), g.data(), 1, 6, 2, 2, 4, 2), InvalidInput);
  EXPECT_THROW(slice_channels(x6.data(), g.data(), 1, 6, 2, 0, 1, 4), InvalidInput);
}

TEST(YoloOps, SpatialAttentionHandSoftmax) {
  // One head, key_dim 1, head_dim 1, scale 1, two positions. qkv channels: q, k, v over positions.
  // k = [0, ln 3]; position 0 has q = 1 → weights 1/4, 3/4 over v = [4, 8] → 7; position 1, q = 0 → 6.
  const float ln3 = static_cast<float>(std::log(3.0));
  const std::vector<float> qkv{1, 0, /*k*/ 0, ln3, /*v*/ 4, 8};
  std::vector<float> y(2);
  spatial_attention(qkv.data(), y.data(),
                    SpatialAttentionShape{.batch = 1, .heads = 1, .key_dim = 1, .head_dim = 1, .positions = 2, .scale = 1});
  EXPECT_NEAR(y[0], 7.0, 1e-6);
  EXPECT_NEAR(y[1], 6.0, 1e-6);
}

TEST(YoloOps, SpatialAttentionEqualsTokenAttentionWhenKeyAndValueDimsAgree) {
  // With key_dim = head_dim = d and scale 1/√d, Ultralytics' attention is the transformer's softmax(qkᵀ/√d)v;
  // only the layout differs: per head [q | k | v] channel blocks over positions vs tokens of [Q | K | V].
  const std::int64_t B = 2, H = 3, d = 5, S = 7;
  const auto qkv = random_vector(B * H * 3 * d * S, 11);
  std::vector<float> y(static_cast<std::size_t>(B * H * d * S));
  spatial_attention(qkv.data(), y.data(),
                    SpatialAttentionShape{.batch = B, .heads = H, .key_dim = d, .head_dim = d, .positions = S,
                                          .scale = static_cast<float>(1.0 / std::sqrt(double(d)))});
  // Repack to [B, S, 3E]: q of head h at [h·d, …), k at E + h·d, v at 2E + h·d.
  const std::int64_t E = H * d;
  std::vector<float> tok(static_cast<std::size_t>(B * S * 3 * E));
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t part = 0; part < 3; ++part)
        for (std::int64_t c = 0; c < d; ++c)
          for (std::int64_t n = 0; n < S; ++n)
            tok[static_cast<std::size_t>((b * S + n) * 3 * E + part * E + h * d + c)] =
                qkv[static_cast<std::size_t>(((b * H + h) * 3 * d + part * d + c) * S + n)];
  std::vector<float> ref(static_cast<std::size_t>(B * S * E));
  attention(tok.data(), ref.data(), AttentionShape{.batch = B, .seq = S, .embed = E, .heads = H});
  std::vector<double> expect(y.size());
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t c = 0; c < E; ++c)
      for (std::int64_t n = 0; n < S; ++n)
        expect[static_cast<std::size_t>((b * E + c) * S + n)] = ref[static_cast<std::size_t>((b * S + n) * E + c)];
  expect_close(y, expect, 1e-6, "spatial vs token attention");
}

TEST(YoloOps, PoseDecodeHandAnchors) {
  // One level 1×2 (stride 8), reg_max 4 with bins 0..3, one class, one keypoint of 3 values.
  const std::int64_t r = 4, W = 2;
  std::vector<float> box(static_cast<std::size_t>(4 * r * W), 0.0f);  // uniform logits → d = 1.5 everywhere
  // Anchor 1, left side: one-hot-ish on bin 3 (logit 40: the others weigh e^-40).
  box[static_cast<std::size_t>((0 * r + 3) * W + 1)] = 40.0f;
  const std::vector<float> cls{0.0f, std::log(3.0f)};        // sigmoid → 0.5, 0.75
  const std::vector<float> kpt{0.25f, -1.0f, 0.5f, 1.0f, 0.0f, -2.0f};  // [3 values, 2 anchors]
  const std::vector<float> bins{0, 1, 2, 3};
  std::vector<float> y(static_cast<std::size_t>(8 * W));
  const float* b[] = {box.data()};
  const float* c[] = {cls.data()};
  const float* k[] = {kpt.data()};
  pose_decode(b, c, k, bins.data(), y.data(),
              PoseDecodeShape{.batch = 1, .num_classes = 1, .reg_max = r, .kpt_count = 1, .kpt_dims = 3,
                              .levels = {DetectLevel{1, W, 8}}});
  auto at = [&](int row, int a) { return y[static_cast<std::size_t>(row * W + a)]; };
  // Anchor 0 at (0.5, 0.5): d = 1.5 on all sides → box (−1, −1, 2, 2) → cx = 0.5·8, w = 3·8.
  EXPECT_NEAR(at(0, 0), 4.0, 1e-5);
  EXPECT_NEAR(at(1, 0), 4.0, 1e-5);
  EXPECT_NEAR(at(2, 0), 24.0, 1e-5);
  EXPECT_NEAR(at(3, 0), 24.0, 1e-5);
  // Anchor 1 at (1.5, 0.5): left 3, others 1.5 → x1 = −1.5, x2 = 3 → cx = 0.75·8 = 6, w = 4.5·8 = 36.
  EXPECT_NEAR(at(0, 1), 6.0, 1e-4);
  EXPECT_NEAR(at(2, 1), 36.0, 1e-4);
  EXPECT_NEAR(at(4, 0), 0.5, 1e-7);
  EXPECT_NEAR(at(4, 1), 0.75, 1e-6);
  // Keypoint: x = (kx·2 + px)·8, y = (ky·2 + py)·8, visibility sigmoid.
  EXPECT_NEAR(at(5, 0), (0.25 * 2 + 0) * 8, 1e-6);
  EXPECT_NEAR(at(5, 1), (-1.0 * 2 + 1) * 8, 1e-6);
  EXPECT_NEAR(at(6, 0), (0.5 * 2 + 0) * 8, 1e-6);
  EXPECT_NEAR(at(6, 1), (1.0 * 2 + 0) * 8, 1e-6);
  EXPECT_NEAR(at(7, 0), 0.5, 1e-7);
  EXPECT_NEAR(at(7, 1), 1.0 / (1.0 + std::exp(2.0)), 1e-7);
}

// One candidate per anchor: [cx, cy, w, h, class scores…, extras…] written into a [1, C, A] tensor.
std::vector<float> pack(const std::vector<std::vector<float>>& rows) {
  const std::size_t C = rows[0].size(), A = rows.size();
  std::vector<float> x(C * A);
  for (std::size_t a = 0; a < A; ++a)
    for (std::size_t c = 0; c < C; ++c) x[c * A + a] = rows[a][c];
  return x;
}

TEST(YoloOps, NmsKeepsTheBestAndSuppressesOverlaps) {
  // Two classes, one extra value. Boxes of 10×10:
  //   a0 at (50, 50) conf 0.9 class 0; a1 at (51, 50) conf 0.8 class 0 → IoU 9/11 = 0.82 > 0.7: dropped;
  //   a2 at (52, 50) conf 0.85 class 1 → same place, other class: kept (not agnostic);
  //   a3 at (58, 50) conf 0.6 class 0 → IoU with a0 = 2/18: kept; a4 conf 0.2: under the threshold.
  const auto x = pack({{50, 50, 10, 10, 0.9f, 0.1f, 7},
                       {51, 50, 10, 10, 0.8f, 0.0f, 8},
                       {52, 50, 10, 10, 0.3f, 0.85f, 9},
                       {58, 50, 10, 10, 0.6f, 0.2f, 10},
                       {90, 90, 10, 10, 0.2f, 0.1f, 11}});
  std::vector<float> y(4 * 7, -1.0f);
  nms(x.data(), y.data(), 1, 7, 5, NmsParams{.num_classes = 2, .conf_threshold = 0.25f, .iou_threshold = 0.7f, .max_det = 4});
  test::expect_equal(y, {45, 45, 55, 55, 0.9f, 0, 7,   //
                         47, 45, 57, 55, 0.85f, 1, 9,  //
                         53, 45, 63, 55, 0.6f, 0, 10,  //
                         0, 0, 0, 0, 0, 0, 0},
                     "per-class nms");
  // Agnostic with IoU 0.6: a2 now competes with a0 (IoU 80/120 = 0.67 > 0.6) and goes, a1 goes as before,
  // a3 is next; max_det 2 stops there.
  std::vector<float> z(2 * 7);
  nms(x.data(), z.data(), 1, 7, 5,
      NmsParams{.num_classes = 2, .conf_threshold = 0.25f, .iou_threshold = 0.6f, .max_det = 2, .agnostic = true});
  test::expect_equal(z, {45, 45, 55, 55, 0.9f, 0, 7, 53, 45, 63, 55, 0.6f, 0, 10}, "agnostic nms, max_det 2");
  EXPECT_THROW(nms(x.data(), z.data(), 1, 5, 5, NmsParams{.num_classes = 2}), InvalidInput);
}

}  // namespace
}  // namespace vramfit::cpu
