// backend/cpu/llm_ops.cpp — see llm_ops.h.
#include "backend/cpu/llm_ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {
namespace {
std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }
}  // namespace

void rms_norm(const float* x, const float* w, float* y, std::int64_t rows, std::int64_t features, float eps) {
  if (rows <= 0 || features <= 0 || !(eps >= 0.0f))
    throw InvalidInput(fmt::format("rms_norm: rows {}, features {} must be positive and eps {} ≥ 0", rows, features, eps));
  parallel_for(rows, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * features;
      double ss = 0.0;
      for (std::int64_t e = 0; e < features; ++e) ss += static_cast<double>(xr[e]) * xr[e];
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(features) + static_cast<double>(eps));
      float* yr = y + r * features;
      for (std::int64_t e = 0; e < features; ++e) yr[e] = static_cast<float>(xr[e] * inv * w[e]);
    }
  });
}

std::vector<float> rope_inv_freq(std::int64_t head_dim, float theta) {
  if (head_dim <= 0 || head_dim % 2 != 0 || !(theta > 0.0f))
    throw InvalidInput(fmt::format("rope_inv_freq: head_dim {} must be positive and even, theta {} positive", head_dim, theta));
  std::vector<float> f(at(head_dim / 2));
  for (std::int64_t i = 0; i < head_dim / 2; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    f[at(i)] = 1.0f / std::pow(theta, e);
  }
  return f;
}

void rope(float* x, std::int64_t tokens, std::int64_t heads, std::int64_t head_dim, std::int64_t token_stride,
          const std::int32_t* positions, const float* inv_freq, float scale) {
  if (tokens <= 0 || heads <= 0 || head_dim <= 0 || head_dim % 2 != 0 || token_stride < heads * head_dim)
    throw InvalidInput(fmt::format("rope: tokens {}, heads {}, head_dim {} (even), token_stride {} ≥ heads·head_dim",
                                   tokens, heads, head_dim, token_stride));
  const std::int64_t half = head_dim / 2;
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t i = 0; i < half; ++i) {
      const float a = static_cast<float>(positions[t]) * inv_freq[i];
      const double c = std::cos(static_cast<double>(a)) * scale, s = std::sin(static_cast<double>(a)) * scale;
      for (std::int64_t h = 0; h < heads; ++h) {
        float* v = x + t * token_stride + h * head_dim;
        const double x0 = v[i], x1 = v[i + half];
        v[i] = static_cast<float>(x0 * c - x1 * s);
        v[i + half] = static_cast<float>(x1 * c + x0 * s);
      }
    }
  }
}

void silu_mul(const float* gate, std::int64_t gate_stride, const float* up, std::int64_t up_stride, float* y,
              std::int64_t rows, std::int64_t cols) {
  if (rows <= 0 || cols <= 0 || gate_stride < cols || up_stride < cols)
    throw InvalidInput(fmt::format("silu_mul: rows {}, cols {} positive, strides {} / {} ≥ cols", rows, cols,
                                   gate_stride, up_stride));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) {
      const double g = gate[r * gate_stride + c];
      y[r * cols + c] = static_cast<float>(g / (1.0 + std::exp(-g)) * up[r * up_stride + c]);
    }
}

void GqaShape::validate() const {
  if (batch <= 0 || q_len <= 0 || kv_len <= 0 || heads <= 0 || kv_heads <= 0 || head_dim <= 0)
    throw InvalidInput(fmt::format("attention_gqa: batch {}, q_len {}, kv_len {}, heads {}, kv_heads {}, head_dim {} must "
                                   "be positive", batch, q_len, kv_len, heads, kv_heads, head_dim));
  if (heads % kv_heads != 0)
    throw InvalidInput(fmt::format("attention_gqa: kv_heads {} must divide heads {}", kv_heads, heads));
}

void attention_gqa(const float* q, const float* k, const float* v, float* o, const GqaShape& s) {
  s.validate();
  const std::int64_t H = s.heads, Hk = s.kv_heads, d = s.head_dim, group = H / Hk;
  const double scale = s.scale > 0.0f ? s.scale : 1.0 / std::sqrt(static_cast<double>(d));
  parallel_for(s.batch * H * s.q_len, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<double> p(at(s.kv_len)), acc(at(d));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / (H * s.q_len), h = (t / s.q_len) % H, i = t % s.q_len, g = h / group;
      const float* qv = q + ((b * s.q_len + i) * H + h) * d;
      float* ov = o + ((b * s.q_len + i) * H + h) * d;
      std::int64_t last = s.kv_len - 1;
      if (s.causal) last = std::min(last, s.q_offset + i);
      if (last < 0) {
        std::fill(ov, ov + d, 0.0f);
        continue;
      }
      double m = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j <= last; ++j) {
        const float* kv = k + ((b * s.kv_len + j) * Hk + g) * d;
        double dot = 0.0;
        for (std::int64_t c = 0; c < d; ++c) dot += static_cast<double>(qv[c]) * kv[c];
        p[at(j)] = dot * scale;
        m = std::max(m, p[at(j)]);
      }
      double sum = 0.0;
      std::fill(acc.begin(), acc.end(), 0.0);
      for (std::int64_t j = 0; j <= last; ++j) {
        const double e = std::exp(p[at(j)] - m);
        sum += e;
        const float* vv = v + ((b * s.kv_len + j) * Hk + g) * d;
        for (std::int64_t c = 0; c < d; ++c) acc[at(c)] += e * vv[c];
      }
      for (std::int64_t c = 0; c < d; ++c) ov[c] = static_cast<float>(acc[at(c)] / sum);
    }
  });
}

void embedding(const std::int32_t* tokens, std::int64_t count, const float* table, std::int64_t vocab,
               std::int64_t dim, float* y) {
  if (count <= 0 || vocab <= 0 || dim <= 0)
    throw InvalidInput(fmt::format("embedding: count {}, vocab {}, dim {} must be positive", count, vocab, dim));
  for (std::int64_t t = 0; t < count; ++t) {
    const std::int64_t id = tokens[t];
    if (id < 0 || id >= vocab)
      throw InvalidInput(fmt::format("embedding: token {} at {} is outside the vocabulary [0, {})", id, t, vocab));
    std::copy(table + id * dim, table + (id + 1) * dim, y + t * dim);
  }
}

void argmax_rows(const float* x, std::int64_t rows, std::int64_t cols, std::int64_t row_stride, std::int32_t* out) {
  if (rows <= 0 || cols <= 0 || row_stride < cols)
    throw InvalidInput(fmt::format("argmax_rows: rows {}, cols {} positive, row_stride {} ≥ cols", rows, cols, row_stride));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * row_stride;
    std::int64_t best = 0;
    float bv = -std::numeric_limits<float>::infinity();
    bool found = false;
    for (std::int64_t c = 0; c < cols; ++c) {
      if (std::isnan(xr[c])) continue;
      if (!found || xr[c] > bv) {
        bv = xr[c];
        best = c;
        found = true;
      }
    }
    out[r] = static_cast<std::int32_t>(best);
  }
}

}  // namespace vramfit::cpu
