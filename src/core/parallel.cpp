#include "core/parallel.h"

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace vramfit {

unsigned worker_threads() {
  if (const char* env = std::getenv("VRAMFIT_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return static_cast<unsigned>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

void parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (n <= 0) return;
  const auto threads = static_cast<std::int64_t>(std::min<unsigned>(worker_threads(), 64));
  if (threads <= 1 || n == 1) {
    fn(0, n);
    return;
  }
  const std::int64_t parts = std::min(n, threads * 4);
  std::vector<std::thread> pool;
  std::exception_ptr first_error;
  std::mutex mu;
  std::int64_t next = 0;
  auto worker = [&] {
    for (;;) {
      std::int64_t p;
      {
        std::lock_guard lock(mu);
        if (next >= parts || first_error) return;
        p = next++;
      }
      const std::int64_t b = n * p / parts, e = n * (p + 1) / parts;
      try {
        fn(b, e);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!first_error) first_error = std::current_exception();
      }
    }
  };
  for (std::int64_t t = 0; t < std::min(threads, parts); ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace vramfit
