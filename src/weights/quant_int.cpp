// weights/quant_int.cpp — see quant_int.h.
#include "weights/quant_int.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.h"
#include "core/half.h"

namespace vramfit {
namespace {

void check_extents(const char* what, std::int64_t n, std::int64_t k) {
  if (n <= 0 || k <= 0)
    throw InvalidInput(std::string(what) + ": need positive n and k; got n " + std::to_string(n) + ", k " +
                       std::to_string(k));
}

void check_int4_k(std::int64_t k) {
  if (k % kInt4GroupSize != 0)
    throw InvalidInput("quantize_int4: k (" + std::to_string(k) + ") must be a multiple of the group size " +
                       std::to_string(kInt4GroupSize));
}

// fp16 bits of max_abs / qmax, rounded; 1.0 for an all-zero span; never zero for a nonzero one.
std::uint16_t scale_bits(float max_abs, float qmax, const char* what, std::int64_t row) {
  if (!std::isfinite(max_abs))
    throw InvalidInput(std::string(what) + ": row " + std::to_string(row) + " holds a non-finite weight");
  if (max_abs == 0.0f) return float_to_half_bits(1.0f);
  std::uint16_t s = float_to_half_bits(max_abs / qmax);
  if ((s & 0x7fffu) == 0x7c00u)
    throw InvalidInput(std::string(what) + ": row " + std::to_string(row) + " max |w| = " + std::to_string(max_abs) +
                       " gives a scale beyond fp16's range");
  if ((s & 0x7fffu) == 0) s = 1;  // smallest positive subnormal, 2^-24
  return s;
}

float max_abs_of(const float* p, std::int64_t count) {
  float m = 0.0f;
  for (std::int64_t i = 0; i < count; ++i) {
    const float a = std::fabs(p[i]);
    if (std::isnan(a)) return a;  // reported as a non-finite weight
    m = std::max(m, a);
  }
  return m;
}

int quantize_one(float w, float s, int lo, int hi) {
  const float r = std::nearbyint(w / s);
  return static_cast<int>(std::clamp(r, static_cast<float>(lo), static_cast<float>(hi)));
}

}  // namespace

std::uint64_t int8_weight_bytes(std::int64_t n, std::int64_t k) {
  check_extents("int8_weight_bytes", n, k);
  return static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(k) + 2ull * static_cast<std::uint64_t>(n);
}

std::uint64_t int4_weight_bytes(std::int64_t n, std::int64_t k) {
  check_extents("int4_weight_bytes", n, k);
  check_int4_k(k);
  const auto un = static_cast<std::uint64_t>(n), uk = static_cast<std::uint64_t>(k);
  return un * uk / 2 + 2 * un * (uk / kInt4GroupSize);
}

Int8Weights quantize_int8(const float* w, std::int64_t n, std::int64_t k) {
  check_extents("quantize_int8", n, k);
  Int8Weights out;
  out.n = n;
  out.k = k;
  out.q.resize(static_cast<std::size_t>(n * k));
  out.scale.resize(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    const float* row = w + r * k;
    const std::uint16_t sb = scale_bits(max_abs_of(row, k), 127.0f, "quantize_int8", r);
    out.scale[static_cast<std::size_t>(r)] = sb;
    const float s = half_bits_to_float(sb);
    for (std::int64_t c = 0; c < k; ++c)
      out.q[static_cast<std::size_t>(r * k + c)] = static_cast<std::int8_t>(quantize_one(row[c], s, -127, 127));
  }
  return out;
}

Int4Weights quantize_int4(const float* w, std::int64_t n, std::int64_t k) {
  check_extents("quantize_int4", n, k);
  check_int4_k(k);
  const std::int64_t groups = k / kInt4GroupSize;
  Int4Weights out;
  out.n = n;
  out.k = k;
  out.packed.assign(static_cast<std::size_t>(n * (k / 2)), 0);
  out.scale.resize(static_cast<std::size_t>(n * groups));
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t g = 0; g < groups; ++g) {
      const float* src = w + r * k + g * kInt4GroupSize;
      const std::uint16_t sb = scale_bits(max_abs_of(src, kInt4GroupSize), 7.0f, "quantize_int4", r);
      out.scale[static_cast<std::size_t>(r * groups + g)] = sb;
      const float s = half_bits_to_float(sb);
      for (std::int64_t c = 0; c < kInt4GroupSize; ++c) {
        const auto nibble = static_cast<std::uint8_t>(quantize_one(src[c], s, -8, 7) + 8);
        const std::int64_t col = g * kInt4GroupSize + c;
        std::uint8_t& byte = out.packed[static_cast<std::size_t>(r * (k / 2) + col / 2)];
        byte = static_cast<std::uint8_t>(byte | (col % 2 == 0 ? nibble : nibble << 4));
      }
    }
  }
  return out;
}

std::vector<float> dequantize(const Int8Weights& w) {
  std::vector<float> out(static_cast<std::size_t>(w.n * w.k));
  for (std::int64_t r = 0; r < w.n; ++r) {
    const float s = half_bits_to_float(w.scale[static_cast<std::size_t>(r)]);
    for (std::int64_t c = 0; c < w.k; ++c)
      out[static_cast<std::size_t>(r * w.k + c)] = static_cast<float>(w.q[static_cast<std::size_t>(r * w.k + c)]) * s;
  }
  return out;
}

std::vector<float> dequantize(const Int4Weights& w) {
  const std::int64_t groups = w.k / kInt4GroupSize;
  std::vector<float> out(static_cast<std::size_t>(w.n * w.k));
  for (std::int64_t r = 0; r < w.n; ++r) {
    for (std::int64_t c = 0; c < w.k; ++c) {
      const float s = half_bits_to_float(w.scale[static_cast<std::size_t>(r * groups + c / kInt4GroupSize)]);
      const std::uint8_t byte = w.packed[static_cast<std::size_t>(r * (w.k / 2) + c / 2)];
      const int nibble = c % 2 == 0 ? (byte & 0x0f) : (byte >> 4);
      out[static_cast<std::size_t>(r * w.k + c)] = static_cast<float>(nibble - 8) * s;
    }
  }
  return out;
}

}  // namespace vramfit
