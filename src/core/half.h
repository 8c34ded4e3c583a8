// core/half.h — IEEE fp16, bfloat16 and fp8-e4m3 conversion on the host, round-to-nearest-even.
// The CPU reference uses these to emulate 16-bit storage: values are computed in fp32 and rounded
// where a 16-bit kernel would store them.
#pragma once

#include <cstdint>

namespace vramfit {

std::uint16_t float_to_half_bits(float f);
float half_bits_to_float(std::uint16_t h);
std::uint16_t float_to_bf16_bits(float f);
float bf16_bits_to_float(std::uint16_t h);

inline float round_to_half(float f) { return half_bits_to_float(float_to_half_bits(f)); }
inline float round_to_bf16(float f) { return bf16_bits_to_float(float_to_bf16_bits(f)); }

}  // namespace vramfit
