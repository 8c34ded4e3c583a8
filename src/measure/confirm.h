// measure/confirm.h — the one search for a largest size that fits: a max batch, a max context, a
// max number of streams. `vramfit profile`, `vramfit llm` and their workers all confirm a planner's
// maximum with it (DESIGN: predicted, then confirmed by running it and one more).
//
// The prediction is exact for our engine by design (predict/memory.h), so confirming it costs two
// runs; when the GPU disagrees, the search finds the truth near the prediction in a few more. A run is
// a ProbeFn supplied by the caller (a worker process, an in-process session, a fake in tests); nothing
// here knows CUDA.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/outcome.h"

namespace vramfit::measure {

// One run at `size` (a batch, a context, a number of streams): ok (it fits), oom (it does not), limit
// (past an engine limit: does not fit either), unsupported or error (the search cannot go on).
struct Probe {
  std::int64_t size = 0;
  Outcome outcome = Outcome::ok;
  std::string reason;
};

struct MaxSearch {
  Outcome outcome = Outcome::ok;  // ok (found may be 0: not even size 1 fits) | unsupported | error
  std::string reason;
  std::int64_t predicted = 0;  // the planner's answer, capped at the ceiling
  std::int64_t found = 0;      // what the GPU confirmed or the search found
  std::int64_t ceiling = 0;
  bool prediction_confirmed = false;
  bool capped = false;         // found is the ceiling (more might fit)
  std::vector<Probe> probes;   // every size tried, in order
};

using ProbeFn = std::function<Probe(std::int64_t size)>;

// Confirms `predicted` with probe(predicted) ok and probe(predicted + 1) oom (only the first when
// predicted is the ceiling; only probe(1) oom when predicted is 0). Otherwise searches: exponential
// steps away from the prediction (down while sizes do not fit, up while they do, bounded by 1 and the
// ceiling), then binary between the largest that fits and the smallest that does not. A probe
// answering unsupported or error ends the search with that outcome. InvalidInput for a ceiling < 1.
MaxSearch confirm_max(std::int64_t predicted, std::int64_t ceiling, const ProbeFn& probe);

}  // namespace vramfit::measure
