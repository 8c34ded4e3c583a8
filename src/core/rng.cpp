#include "core/rng.h"

#include <cmath>
#include <numbers>

namespace vramfit {

static std::uint64_t mix(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return splitmix64(splitmix64(seed ^ splitmix64(stream)) + index);
}

float uniform01(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return static_cast<float>(mix(seed, stream, index) >> 40) * (1.0f / 16777216.0f);
}

float normal01(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  const std::uint64_t r = mix(seed, stream, index);
  // two 32-bit uniforms in (0,1]
  const double u1 = (static_cast<double>(r >> 32) + 1.0) / 4294967296.0;
  const double u2 = static_cast<double>(r & 0xffffffffu) / 4294967296.0;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

}  // namespace vramfit
