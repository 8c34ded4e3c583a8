// The detection head's inference tail: decoding (DFL, dist2bbox, sigmoid scores, keypoints) and greedy
// non-maximum suppression, as Ultralytics computes them (ultralytics/nn/modules/head.py Detect._inference
// and Pose.kpts_decode; ultralytics/utils/tal.py make_anchors and dist2bbox; ultralytics/utils/ops.py
// non_max_suppression with torchvision.ops.nms). See ops.h for the formulas.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <numeric>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

std::int64_t PoseDecodeShape::anchors() const {
  std::int64_t a = 0;
  for (const auto& l : levels) a += l.h * l.w;
  return a;
}

void PoseDecodeShape::validate() const {
  if (batch <= 0 || num_classes <= 0 || reg_max <= 0 || kpt_count < 0 || levels.empty())
    throw InvalidInput(fmt::format("pose_decode: batch {}, classes {}, reg_max {}, keypoints {}, {} levels: need "
                                   "positive extents and ≥ 1 level", batch, num_classes, reg_max, kpt_count, levels.size()));
  if (kpt_count > 0 && kpt_dims != 2 && kpt_dims != 3)
    throw InvalidInput(fmt::format("pose_decode: keypoints have 2 or 3 values, got {}", kpt_dims));
  for (const auto& l : levels)
    if (l.h <= 0 || l.w <= 0 || l.stride <= 0)
      throw InvalidInput(fmt::format("pose_decode: level {}×{} stride {} must be positive", l.h, l.w, l.stride));
}

namespace {

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

void pose_decode(std::span<const float* const> box, std::span<const float* const> cls,
                 std::span<const float* const> kpt, const float* bins, float* y, const PoseDecodeShape& s) {
  s.validate();
  const std::size_t L = s.levels.size();
  if (box.size() != L || cls.size() != L || (s.kpt_count > 0 && kpt.size() != L))
    throw InvalidInput(fmt::format("pose_decode: {} levels but {} box, {} class and {} keypoint maps", L, box.size(),
                                   cls.size(), kpt.size()));
  const std::int64_t A = s.anchors(), C = s.channels(), r = s.reg_max, nc = s.num_classes;
  const std::int64_t nk = s.kpt_count * s.kpt_dims;
  std::vector<std::int64_t> level_start(L + 1, 0);
  for (std::size_t l = 0; l < L; ++l) level_start[l + 1] = level_start[l] + s.levels[l].h * s.levels[l].w;

  parallel_for(s.batch * A, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<double> p(static_cast<std::size_t>(r));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / A, a = t % A;
      const std::size_t l = static_cast<std::size_t>(
          std::upper_bound(level_start.begin(), level_start.end(), a) - level_start.begin() - 1);
      const DetectLevel& lv = s.levels[l];
      const std::int64_t plane = lv.h * lv.w, pos = a - level_start[l];
      const std::int64_t px = pos % lv.w, py = pos / lv.w;
      const double ax = static_cast<double>(px) + 0.5, ay = static_cast<double>(py) + 0.5;
      const double stride = static_cast<double>(lv.stride);
      auto out = [&](std::int64_t row) -> float& { return y[(b * C + row) * A + a]; };

      // DFL: softmax over each side's reg_max bins, then the expectation under the bin values.
      double d[4];
      const float* bx = box[l] + b * 4 * r * plane + pos;
      for (int side = 0; side < 4; ++side) {
        double mx = -INFINITY;
        for (std::int64_t j = 0; j < r; ++j) mx = std::max(mx, static_cast<double>(bx[(side * r + j) * plane]));
        double sum = 0.0, e = 0.0;
        for (std::int64_t j = 0; j < r; ++j) {
          p[static_cast<std::size_t>(j)] = std::exp(static_cast<double>(bx[(side * r + j) * plane]) - mx);
          sum += p[static_cast<std::size_t>(j)];
        }
        for (std::int64_t j = 0; j < r; ++j) e += p[static_cast<std::size_t>(j)] * static_cast<double>(bins[j]);
        d[side] = e / sum;
      }
      // dist2bbox (xywh): x1y1 = anchor − lt, x2y2 = anchor + rb; centre and size, times the stride.
      const double x1 = ax - d[0], y1 = ay - d[1], x2 = ax + d[2], y2 = ay + d[3];
      out(0) = static_cast<float>((x1 + x2) / 2 * stride);
      out(1) = static_cast<float>((y1 + y2) / 2 * stride);
      out(2) = static_cast<float>((x2 - x1) * stride);
      out(3) = static_cast<float>((y2 - y1) * stride);
      const float* cl = cls[l] + b * nc * plane + pos;
      for (std::int64_t c = 0; c < nc; ++c) out(4 + c) = static_cast<float>(sigmoid(cl[c * plane]));
      if (nk > 0) {
        const float* kp = kpt[l] + b * nk * plane + pos;
        for (std::int64_t k = 0; k < s.kpt_count; ++k) {
          const std::int64_t row = k * s.kpt_dims;
          out(4 + nc + row) = static_cast<float>((static_cast<double>(kp[row * plane]) * 2.0 + (ax - 0.5)) * stride);
          out(4 + nc + row + 1) =
              static_cast<float>((static_cast<double>(kp[(row + 1) * plane]) * 2.0 + (ay - 0.5)) * stride);
          if (s.kpt_dims == 3) out(4 + nc + row + 2) = static_cast<float>(sigmoid(kp[(row + 2) * plane]));
        }
      }
    }
  });
}

namespace {

struct Candidate {
  std::int64_t anchor = 0;
  float conf = 0.0f;
  std::int64_t cls = 0;
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0, area = 0;
};

// torchvision's CPU nms_kernel arithmetic, in fp32: IoU = inter / (area_i + area_j − inter).
float iou(const Candidate& a, const Candidate& b) {
  const float w = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const float h = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  const float inter = w * h;
  return inter / (a.area + b.area - inter);
}

}  // namespace

void nms(const float* pred, float* y, std::int64_t batch, std::int64_t channels, std::int64_t anchors,
         const NmsParams& p) {
  if (batch <= 0 || anchors <= 0 || p.num_classes <= 0 || channels < 4 + p.num_classes || p.max_det <= 0)
    throw InvalidInput(fmt::format("nms: batch {}, channels {}, anchors {}, classes {}, max_det {}: need positive "
                                   "extents and ≥ 4 + classes channels", batch, channels, anchors, p.num_classes, p.max_det));
  const std::int64_t extras = channels - 4 - p.num_classes, row = 6 + extras;
  std::fill(y, y + batch * p.max_det * row, 0.0f);
  for (std::int64_t b = 0; b < batch; ++b) {
    const float* x = pred + b * channels * anchors;
    auto at = [&](std::int64_t c, std::int64_t a) { return x[c * anchors + a]; };
    std::vector<Candidate> cand;
    for (std::int64_t a = 0; a < anchors; ++a) {
      Candidate c;
      c.anchor = a;
      c.conf = at(4, a);
      for (std::int64_t k = 1; k < p.num_classes; ++k)
        if (at(4 + k, a) > c.conf) {
          c.conf = at(4 + k, a);
          c.cls = k;
        }
      if (!(c.conf > p.conf_threshold)) continue;
      // xywh2xyxy (ultralytics/utils/ops.py): half extents off the centre.
      const float cx = at(0, a), cy = at(1, a), hw = at(2, a) / 2, hh = at(3, a) / 2;
      c.x1 = cx - hw;
      c.y1 = cy - hh;
      c.x2 = cx + hw;
      c.y2 = cy + hh;
      c.area = (c.x2 - c.x1) * (c.y2 - c.y1);
      cand.push_back(c);
    }
    std::stable_sort(cand.begin(), cand.end(), [](const Candidate& l, const Candidate& r) { return l.conf > r.conf; });
    std::vector<bool> dead(cand.size(), false);
    std::int64_t kept = 0;
    for (std::size_t i = 0; i < cand.size() && kept < p.max_det; ++i) {
      if (dead[i]) continue;
      const Candidate& c = cand[i];
      float* o = y + (b * p.max_det + kept) * row;
      o[0] = c.x1; o[1] = c.y1; o[2] = c.x2; o[3] = c.y2;
      o[4] = c.conf;
      o[5] = static_cast<float>(c.cls);
      for (std::int64_t e = 0; e < extras; ++e) o[6 + e] = at(4 + p.num_classes + e, c.anchor);
      ++kept;
      for (std::size_t j = i + 1; j < cand.size(); ++j)
        if (!dead[j] && (p.agnostic || cand[j].cls == c.cls) && iou(c, cand[j]) > p.iou_threshold) dead[j] = true;
    }
  }
}

}  // namespace vramfit::cpu
