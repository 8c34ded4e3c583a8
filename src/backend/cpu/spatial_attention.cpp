// Multi-head self-attention over the H·W positions of an image tensor, as Ultralytics' Attention
// module (ultralytics/nn/modules/block.py, used by PSABlock in YOLO11's C2PSA) computes it: the qkv
// 1×1 convolution's channels are viewed as [heads, 2·key_dim + head_dim, H·W] and split per head into
// q, k (key_dim channels each) and v (head_dim); attn = softmax((qᵀ k)·scale) over the keys; the
// result v·attnᵀ is [heads·head_dim, H·W]. The positional 3×3 depthwise conv on v and the projection
// are separate graph nodes. Scores, softmax and the weighted sums in double.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

void SpatialAttentionShape::validate() const {
  if (batch <= 0 || heads <= 0 || key_dim <= 0 || head_dim <= 0 || positions <= 0)
    throw InvalidInput(fmt::format("spatial_attention: batch {}, heads {}, key_dim {}, head_dim {}, positions {} must "
                                   "be positive", batch, heads, key_dim, head_dim, positions));
  if (!std::isfinite(scale)) throw InvalidInput("spatial_attention: the scale is not finite");
}

void spatial_attention(const float* qkv, float* y, const SpatialAttentionShape& s) {
  s.validate();
  const std::int64_t S = s.positions, kd = s.key_dim, hd = s.head_dim, H = s.heads;
  const std::int64_t per_head = 2 * kd + hd;
  const auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  // One task per (image, head): q, k and v copied to double as [position][channel] rows, so each score
  // and each output sums its channels / keys in a fixed order whatever the thread split.
  parallel_for(s.batch * H, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<double> q(at(S * kd)), k(at(S * kd)), v(at(S * hd)), p(at(S)), acc(at(hd));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / H, h = t % H;
      const float* base = qkv + (b * H * per_head + h * per_head) * S;
      for (std::int64_t c = 0; c < kd; ++c)
        for (std::int64_t n = 0; n < S; ++n) {
          q[at(n * kd + c)] = base[c * S + n];
          k[at(n * kd + c)] = base[(kd + c) * S + n];
        }
      for (std::int64_t c = 0; c < hd; ++c)
        for (std::int64_t n = 0; n < S; ++n) v[at(n * hd + c)] = base[(2 * kd + c) * S + n];
      float* out = y + (b * H + h) * hd * S;
      for (std::int64_t n = 0; n < S; ++n) {
        double mx = -INFINITY;
        for (std::int64_t m = 0; m < S; ++m) {
          double dot = 0.0;
          for (std::int64_t c = 0; c < kd; ++c) dot += q[at(n * kd + c)] * k[at(m * kd + c)];
          p[at(m)] = dot * static_cast<double>(s.scale);
          mx = std::max(mx, p[at(m)]);
        }
        double sum = 0.0;
        for (std::int64_t m = 0; m < S; ++m) {
          p[at(m)] = std::exp(p[at(m)] - mx);
          sum += p[at(m)];
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t m = 0; m < S; ++m)
          for (std::int64_t c = 0; c < hd; ++c) acc[at(c)] += p[at(m)] * v[at(m * hd + c)];
        for (std::int64_t c = 0; c < hd; ++c) out[c * S + n] = static_cast<float>(acc[at(c)] / sum);
      }
    }
  });
}

}  // namespace vramfit::cpu
