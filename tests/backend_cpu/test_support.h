// Shared helpers of the CPU reference tests: seeded random data (never zeros) and a tolerance check
// that reports how much of the allowed error was used (llm.c's validate_result habit).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace vramfit::cpu::test {

// n values N(0, 1)·scale + offset, deterministic in (seed, n).
inline std::vector<float> random_vector(std::int64_t n, std::uint64_t seed, float scale = 1.0f,
                                        float offset = 0.0f) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = offset + scale * normal01(seed, 0x5eed, static_cast<std::uint64_t>(i));
  return v;
}

// |actual − expected| ≤ rtol · (|expected| + rms(expected)) for every element: relative where values
// are large, against the tensor's scale where a sum cancelled to near zero. Returns the largest
// fraction of the allowance used (≤ 1 passes).
inline double expect_close(const std::vector<float>& actual, const std::vector<double>& expected, double rtol,
                           const std::string& what) {
  EXPECT_EQ(actual.size(), expected.size()) << what;
  if (actual.size() != expected.size()) return 1e30;
  double sq = 0.0;
  for (double e : expected) sq += e * e;
  const double rms = expected.empty() ? 0.0 : std::sqrt(sq / static_cast<double>(expected.size()));
  double worst = 0.0;
  std::size_t worst_at = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double allowed = rtol * (std::abs(expected[i]) + rms) + 1e-30;
    const double used = std::abs(static_cast<double>(actual[i]) - expected[i]) / allowed;
    if (!(used <= worst)) {  // also catches NaN
      worst = std::isnan(used) ? 1e30 : used;
      worst_at = i;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": element " << worst_at << " is " << actual[worst_at] << ", expected "
                        << expected[worst_at] << " (rtol " << rtol << ")";
  return worst;
}

// Exact comparison with a readable failure message.
inline void expect_equal(const std::vector<float>& actual, const std::vector<float>& expected,
                         const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < actual.size(); ++i)
    ASSERT_EQ(actual[i], expected[i]) << what << ": element " << i;
}

inline std::vector<float> to_float(const std::vector<double>& v) { return {v.begin(), v.end()}; }

}  // namespace vramfit::cpu::test
