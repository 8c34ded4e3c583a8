// core/parallel.h — a plain parallel for over [0, n) on std::threads (the CPU reference's only
// concurrency; results do not depend on the thread count because each index writes its own output).
#pragma once

#include <cstdint>
#include <functional>

namespace vramfit {

// Calls fn(begin, end) on disjoint chunks covering [0, n). Threads: VRAMFIT_THREADS or hardware.
void parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn);
unsigned worker_threads();

}  // namespace vramfit
