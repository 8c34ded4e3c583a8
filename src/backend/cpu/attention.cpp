// Multi-head self-attention on packed qkv (Vaswani et al., "Attention Is All You Need", 2017, §3.2.1
// eq. 1 and §3.2.2): per head, softmax(q kᵀ / √d) v. The packing — q, k, v as consecutive E-wide
// blocks of the last dim, each head a contiguous d-wide slice — is torch.nn.MultiheadAttention's
// (in_proj_weight stacks W_q, W_k, W_v; heads split by view(…, H, d)). Scores, the max-shifted
// softmax and the weighted sum of v are accumulated in double: this is the yardstick for fp16 and
// flash-style kernels whose own summation orders differ.
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <vector>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

void AttentionShape::validate() const {
  if (batch <= 0 || seq <= 0 || embed <= 0 || heads <= 0)
    throw InvalidInput(fmt::format("attention: batch {}, seq {}, embed {}, heads {} must be positive", batch,
                                   seq, embed, heads));
  if (embed % heads)
    throw InvalidInput(fmt::format("attention: {} heads do not divide the embedding {}", heads, embed));
}

void attention(const float* qkv, float* y, const AttentionShape& s) {
  s.validate();
  const std::int64_t S = s.seq, E = s.embed, H = s.heads, d = s.head_dim();
  const std::int64_t row = 3 * E;  // stride between tokens in qkv
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  // One task per (image, head). The head's keys are copied transposed ([d][S]) and its values as
  // [S][d], both in double, so both inner loops run over independent outputs (the compiler may
  // vectorise them) while each score is still summed over c = 0 … d−1 in order.
  parallel_for(s.batch * H, [&](std::int64_t t0, std::int64_t t1) {
    std::vector<double> kt(at(d * S)), v(at(S * d)), p(at(S)), acc(at(d));
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / H, h = t % H;
      const float* base = qkv + b * S * row + h * d;
      for (std::int64_t j = 0; j < S; ++j)
        for (std::int64_t c = 0; c < d; ++c) {
          kt[at(c * S + j)] = base[j * row + E + c];
          v[at(j * d + c)] = base[j * row + 2 * E + c];
        }
      for (std::int64_t i = 0; i < S; ++i) {
        const float* q = base + i * row;
        std::fill(p.begin(), p.end(), 0.0);
        for (std::int64_t c = 0; c < d; ++c) {
          const double qc = q[c];
          const double* kc = kt.data() + c * S;
          for (std::int64_t j = 0; j < S; ++j) p[at(j)] += qc * kc[j];
        }
        double m = -std::numeric_limits<double>::infinity();
        for (double& x : p) {
          x *= scale;
          m = std::max(m, x);
        }
        double sum = 0.0;
        for (double& x : p) {
          x = std::exp(x - m);
          sum += x;
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t j = 0; j < S; ++j) {
          const double pj = p[at(j)];
          const double* vj = v.data() + j * d;
          for (std::int64_t c = 0; c < d; ++c) acc[at(c)] += pj * vj[c];
        }
        float* out = y + (b * S + i) * E + h * d;
        for (std::int64_t c = 0; c < d; ++c) out[c] = static_cast<float>(acc[at(c)] / sum);
      }
    }
  });
}

}  // namespace vramfit::cpu
