#include "core/half.h"

#include <bit>
#include <cmath>

namespace vramfit {

// fp16 layout: 1 sign, 5 exponent (bias 15), 10 mantissa (IEEE 754-2008 binary16).
std::uint16_t float_to_half_bits(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // inf or nan
    return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {  // subnormal in half (or zero): scale to 2^-24 units, round-even
    const float a = std::bit_cast<float>(abs);
    const float scaled = a * 16777216.0f;  // 2^24; exact
    const auto q = static_cast<std::uint32_t>(std::nearbyint(scaled));  // FE_TONEAREST default
    return static_cast<std::uint16_t>(sign | q);
  }
  // normal: rebias exponent, round mantissa from 23 to 10 bits (nearest even)
  std::uint32_t m = abs + 0xc8000000u;  // exponent -= 112 (127-15) << 23
  const std::uint32_t round_bit = 0x1000u, sticky = 0x0fffu;
  std::uint32_t h = m >> 13;
  if ((m & round_bit) && ((m & sticky) || (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fu;
  const std::uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    const float v = std::ldexp(static_cast<float>(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
}

std::uint16_t float_to_bf16_bits(float f) {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // nan
  x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even
  return static_cast<std::uint16_t>(x >> 16);
}

float bf16_bits_to_float(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16);
}

}  // namespace vramfit
