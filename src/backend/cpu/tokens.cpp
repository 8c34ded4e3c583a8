// Token-sequence plumbing of the Vision Transformer (Dosovitskiy et al. 2020, eq. 1, as torchvision's
// vision_transformer.py builds it): patches to tokens, class token first, learned positions added,
// the class token taken for the head. Pure data movement, exact.
#include <algorithm>
#include <fmt/format.h>
#include <initializer_list>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

namespace {

void require_positive(const char* op, std::initializer_list<std::int64_t> extents) {
  for (std::int64_t e : extents)
    if (e <= 0) throw InvalidInput(fmt::format("{}: extent {} must be positive", op, e));
}

}  // namespace

void concat_class_token(const float* x, const float* cls, float* y, std::int64_t batch, std::int64_t seq,
                        std::int64_t embed) {
  require_positive("concat_class_token", {batch, seq, embed});
  for (std::int64_t b = 0; b < batch; ++b) {
    float* yb = y + b * (seq + 1) * embed;
    std::copy_n(cls, embed, yb);
    std::copy_n(x + b * seq * embed, seq * embed, yb + embed);
  }
}

void add_positional(const float* x, const float* pos, float* y, std::int64_t batch, std::int64_t seq,
                    std::int64_t embed) {
  require_positive("add_positional", {batch, seq, embed});
  const std::int64_t per = seq * embed;
  parallel_for(batch, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b)
      for (std::int64_t i = 0; i < per; ++i) y[b * per + i] = x[b * per + i] + pos[i];
  });
}

void patch_flatten(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t h,
                   std::int64_t w) {
  require_positive("patch_flatten", {batch, channels, h, w});
  const std::int64_t plane = h * w;
  parallel_for(batch, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      const float* xb = x + b * channels * plane;
      float* yb = y + b * plane * channels;
      for (std::int64_t p = 0; p < plane; ++p)
        for (std::int64_t c = 0; c < channels; ++c) yb[p * channels + c] = xb[c * plane + p];
    }
  });
}

void flatten(const float* x, float* y, std::int64_t n) {
  if (n < 0) throw InvalidInput(fmt::format("flatten: element count {} is negative", n));
  std::copy_n(x, n, y);
}

void patchify(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t h, std::int64_t w,
              std::int64_t patch) {
  require_positive("patchify", {batch, channels, h, w, patch});
  if (h % patch || w % patch) throw InvalidInput("patchify: H and W must be divisible by the patch size");
  const std::int64_t gw = w / patch, tokens = (h / patch) * gw, k_len = channels * patch * patch;
  parallel_for(batch * tokens, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t b = r / tokens, t = r % tokens, i = t / gw, j = t % gw;
      float* out = y + r * k_len;
      for (std::int64_t c = 0; c < channels; ++c)
        for (std::int64_t u = 0; u < patch; ++u)
          for (std::int64_t v = 0; v < patch; ++v)
            *out++ = x[((b * channels + c) * h + i * patch + u) * w + j * patch + v];
    }
  });
}

void take_token(const float* x, float* y, std::int64_t batch, std::int64_t seq, std::int64_t embed,
                std::int64_t index) {
  require_positive("take_token", {batch, seq, embed});
  if (index < 0 || index >= seq)
    throw InvalidInput(fmt::format("take_token: index {} is outside the sequence of {}", index, seq));
  for (std::int64_t b = 0; b < batch; ++b) std::copy_n(x + (b * seq + index) * embed, embed, y + b * embed);
}

}  // namespace vramfit::cpu
