// GGUF block types on the CPU (weights/gguf_quant.h has the layouts and the recipes).
#include "weights/gguf_quant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "core/error.h"
#include "core/half.h"

namespace vramfit {
namespace {

float f16_at(const std::uint8_t* p) { return half_bits_to_float(static_cast<std::uint16_t>(p[0] | (p[1] << 8))); }
void put_f16(std::uint8_t* p, float f) {
  const std::uint16_t h = float_to_half_bits(f);
  p[0] = static_cast<std::uint8_t>(h & 0xff);
  p[1] = static_cast<std::uint8_t>(h >> 8);
}

// ---- dequantize one block ----
void deq_q8_0(const std::uint8_t* b, float* y) {
  const float d = f16_at(b);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(static_cast<std::int8_t>(b[2 + j]));
}

void deq_q4_0(const std::uint8_t* b, float* y) {
  const float d = f16_at(b);
  const std::uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0f) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Sub-block s's 6-bit scale and min from the 12 packed bytes (layout in gguf_quant.h).
void q4_k_scale_min(const std::uint8_t* scales, int s, int& sc, int& m) {
  if (s < 4) {
    sc = scales[s] & 63;
    m = scales[s + 4] & 63;
  } else {
    sc = (scales[s + 4] & 0x0f) | ((scales[s - 4] >> 6) << 4);
    m = (scales[s + 4] >> 4) | ((scales[s] >> 6) << 4);
  }
}

void deq_q4_k(const std::uint8_t* b, float* y) {
  const float d = f16_at(b);
  const float dmin = f16_at(b + 2);
  const std::uint8_t* scales = b + 4;
  const std::uint8_t* qs = b + 16;
  for (int c = 0; c < 4; ++c) {
    int sc0, m0, sc1, m1;
    q4_k_scale_min(scales, 2 * c, sc0, m0);
    q4_k_scale_min(scales, 2 * c + 1, sc1, m1);
    const float d0 = d * static_cast<float>(sc0), o0 = dmin * static_cast<float>(m0);
    const float d1 = d * static_cast<float>(sc1), o1 = dmin * static_cast<float>(m1);
    for (int l = 0; l < 32; ++l) {
      y[64 * c + l] = d0 * static_cast<float>(qs[32 * c + l] & 0x0f) - o0;
      y[64 * c + 32 + l] = d1 * static_cast<float>(qs[32 * c + l] >> 4) - o1;
    }
  }
}

void deq_q6_k(const std::uint8_t* b, float* y) {
  const std::uint8_t* ql = b;
  const std::uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const std::int8_t*>(b + 192);
  const float d = f16_at(b + 208);
  for (int h = 0; h < 2; ++h) {
    const std::uint8_t* l8 = ql + 64 * h;
    const std::uint8_t* h8 = qh + 32 * h;
    float* yy = y + 128 * h;
    for (int l = 0; l < 32; ++l) {
      const int q1 = ((l8[l] & 0x0f) | (((h8[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((l8[l + 32] & 0x0f) | (((h8[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((l8[l] >> 4) | (((h8[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((l8[l + 32] >> 4) | (((h8[l] >> 6) & 3) << 4)) - 32;
      for (const auto& [off, q] : {std::pair{0, q1}, std::pair{32, q2}, std::pair{64, q3}, std::pair{96, q4}}) {
        const int e = 128 * h + off + l;
        yy[off + l] = d * static_cast<float>(sc[e / 16]) * static_cast<float>(q);
      }
    }
  }
}

// ---- quantize one block ----

// ggml's quantize_row_q8_0_ref arithmetic: d = amax/127, q = round-half-away(x/d).
void quant_q8_0(const float* x, std::uint8_t* b) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_f16(b, d);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::round(x[j] * id)));
}

// ggml's quantize_row_q4_0_ref arithmetic: the element of largest magnitude (with its sign) maps to
// −8, q = min(15, trunc(x/d + 8.5)).
void quant_q4_0(const float* x, std::uint8_t* b) {
  float amax = 0.0f, vmax = 0.0f;
  for (int j = 0; j < 32; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      vmax = x[j];
    }
  const float d = vmax / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  put_f16(b, d);
  for (int j = 0; j < 16; ++j) {
    const auto q0 = std::min(15, static_cast<int>(std::trunc(x[j] * id + 8.5f)));
    const auto q1 = std::min(15, static_cast<int>(std::trunc(x[j + 16] * id + 8.5f)));
    b[2 + j] = static_cast<std::uint8_t>(std::max(q0, 0) | (std::max(q1, 0) << 4));
  }
}

int clampi(long v, int lo, int hi) { return static_cast<int>(std::clamp<long>(v, lo, hi)); }

// Q4_K sub-block fit: x ≈ a·q − m with q ∈ [0, 15], a ≥ 0, m ≥ 0 (ggml stores the min as a
// non-negative multiple of dmin, so the offset −m can only be ≤ 0). For each of 21 candidate
// scales around (max − min)/15 the codes are rounded and (a, −m) refit by least squares (the
// 2×2 normal equations of x ≈ a·q + c, c clamped to ≤ 0); the pair with the smallest squared
// error wins.
void fit_scale_min(const float* x, int n, float& a_best, float& m_best) {
  float lo = 0.0f, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (hi <= lo) {  // all equal and ≤ 0
    a_best = 0.0f;
    m_best = -lo;
    return;
  }
  a_best = (hi - lo) / 15.0f;
  m_best = -lo;
  double best = 0.0;
  for (int i = 0; i < n; ++i) {
    const float q = std::clamp(std::round((x[i] - lo) / a_best), 0.0f, 15.0f);
    best += std::pow(static_cast<double>(a_best * q - m_best - x[i]), 2);
  }
  for (int k = -10; k <= 10; ++k) {
    const double iscale = (15.0 + 0.1 * k) / static_cast<double>(hi - lo);
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    int qv[256];
    for (int i = 0; i < n; ++i) {
      qv[i] = clampi(std::lround((x[i] - lo) * iscale), 0, 15);
      sq += qv[i];
      sqq += static_cast<double>(qv[i]) * qv[i];
      sx += x[i];
      sqx += qv[i] * static_cast<double>(x[i]);
    }
    const double det = n * sqq - sq * sq;
    if (det <= 0) continue;
    double a = (n * sqx - sq * sx) / det;
    double c = (sqq * sx - sq * sqx) / det;
    if (c > 0) {
      c = 0;
      a = sqx / sqq;
    }
    if (a <= 0) continue;
    double err = 0;
    for (int i = 0; i < n; ++i) err += std::pow(a * qv[i] + c - x[i], 2);
    if (err < best) {
      best = err;
      a_best = static_cast<float>(a);
      m_best = static_cast<float>(-c);
    }
  }
}

void quant_q4_k(const float* x, std::uint8_t* b) {
  float a[8], m[8];
  for (int s = 0; s < 8; ++s) fit_scale_min(x + 32 * s, 32, a[s], m[s]);
  const float amax = *std::max_element(a, a + 8);
  const float mmax = *std::max_element(m, m + 8);
  const float d = round_to_half(amax / 63.0f);
  const float dmin = round_to_half(mmax / 63.0f);
  put_f16(b, d);
  put_f16(b + 2, dmin);
  int ls[8], lm[8];
  for (int s = 0; s < 8; ++s) {
    ls[s] = d > 0 ? clampi(std::lround(a[s] / d), 0, 63) : 0;
    lm[s] = dmin > 0 ? clampi(std::lround(m[s] / dmin), 0, 63) : 0;
  }
  std::uint8_t* scales = b + 4;
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<std::uint8_t>(ls[j] | ((ls[j + 4] >> 4) << 6));
    scales[j + 4] = static_cast<std::uint8_t>(lm[j] | ((lm[j + 4] >> 4) << 6));
    scales[j + 8] = static_cast<std::uint8_t>((ls[j + 4] & 0x0f) | ((lm[j + 4] & 0x0f) << 4));
  }
  // Codes against the stored (rounded) scales, so the error of the 6-bit scales is compensated.
  int q[256];
  for (int s = 0; s < 8; ++s) {
    const float as = d * static_cast<float>(ls[s]);
    const float ms = dmin * static_cast<float>(lm[s]);
    for (int l = 0; l < 32; ++l)
      q[32 * s + l] = as > 0 ? clampi(std::lround((x[32 * s + l] + ms) / as), 0, 15) : 0;
  }
  std::uint8_t* qs = b + 16;
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) qs[32 * c + l] = static_cast<std::uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
}

// Q6_K sub-block fit: x ≈ a·q, q ∈ [−32, 31]. Candidates map the element of largest magnitude to
// −(32 + δ/10)·sign, δ ∈ [−10, 10] (the negative side reaches −32, one step further than +31);
// each is refit by least squares (a = Σqx / Σq²) and the smallest squared error wins.
float fit_scale_symmetric(const float* x, int n) {
  float amax = 0.0f, vmax = 0.0f;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      vmax = x[i];
    }
  if (amax == 0.0f) return 0.0f;
  float best_a = vmax / -32.0f;
  double best = std::numeric_limits<double>::infinity();
  for (int k = -10; k <= 10; ++k) {
    const double iscale = -(32.0 + 0.1 * k) / vmax;
    double sqq = 0, sqx = 0;
    int qv[16];
    for (int i = 0; i < n; ++i) {
      qv[i] = clampi(std::lround(x[i] * iscale), -32, 31);
      sqq += static_cast<double>(qv[i]) * qv[i];
      sqx += qv[i] * static_cast<double>(x[i]);
    }
    if (sqq <= 0) continue;
    const double a = sqx / sqq;
    double err = 0;
    for (int i = 0; i < n; ++i) err += std::pow(a * qv[i] - x[i], 2);
    if (err < best) {
      best = err;
      best_a = static_cast<float>(a);
    }
  }
  return best_a;
}

void quant_q6_k(const float* x, std::uint8_t* b) {
  float a[16];
  float amax = 0.0f;
  for (int s = 0; s < 16; ++s) {
    a[s] = fit_scale_symmetric(x + 16 * s, 16);
    amax = std::max(amax, std::fabs(a[s]));
  }
  const float d = round_to_half(amax / 127.0f);
  auto* sc = reinterpret_cast<std::int8_t*>(b + 192);
  int q[256];
  for (int s = 0; s < 16; ++s) {
    const int si = d > 0 ? clampi(std::lround(a[s] / d), -127, 127) : 0;
    sc[s] = static_cast<std::int8_t>(si);
    const float as = d * static_cast<float>(si);
    for (int l = 0; l < 16; ++l)
      q[16 * s + l] = (as != 0.0f ? clampi(std::lround(x[16 * s + l] / as), -32, 31) : 0) + 32;
  }
  put_f16(b + 208, d);
  std::uint8_t* ql = b;
  std::uint8_t* qh = b + 128;
  for (int h = 0; h < 2; ++h)
    for (int l = 0; l < 32; ++l) {
      const int base = 128 * h;
      const int q1 = q[base + l], q2 = q[base + l + 32], q3 = q[base + l + 64], q4 = q[base + l + 96];
      ql[64 * h + l] = static_cast<std::uint8_t>((q1 & 0x0f) | ((q3 & 0x0f) << 4));
      ql[64 * h + l + 32] = static_cast<std::uint8_t>((q2 & 0x0f) | ((q4 & 0x0f) << 4));
      qh[32 * h + l] = static_cast<std::uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
}

const char* kSupportedTypes = "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K";

}  // namespace

void gguf_dequantize(GgmlType t, std::span<const std::uint8_t> src, std::span<float> dst) {
  const GgmlTypeInfo& ti = ggml_type_info(t);
  if (!ggml_type_supported(t))
    throw Unsupported(fmt::format("GGUF type {} cannot be dequantized (supported: {})", ti.name, kSupportedTypes));
  const std::uint64_t n = dst.size();
  if (n % ti.block_elems != 0)
    throw InvalidInput(fmt::format("{}: {} elements is not a multiple of the block size {}", ti.name, n, ti.block_elems));
  const std::uint64_t nb = n / ti.block_elems;
  if (src.size() != nb * ti.block_bytes)
    throw InvalidInput(fmt::format("{}: {} elements need {} bytes, got {}", ti.name, n, nb * ti.block_bytes, src.size()));
  const std::uint8_t* s = src.data();
  float* y = dst.data();
  switch (t) {
    case GgmlType::F32:
      if (n) std::memcpy(y, s, n * 4);
      return;
    case GgmlType::F16:
      for (std::uint64_t i = 0; i < n; ++i) y[i] = f16_at(s + 2 * i);
      return;
    case GgmlType::BF16:
      for (std::uint64_t i = 0; i < n; ++i) y[i] = bf16_bits_to_float(static_cast<std::uint16_t>(s[2 * i] | (s[2 * i + 1] << 8)));
      return;
    case GgmlType::Q8_0: for (std::uint64_t i = 0; i < nb; ++i) deq_q8_0(s + 34 * i, y + 32 * i); return;
    case GgmlType::Q4_0: for (std::uint64_t i = 0; i < nb; ++i) deq_q4_0(s + 18 * i, y + 32 * i); return;
    case GgmlType::Q4_K: for (std::uint64_t i = 0; i < nb; ++i) deq_q4_k(s + 144 * i, y + 256 * i); return;
    case GgmlType::Q6_K: for (std::uint64_t i = 0; i < nb; ++i) deq_q6_k(s + 210 * i, y + 256 * i); return;
    default: break;
  }
  throw InternalError("gguf_dequantize: supported type without a case");
}

std::vector<float> gguf_dequantize(GgmlType t, std::span<const std::uint8_t> src, std::uint64_t n_elements) {
  std::vector<float> out(static_cast<std::size_t>(n_elements));
  gguf_dequantize(t, src, out);
  return out;
}

std::vector<std::uint8_t> gguf_quantize(GgmlType t, std::span<const float> src) {
  const GgmlTypeInfo& ti = ggml_type_info(t);
  if (!ggml_type_supported(t))
    throw Unsupported(fmt::format("GGUF type {} cannot be quantized by vramfit (supported: {})", ti.name, kSupportedTypes));
  const std::uint64_t n = src.size();
  if (n % ti.block_elems != 0)
    throw InvalidInput(fmt::format("{}: {} elements is not a multiple of the block size {}", ti.name, n, ti.block_elems));
  const std::uint64_t nb = n / ti.block_elems;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(nb * ti.block_bytes));
  const float* x = src.data();
  std::uint8_t* b = out.data();
  switch (t) {
    case GgmlType::F32:
      if (n) std::memcpy(b, x, n * 4);
      break;
    case GgmlType::F16:
      for (std::uint64_t i = 0; i < n; ++i) put_f16(b + 2 * i, x[i]);
      break;
    case GgmlType::BF16:
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint16_t h = float_to_bf16_bits(x[i]);
        b[2 * i] = static_cast<std::uint8_t>(h & 0xff);
        b[2 * i + 1] = static_cast<std::uint8_t>(h >> 8);
      }
      break;
    case GgmlType::Q8_0: for (std::uint64_t i = 0; i < nb; ++i) quant_q8_0(x + 32 * i, b + 34 * i); break;
    case GgmlType::Q4_0: for (std::uint64_t i = 0; i < nb; ++i) quant_q4_0(x + 32 * i, b + 18 * i); break;
    case GgmlType::Q4_K: for (std::uint64_t i = 0; i < nb; ++i) quant_q4_k(x + 256 * i, b + 144 * i); break;
    case GgmlType::Q6_K: for (std::uint64_t i = 0; i < nb; ++i) quant_q6_k(x + 256 * i, b + 210 * i); break;
    default: throw InternalError("gguf_quantize: supported type without a case");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Recipes.
std::string_view to_string(GgufRecipe r) {
  switch (r) {
    case GgufRecipe::F16: return "f16";
    case GgufRecipe::Q8_0: return "q8_0";
    case GgufRecipe::Q4_0: return "q4_0";
    case GgufRecipe::Q4_K_M: return "q4_k_m";
  }
  return "unknown";
}

GgufRecipe parse_gguf_recipe(std::string_view text) {
  for (auto r : {GgufRecipe::F16, GgufRecipe::Q8_0, GgufRecipe::Q4_0, GgufRecipe::Q4_K_M})
    if (to_string(r) == text) return r;
  throw InvalidInput(fmt::format("unknown GGUF quantization \"{}\" (valid: f16, q8_0, q4_0, q4_k_m)", text));
}

std::uint32_t gguf_recipe_file_type(GgufRecipe r) {
  switch (r) {
    case GgufRecipe::F16: return 1;
    case GgufRecipe::Q8_0: return 7;
    case GgufRecipe::Q4_0: return 2;
    case GgufRecipe::Q4_K_M: return 15;
  }
  return 0;
}

bool gguf_use_more_bits(std::int64_t layer, std::int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

namespace {

// "blk.N.<what>" → N and what; false for other names.
bool split_block_name(std::string_view name, std::int64_t& layer, std::string_view& rest) {
  if (name.substr(0, 4) != "blk.") return false;
  std::size_t i = 4;
  std::int64_t v = 0;
  if (i >= name.size() || name[i] < '0' || name[i] > '9') return false;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
    if (v > 1'000'000) return false;
    v = v * 10 + (name[i] - '0');
    ++i;
  }
  if (i >= name.size() || name[i] != '.') return false;
  layer = v;
  rest = name.substr(i + 1);
  return true;
}

// A type whose block fits the row, or the next wider one that does (see gguf_quant.h).
GgmlType fit_row(GgmlType want, std::uint64_t row) {
  for (GgmlType t : {want, GgmlType::Q8_0, GgmlType::F16})
    if (row % ggml_type_info(t).block_elems == 0) return t;
  return GgmlType::F16;
}

}  // namespace

GgmlType gguf_recipe_type(GgufRecipe recipe, std::string_view name, std::span<const std::uint64_t> ne,
                          std::int64_t n_layers) {
  std::uint64_t numel = 1;
  for (auto d : ne) numel *= d;
  const bool matrix = ne.size() >= 2 && numel != ne[0];
  if (ne.size() < 2 || !matrix) return GgmlType::F32;
  const std::uint64_t row = ne[0];
  GgmlType base = GgmlType::F16;
  switch (recipe) {
    case GgufRecipe::F16: return GgmlType::F16;
    case GgufRecipe::Q8_0: base = GgmlType::Q8_0; break;
    case GgufRecipe::Q4_0: base = GgmlType::Q4_0; break;
    case GgufRecipe::Q4_K_M: base = GgmlType::Q4_K; break;
  }
  // llama.cpp gives the output projection Q6_K unless the base type is Q8_0; rows not a multiple of
  // 256 get Q8_0. (A tied model's embedding serves as the output: callers pass "output.weight" for
  // it, as gguf_model_size and write_llama_gguf do.)
  if (name == "output.weight") {
    if (base == GgmlType::Q8_0) return fit_row(GgmlType::Q8_0, row);
    return row % 256 == 0 ? GgmlType::Q6_K : fit_row(GgmlType::Q8_0, row);
  }
  std::int64_t layer = -1;
  std::string_view rest;
  if (recipe == GgufRecipe::Q4_K_M && split_block_name(name, layer, rest) &&
      (rest == "attn_v.weight" || rest == "ffn_down.weight") && gguf_use_more_bits(layer, n_layers))
    return fit_row(GgmlType::Q6_K, row);
  return fit_row(base, row);
}

// ---------------------------------------------------------------------------------------------
// Sizes.
std::vector<GgufTensorShape> gguf_llama_tensor_shapes(const GgufLlamaConfig& c) {
  const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
  const std::uint64_t h = u(c.embedding_length), f = u(c.feed_forward_length), v = u(c.vocab_size);
  const std::uint64_t hd = u(c.head_dim > 0 ? c.head_dim : (c.head_count > 0 ? c.embedding_length / c.head_count : 0));
  const std::uint64_t q = u(c.head_count) * hd, kv = u(c.head_count_kv > 0 ? c.head_count_kv : c.head_count) * hd;
  std::vector<GgufTensorShape> t;
  t.push_back({"token_embd.weight", {h, v}});
  for (std::int64_t i = 0; i < c.block_count; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    t.push_back({p + "attn_norm.weight", {h}});
    t.push_back({p + "attn_q.weight", {h, q}});
    t.push_back({p + "attn_k.weight", {h, kv}});
    t.push_back({p + "attn_v.weight", {h, kv}});
    if (c.qkv_bias) {
      t.push_back({p + "attn_q.bias", {q}});
      t.push_back({p + "attn_k.bias", {kv}});
      t.push_back({p + "attn_v.bias", {kv}});
    }
    t.push_back({p + "attn_output.weight", {q, h}});
    t.push_back({p + "ffn_norm.weight", {h}});
    t.push_back({p + "ffn_gate.weight", {h, f}});
    t.push_back({p + "ffn_up.weight", {h, f}});
    t.push_back({p + "ffn_down.weight", {f, h}});
  }
  t.push_back({"output_norm.weight", {h}});
  if (!c.tied_embeddings) t.push_back({"output.weight", {h, v}});
  return t;
}

GgufSizeReport gguf_model_size(const std::vector<GgufTensorShape>& tensors, GgufRecipe recipe, std::int64_t n_layers) {
  GgufSizeReport r;
  const bool tied = std::none_of(tensors.begin(), tensors.end(), [](const auto& t) { return t.name == "output.weight"; });
  for (const auto& t : tensors) {
    // A tied model's embedding is also its output projection: llama.cpp quantizes it as the output.
    const std::string_view as = tied && t.name == "token_embd.weight" ? std::string_view("output.weight") : t.name;
    const GgmlType type = gguf_recipe_type(recipe, as, t.ne, n_layers);
    const std::uint64_t b = ggml_nbytes(type, t.ne);
    std::uint64_t n = 1;
    for (auto d : t.ne) n *= d;
    r.bytes += b;
    r.parameters += n;
    r.bytes_by_type[type] += b;
    r.tensors_by_type[type] += 1;
  }
  return r;
}

GgufSizeReport gguf_model_size(const GgufFile& f) {
  GgufSizeReport r;
  for (const auto& t : f.tensors()) {
    r.bytes += t.nbytes;
    r.parameters += t.numel();
    r.bytes_by_type[t.type] += t.nbytes;
    r.tensors_by_type[t.type] += 1;
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Writing a Llama model.
void write_llama_gguf(const std::string& path, const GgufLlamaConfig& c, const TensorMap& hf_weights, GgufRecipe recipe) {
  if (c.block_count <= 0 || c.embedding_length <= 0 || c.head_count <= 0 || c.feed_forward_length <= 0 ||
      c.vocab_size <= 0)
    throw InvalidInput(fmt::format("{}: cannot write a Llama GGUF: the config has a non-positive extent", path));
  const std::string arch = c.architecture.empty() ? "llama" : c.architecture;
  const std::int64_t kv_heads = c.head_count_kv > 0 ? c.head_count_kv : c.head_count;
  const std::int64_t head_dim = c.head_dim > 0 ? c.head_dim : c.embedding_length / c.head_count;
  GgufWriter w;
  const auto u32 = [](std::int64_t v) { return GgufValue::u32(static_cast<std::uint32_t>(v)); };
  w.add("general.architecture", GgufValue::string(arch));
  w.add("general.name", GgufValue::string(c.name.empty() ? std::string("vramfit model") : c.name));
  w.add("general.file_type", GgufValue::u32(gguf_recipe_file_type(recipe)));
  w.add("general.quantization_version", GgufValue::u32(2));
  w.add(arch + ".block_count", u32(c.block_count));
  w.add(arch + ".context_length", u32(c.context_length > 0 ? c.context_length : 2048));
  w.add(arch + ".embedding_length", u32(c.embedding_length));
  w.add(arch + ".feed_forward_length", u32(c.feed_forward_length));
  w.add(arch + ".attention.head_count", u32(c.head_count));
  w.add(arch + ".attention.head_count_kv", u32(kv_heads));
  if (head_dim * c.head_count != c.embedding_length) {
    w.add(arch + ".attention.key_length", u32(head_dim));
    w.add(arch + ".attention.value_length", u32(head_dim));
  }
  w.add(arch + ".rope.freq_base", GgufValue::f32(static_cast<float>(c.rope_freq_base)));
  w.add(arch + ".rope.dimension_count", u32(c.rope_dimension_count > 0 ? c.rope_dimension_count : head_dim));
  w.add(arch + ".attention.layer_norm_rms_epsilon", GgufValue::f32(static_cast<float>(c.rms_norm_eps)));
  w.add(arch + ".vocab_size", u32(c.vocab_size));
  if (!c.rope_scaling_type.empty()) {
    w.add(arch + ".rope.scaling.type", GgufValue::string(c.rope_scaling_type));
    w.add(arch + ".rope.scaling.factor", GgufValue::f32(static_cast<float>(c.rope_scaling_factor)));
  }

  for (const auto& ts : gguf_llama_tensor_shapes(c)) {
    const auto hf = gguf_to_hf_name(ts.name);
    VRAMFIT_CHECK(hf.has_value(), "every llama GGUF tensor has an HF name");
    const auto it = hf_weights.find(*hf);
    if (it == hf_weights.end()) throw InvalidInput(fmt::format("{}: no weight \"{}\" to write as \"{}\"", path, *hf, ts.name));
    const Tensor& t = it->second;
    const Shape want(std::vector<std::int64_t>(ts.ne.rbegin(), ts.ne.rend()));
    if (t.shape != want || static_cast<std::int64_t>(t.data.size()) != want.numel())
      throw InvalidInput(fmt::format("{}: weight \"{}\" has shape {}, the config needs {}", path, *hf, t.shape.to_string(),
                                     want.to_string()));
    std::vector<float> data = t.data;
    const bool is_q = ts.name.ends_with("attn_q.weight") || ts.name.ends_with("attn_q.bias");
    const bool is_k = ts.name.ends_with("attn_k.weight") || ts.name.ends_with("attn_k.bias");
    if (is_q || is_k) {
      const std::int64_t rows = want[0];
      const std::size_t row_bytes = data.size() / static_cast<std::size_t>(rows) * sizeof(float);
      std::vector<float> permuted(data.size());
      hf_rope_rows_to_gguf({reinterpret_cast<const std::uint8_t*>(data.data()), data.size() * sizeof(float)},
                           {reinterpret_cast<std::uint8_t*>(permuted.data()), permuted.size() * sizeof(float)}, rows,
                           is_q ? c.head_count : kv_heads);
      (void)row_bytes;
      data.swap(permuted);
    }
    const std::string_view as = c.tied_embeddings && ts.name == "token_embd.weight" ? std::string_view("output.weight")
                                                                                     : std::string_view(ts.name);
    const GgmlType type = gguf_recipe_type(recipe, as, ts.ne, c.block_count);
    w.add_tensor(ts.name, type, ts.ne, gguf_quantize(type, data));
  }
  w.write(path);
}

}  // namespace vramfit
