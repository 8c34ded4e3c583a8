#include "backend/cpu/backward.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"

namespace vramfit::cpu {

namespace {

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

void need(bool ok, const std::string& what) {
  if (!ok) throw InvalidInput(what);
}

}  // namespace

void activation_backward(const float* x, const float* dy, float* dx, std::int64_t n, Activation act) {
  need(n >= 0, "activation_backward: negative count");
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    double d = 1;
    switch (act) {
      case Activation::None: d = 1; break;
      case Activation::Relu: d = v > 0 ? 1 : 0; break;
      case Activation::Gelu: d = 0.5 * (1 + std::erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * std::exp(-0.5 * v * v); break;
      case Activation::Silu: {
        const double s = 1 / (1 + std::exp(-v));
        d = s * (1 + v * (1 - s));
        break;
      }
    }
    dx[i] = static_cast<float>(static_cast<double>(dy[i]) * d);
  }
}

void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, const LinearShape& s) {
  s.validate();
  const std::int64_t R = s.rows, K = s.in_features, N = s.out_features;
  if (dx)
    for (std::int64_t r = 0; r < R; ++r)
      for (std::int64_t k = 0; k < K; ++k) {
        double acc = 0;
        for (std::int64_t o = 0; o < N; ++o) acc += static_cast<double>(dy[r * N + o]) * w[o * K + k];
        dx[r * K + k] = static_cast<float>(acc);
      }
  if (dw)
    for (std::int64_t o = 0; o < N; ++o)
      for (std::int64_t k = 0; k < K; ++k) {
        double acc = 0;
        for (std::int64_t r = 0; r < R; ++r) acc += static_cast<double>(dy[r * N + o]) * x[r * K + k];
        dw[o * K + k] = static_cast<float>(acc);
      }
  if (db)
    for (std::int64_t o = 0; o < N; ++o) {
      double acc = 0;
      for (std::int64_t r = 0; r < R; ++r) acc += dy[r * N + o];
      db[o] = static_cast<float>(acc);
    }
}

void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, const Conv2dShape& s) {
  s.validate();
  const std::int64_t N = s.batch, C = s.in_channels, H = s.in_h, W = s.in_w, O = s.out_channels;
  const std::int64_t OH = s.out_h(), OW = s.out_w(), KH = s.kernel_h, KW = s.kernel_w, G = s.groups;
  const std::int64_t cg = C / G, og = O / G;
  // The input position a (output, kernel) pair reads, or −1 in the padding.
  auto in_y = [&](std::int64_t oy, std::int64_t ky) { return oy * s.stride_h - s.pad_h + ky * s.dilation_h; };
  auto in_x = [&](std::int64_t ox, std::int64_t kx) { return ox * s.stride_w - s.pad_w + kx * s.dilation_w; };
  if (dx) {
    std::vector<double> acc(static_cast<std::size_t>(N * C * H * W), 0.0);
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t o = 0; o < O; ++o) {
        const std::int64_t g = o / og;
        for (std::int64_t oy = 0; oy < OH; ++oy)
          for (std::int64_t ox = 0; ox < OW; ++ox) {
            const double d = dy[((n * O + o) * OH + oy) * OW + ox];
            if (d == 0) continue;
            for (std::int64_t ci = 0; ci < cg; ++ci)
              for (std::int64_t ky = 0; ky < KH; ++ky) {
                const std::int64_t iy = in_y(oy, ky);
                if (iy < 0 || iy >= H) continue;
                for (std::int64_t kx = 0; kx < KW; ++kx) {
                  const std::int64_t ix = in_x(ox, kx);
                  if (ix < 0 || ix >= W) continue;
                  acc[static_cast<std::size_t>(((n * C + g * cg + ci) * H + iy) * W + ix)] += d * w[((o * cg + ci) * KH + ky) * KW + kx];
                }
              }
          }
      }
    for (std::size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<float>(acc[i]);
  }
  if (dw)
    for (std::int64_t o = 0; o < O; ++o) {
      const std::int64_t g = o / og;
      for (std::int64_t ci = 0; ci < cg; ++ci)
        for (std::int64_t ky = 0; ky < KH; ++ky)
          for (std::int64_t kx = 0; kx < KW; ++kx) {
            double acc = 0;
            for (std::int64_t n = 0; n < N; ++n)
              for (std::int64_t oy = 0; oy < OH; ++oy) {
                const std::int64_t iy = in_y(oy, ky);
                if (iy < 0 || iy >= H) continue;
                for (std::int64_t ox = 0; ox < OW; ++ox) {
                  const std::int64_t ix = in_x(ox, kx);
                  if (ix < 0 || ix >= W) continue;
                  acc += static_cast<double>(dy[((n * O + o) * OH + oy) * OW + ox]) * x[((n * C + g * cg + ci) * H + iy) * W + ix];
                }
              }
            dw[((o * cg + ci) * KH + ky) * KW + kx] = static_cast<float>(acc);
          }
    }
  if (db)
    for (std::int64_t o = 0; o < O; ++o) {
      double acc = 0;
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t i = 0; i < OH * OW; ++i) acc += dy[(n * O + o) * OH * OW + i];
      db[o] = static_cast<float>(acc);
    }
}

void batch_norm_train(const float* x, const float* gamma, const float* beta, float* y, float* save_mean, float* save_invstd,
                      float* running_mean, float* running_var, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                      float eps, float momentum) {
  need(batch > 0 && channels > 0 && inner > 0, "batch_norm_train: batch, channels and inner extents must be positive");
  const double n = static_cast<double>(batch * inner);
  for (std::int64_t c = 0; c < channels; ++c) {
    double sum = 0;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t i = 0; i < inner; ++i) sum += x[(b * channels + c) * inner + i];
    const double mean = sum / n;
    double sq = 0;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t i = 0; i < inner; ++i) {
        const double d = x[(b * channels + c) * inner + i] - mean;
        sq += d * d;
      }
    const double var = sq / n;  // biased: what normalises
    const double invstd = 1 / std::sqrt(var + eps);
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::int64_t at = (b * channels + c) * inner + i;
        y[at] = static_cast<float>((x[at] - mean) * invstd * gamma[c] + beta[c]);
      }
    save_mean[c] = static_cast<float>(mean);
    save_invstd[c] = static_cast<float>(invstd);
    if (running_mean) running_mean[c] = static_cast<float>((1 - momentum) * running_mean[c] + momentum * mean);
    if (running_var) {
      const double unbiased = n > 1 ? sq / (n - 1) : var;
      running_var[c] = static_cast<float>((1 - momentum) * running_var[c] + momentum * unbiased);
    }
  }
}

void batch_norm_backward(const float* x, const float* gamma, const float* save_mean, const float* save_invstd, const float* dy,
                         float* dx, float* dgamma, float* dbeta, std::int64_t batch, std::int64_t channels, std::int64_t inner) {
  need(batch > 0 && channels > 0 && inner > 0, "batch_norm_backward: batch, channels and inner extents must be positive");
  const double n = static_cast<double>(batch * inner);
  for (std::int64_t c = 0; c < channels; ++c) {
    const double mean = save_mean[c], invstd = save_invstd[c];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::int64_t at = (b * channels + c) * inner + i;
        sum_dy += dy[at];
        sum_dy_xhat += static_cast<double>(dy[at]) * (x[at] - mean) * invstd;
      }
    if (dgamma) dgamma[c] = static_cast<float>(sum_dy_xhat);
    if (dbeta) dbeta[c] = static_cast<float>(sum_dy);
    if (!dx) continue;
    const double k = gamma[c] * invstd / n;
    for (std::int64_t b = 0; b < batch; ++b)
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::int64_t at = (b * channels + c) * inner + i;
        const double xhat = (x[at] - mean) * invstd;
        dx[at] = static_cast<float>(k * (n * dy[at] - sum_dy - xhat * sum_dy_xhat));
      }
  }
}

void layer_norm_backward(const float* x, const float* gamma, const float* dy, float* dx, float* dgamma, float* dbeta,
                         std::int64_t rows, std::int64_t features, float eps) {
  need(rows > 0 && features > 0, "layer_norm_backward: rows and features must be positive");
  const double F = static_cast<double>(features);
  std::vector<double> dg(static_cast<std::size_t>(features), 0.0), dbt(static_cast<std::size_t>(features), 0.0);
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * features;
    const float* dyr = dy + r * features;
    double sum = 0;
    for (std::int64_t f = 0; f < features; ++f) sum += xr[f];
    const double mean = sum / F;
    double sq = 0;
    for (std::int64_t f = 0; f < features; ++f) sq += (xr[f] - mean) * (xr[f] - mean);
    const double invstd = 1 / std::sqrt(sq / F + eps);
    double sum_g = 0, sum_g_xhat = 0;
    for (std::int64_t f = 0; f < features; ++f) {
      const double xhat = (xr[f] - mean) * invstd;
      const double g = static_cast<double>(dyr[f]) * gamma[f];
      sum_g += g;
      sum_g_xhat += g * xhat;
      dg[static_cast<std::size_t>(f)] += dyr[f] * xhat;
      dbt[static_cast<std::size_t>(f)] += dyr[f];
    }
    if (dx)
      for (std::int64_t f = 0; f < features; ++f) {
        const double xhat = (xr[f] - mean) * invstd;
        dx[r * features + f] = static_cast<float>(invstd / F * (F * dyr[f] * gamma[f] - sum_g - xhat * sum_g_xhat));
      }
  }
  for (std::int64_t f = 0; f < features; ++f) {
    if (dgamma) dgamma[f] = static_cast<float>(dg[static_cast<std::size_t>(f)]);
    if (dbeta) dbeta[f] = static_cast<float>(dbt[static_cast<std::size_t>(f)]);
  }
}

void max_pool2d_backward(const float* x, const float* dy, float* dx, const Pool2dShape& s) {
  s.validate();
  const std::int64_t OH = s.out_h(), OW = s.out_w();
  std::fill(dx, dx + s.batch * s.channels * s.in_h * s.in_w, 0.0f);
  for (std::int64_t p = 0; p < s.batch * s.channels; ++p) {
    const float* xp = x + p * s.in_h * s.in_w;
    float* dxp = dx + p * s.in_h * s.in_w;
    for (std::int64_t oy = 0; oy < OH; ++oy)
      for (std::int64_t ox = 0; ox < OW; ++ox) {
        std::int64_t best = -1;
        float best_v = -std::numeric_limits<float>::infinity();
        for (std::int64_t ky = 0; ky < s.kernel_h; ++ky)
          for (std::int64_t kx = 0; kx < s.kernel_w; ++kx) {
            const std::int64_t iy = oy * s.stride_h - s.pad_h + ky, ix = ox * s.stride_w - s.pad_w + kx;
            if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
            if (best < 0 || xp[iy * s.in_w + ix] > best_v) best = iy * s.in_w + ix, best_v = xp[best];
          }
        if (best >= 0) dxp[best] += dy[(p * OH + oy) * OW + ox];
      }
  }
}

void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s) {
  s.validate();
  const std::int64_t OH = s.out_h(), OW = s.out_w();
  const double scale = 1.0 / static_cast<double>(s.kernel_h * s.kernel_w);
  std::vector<double> acc(static_cast<std::size_t>(s.batch * s.channels * s.in_h * s.in_w), 0.0);
  for (std::int64_t p = 0; p < s.batch * s.channels; ++p)
    for (std::int64_t oy = 0; oy < OH; ++oy)
      for (std::int64_t ox = 0; ox < OW; ++ox) {
        const double d = dy[(p * OH + oy) * OW + ox] * scale;
        for (std::int64_t ky = 0; ky < s.kernel_h; ++ky)
          for (std::int64_t kx = 0; kx < s.kernel_w; ++kx) {
            const std::int64_t iy = oy * s.stride_h - s.pad_h + ky, ix = ox * s.stride_w - s.pad_w + kx;
            if (iy >= 0 && iy < s.in_h && ix >= 0 && ix < s.in_w) acc[static_cast<std::size_t>((p * s.in_h + iy) * s.in_w + ix)] += d;
          }
      }
  for (std::size_t i = 0; i < acc.size(); ++i) dx[i] = static_cast<float>(acc[i]);
}

void global_avg_pool_backward(const float* dy, float* dx, std::int64_t batch, std::int64_t channels, std::int64_t plane) {
  need(batch > 0 && channels > 0 && plane > 0, "global_avg_pool_backward: extents must be positive");
  for (std::int64_t p = 0; p < batch * channels; ++p)
    std::fill(dx + p * plane, dx + (p + 1) * plane, static_cast<float>(static_cast<double>(dy[p]) / static_cast<double>(plane)));
}

void attention_backward(const float* qkv, const float* dy, float* dqkv, const AttentionShape& s) {
  s.validate();
  const std::int64_t B = s.batch, S = s.seq, E = s.embed, H = s.heads, d = s.head_dim();
  const double scale = 1 / std::sqrt(static_cast<double>(d));
  std::fill(dqkv, dqkv + B * S * 3 * E, 0.0f);
  std::vector<double> P(static_cast<std::size_t>(S * S)), dP(static_cast<std::size_t>(S * S));
  auto q = [&](std::int64_t b, std::int64_t i, std::int64_t h, std::int64_t c) { return static_cast<double>(qkv[(b * S + i) * 3 * E + h * d + c]); };
  auto k = [&](std::int64_t b, std::int64_t j, std::int64_t h, std::int64_t c) { return static_cast<double>(qkv[(b * S + j) * 3 * E + E + h * d + c]); };
  auto v = [&](std::int64_t b, std::int64_t j, std::int64_t h, std::int64_t c) { return static_cast<double>(qkv[(b * S + j) * 3 * E + 2 * E + h * d + c]); };
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t h = 0; h < H; ++h) {
      for (std::int64_t i = 0; i < S; ++i) {  // P = softmax(q kᵀ·scale), row by row
        double mx = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < S; ++j) {
          double dot = 0;
          for (std::int64_t c = 0; c < d; ++c) dot += q(b, i, h, c) * k(b, j, h, c);
          P[static_cast<std::size_t>(i * S + j)] = dot * scale;
          mx = std::max(mx, dot * scale);
        }
        double z = 0;
        for (std::int64_t j = 0; j < S; ++j) z += P[static_cast<std::size_t>(i * S + j)] = std::exp(P[static_cast<std::size_t>(i * S + j)] - mx);
        for (std::int64_t j = 0; j < S; ++j) P[static_cast<std::size_t>(i * S + j)] /= z;
      }
      for (std::int64_t i = 0; i < S; ++i)  // dP = dy vᵀ
        for (std::int64_t j = 0; j < S; ++j) {
          double acc = 0;
          for (std::int64_t c = 0; c < d; ++c) acc += static_cast<double>(dy[(b * S + i) * E + h * d + c]) * v(b, j, h, c);
          dP[static_cast<std::size_t>(i * S + j)] = acc;
        }
      for (std::int64_t i = 0; i < S; ++i) {  // dS = P ∘ (dP − rowsum(dP ∘ P)), kept in dP
        double row = 0;
        for (std::int64_t j = 0; j < S; ++j) row += dP[static_cast<std::size_t>(i * S + j)] * P[static_cast<std::size_t>(i * S + j)];
        for (std::int64_t j = 0; j < S; ++j)
          dP[static_cast<std::size_t>(i * S + j)] = P[static_cast<std::size_t>(i * S + j)] * (dP[static_cast<std::size_t>(i * S + j)] - row);
      }
      for (std::int64_t c = 0; c < d; ++c) {
        for (std::int64_t i = 0; i < S; ++i) {  // dq = dS k·scale
          double acc = 0;
          for (std::int64_t j = 0; j < S; ++j) acc += dP[static_cast<std::size_t>(i * S + j)] * k(b, j, h, c);
          dqkv[(b * S + i) * 3 * E + h * d + c] = static_cast<float>(acc * scale);
        }
        for (std::int64_t j = 0; j < S; ++j) {  // dk = dSᵀ q·scale, dv = Pᵀ dy
          double ak = 0, av = 0;
          for (std::int64_t i = 0; i < S; ++i) {
            ak += dP[static_cast<std::size_t>(i * S + j)] * q(b, i, h, c);
            av += P[static_cast<std::size_t>(i * S + j)] * dy[(b * S + i) * E + h * d + c];
          }
          dqkv[(b * S + j) * 3 * E + E + h * d + c] = static_cast<float>(ak * scale);
          dqkv[(b * S + j) * 3 * E + 2 * E + h * d + c] = static_cast<float>(av);
        }
      }
    }
}

double softmax_cross_entropy(const float* logits, const std::int64_t* labels, float* dlogits, std::int64_t rows, std::int64_t classes) {
  need(rows > 0 && classes > 0, "softmax_cross_entropy: rows and classes must be positive");
  double loss = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t y = labels[r];
    need(y >= 0 && y < classes, "softmax_cross_entropy: label " + std::to_string(y) + " of row " + std::to_string(r) +
                                    " is outside [0, " + std::to_string(classes) + ")");
    const float* l = logits + r * classes;
    double mx = l[0];
    for (std::int64_t c = 1; c < classes; ++c) mx = std::max(mx, static_cast<double>(l[c]));
    double z = 0;
    for (std::int64_t c = 0; c < classes; ++c) z += std::exp(l[c] - mx);
    loss += std::log(z) + mx - l[y];
    if (dlogits)
      for (std::int64_t c = 0; c < classes; ++c)
        dlogits[r * classes + c] = static_cast<float>((std::exp(l[c] - mx) / z - (c == y ? 1.0 : 0.0)) / static_cast<double>(rows));
  }
  return loss / static_cast<double>(rows);
}

void sgd_momentum_step(float* w, const float* g, float* buf, std::int64_t n, float lr, float momentum, float weight_decay,
                       bool first_step) {
  for (std::int64_t i = 0; i < n; ++i) {
    const double gi = static_cast<double>(g[i]) + static_cast<double>(weight_decay) * w[i];
    const double b = first_step ? gi : static_cast<double>(momentum) * buf[i] + gi;
    buf[i] = static_cast<float>(b);
    w[i] = static_cast<float>(w[i] - static_cast<double>(lr) * b);
  }
}

void adamw_step(float* w, const float* g, float* m, float* v, std::int64_t n, float lr, float beta1, float beta2, float eps,
                float weight_decay, std::int64_t step) {
  need(step >= 1, "adamw_step: step counts from 1");
  const double c1 = 1 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double c2 = 1 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  for (std::int64_t i = 0; i < n; ++i) {
    double wi = static_cast<double>(w[i]) * (1 - static_cast<double>(lr) * weight_decay);
    const double mi = static_cast<double>(beta1) * m[i] + (1 - static_cast<double>(beta1)) * g[i];
    const double vi = static_cast<double>(beta2) * v[i] + (1 - static_cast<double>(beta2)) * static_cast<double>(g[i]) * g[i];
    wi -= static_cast<double>(lr) * (mi / c1) / (std::sqrt(vi / c2) + eps);
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    w[i] = static_cast<float>(wi);
  }
}

}  // namespace vramfit::cpu
