// measure/confirm.cpp — confirm a predicted maximum, or search for the real one.
#include "measure/confirm.h"

#include <algorithm>
#include <fmt/format.h>
#include <optional>

#include "core/error.h"

namespace vramfit::measure {

namespace {

// "limit": past the engine's tensor-size limit (does not fit, like oom; see profile_model_precision).
bool terminal(const Probe& p) { return p.outcome != Outcome::ok && p.outcome != Outcome::oom && p.outcome != Outcome::limit; }

}  // namespace

MaxSearch confirm_max(std::int64_t predicted, std::int64_t ceiling, const ProbeFn& probe) {
  if (ceiling < 1) throw InvalidInput(fmt::format("--max-batch must be ≥ 1 (got {})", ceiling));
  MaxSearch r;
  r.ceiling = ceiling;
  r.predicted = std::clamp<std::int64_t>(predicted, 0, ceiling);
  // Returns false when the probe ended the search (unsupported or error).
  auto try_batch = [&](std::int64_t b, bool& fits) {
    Probe p = probe(b);
    p.size = b;
    r.probes.push_back(p);
    if (terminal(p)) {
      r.outcome = p.outcome;
      r.reason = p.reason;  // the caller names the size (batch, context, streams): probes.back().size
      return false;
    }
    fits = p.outcome == Outcome::ok;
    return true;
  };

  std::int64_t good = 0;                 // largest batch known to fit (0: none)
  std::optional<std::int64_t> bad;       // smallest batch known not to fit
  bool fits = false;
  if (r.predicted >= 1) {
    if (!try_batch(r.predicted, fits)) return r;
    if (fits) {
      good = r.predicted;
      if (good == ceiling) {
        r.prediction_confirmed = true;
        r.found = good;
        r.capped = true;
        return r;
      }
      if (!try_batch(good + 1, fits)) return r;
      if (!fits) {
        r.prediction_confirmed = true;
        r.found = good;
        return r;
      }
      good += 1;
    } else {
      bad = r.predicted;
    }
  } else {
    if (!try_batch(1, fits)) return r;
    if (!fits) {
      r.prediction_confirmed = true;
      r.found = 0;
      return r;
    }
    good = 1;
  }

  // The prediction was wrong. The planner is exact by design, so the truth is usually near it:
  // exponential steps away from the prediction — down from a batch that did not fit until one fits
  // (or batch 1 does not), up from one that fitted until one does not (or the ceiling) — …
  std::int64_t step = 1;
  while (bad && good == 0 && *bad > 1) {
    const std::int64_t t = std::max<std::int64_t>(1, *bad - step);
    step *= 2;
    if (!try_batch(t, fits)) return r;
    if (fits) good = t;
    else bad = t;  // at t == 1: not even batch 1 fits
  }
  step = 1;
  while (!bad) {
    if (good >= ceiling) break;
    step *= 2;
    const std::int64_t t = std::min(ceiling, good + step);
    if (!try_batch(t, fits)) return r;
    if (fits) good = t;
    else bad = t;
  }
  // …then binary search between the largest that fits and the smallest that does not.
  while (bad && *bad - good > 1) {
    const std::int64_t mid = good + (*bad - good) / 2;
    if (!try_batch(mid, fits)) return r;
    if (fits) good = mid;
    else bad = mid;
  }
  r.found = good;
  r.capped = !bad && good == ceiling;
  r.prediction_confirmed = false;
  return r;
}

}  // namespace vramfit::measure
