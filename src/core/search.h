// core/search.h — the largest n in [1, ceiling] for which a monotone test holds (what fits a budget
// grows no more once it fails): doubling from 1, then bisection between the last pass and the first
// failure. The planners' largest batch (LLM contexts, training) use it; the caller has already
// checked that n = 1 passes.
#pragma once

#include <cstdint>

namespace vramfit {

struct LargestFit {
  std::int64_t n = 1;
  bool capped = false;  // the ceiling itself passed (a larger n might too)
};

// Requires fits(1); fits must be monotone (true up to some n, false after).
template <class Fits>
LargestFit largest_fit(std::int64_t ceiling, Fits&& fits) {
  std::int64_t lo = 1, hi = 2;  // lo passes
  while (hi <= ceiling && fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  if (hi > ceiling) {
    if (fits(ceiling)) return {ceiling, true};
    hi = ceiling;
  }
  while (hi - lo > 1) {  // invariant: lo passes, hi fails
    const std::int64_t mid = lo + (hi - lo) / 2;
    (fits(mid) ? lo : hi) = mid;
  }
  return {lo, false};
}

}  // namespace vramfit
