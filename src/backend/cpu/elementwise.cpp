// Elementwise ops: the activations (ReLU, exact GELU, SiLU) and Add with an optional activation.
// Transcendentals are evaluated in double and rounded once, so the reference is correctly rounded
// up to the last bit or two of fp32.
#include <cmath>
#include <fmt/format.h>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "core/parallel.h"

namespace vramfit::cpu {

namespace {

// Below this many elements a thread start costs more than the loop.
constexpr std::int64_t kParallelMin = 1 << 16;

template <class Fn>
void for_each_chunk(std::int64_t n, Fn&& fn) {
  if (n < 0) throw InvalidInput(fmt::format("elementwise op: element count {} is negative", n));
  if (n < kParallelMin)
    fn(std::int64_t{0}, n);
  else
    parallel_for(n, fn);
}

}  // namespace

float apply_activation(float x, Activation act) {
  switch (act) {
    case Activation::None: return x;
    case Activation::Relu: return x > 0.0f ? x : 0.0f;
    case Activation::Gelu: {
      // torch.nn.GELU(approximate='none'): x·Φ(x) = ½·x·(1 + erf(x/√2)) = ½·x·erfc(−x/√2); the erfc
      // form keeps full relative accuracy in the far negative tail, where 1 + erf cancels.
      const double v = x;
      return static_cast<float>(0.5 * v * std::erfc(-v * 0.70710678118654752440));
    }
    case Activation::Silu: {
      // x·σ(x) = x / (1 + e^(−x)); for very negative x the exponential overflows to ∞ and the
      // quotient is the correct −0.
      const double v = x;
      return static_cast<float>(v / (1.0 + std::exp(-v)));
    }
  }
  throw InternalError(fmt::format("unknown activation {}", static_cast<int>(act)));
}

void activation(const float* x, float* y, std::int64_t n, Activation act) {
  for_each_chunk(n, [&](std::int64_t b, std::int64_t e) {
    switch (act) {
      case Activation::None:
        for (std::int64_t i = b; i < e; ++i) y[i] = x[i];
        break;
      case Activation::Relu:
        for (std::int64_t i = b; i < e; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
      default:
        for (std::int64_t i = b; i < e; ++i) y[i] = apply_activation(x[i], act);
    }
  });
}

void relu(const float* x, float* y, std::int64_t n) { activation(x, y, n, Activation::Relu); }
void gelu(const float* x, float* y, std::int64_t n) { activation(x, y, n, Activation::Gelu); }
void silu(const float* x, float* y, std::int64_t n) { activation(x, y, n, Activation::Silu); }

void add(const float* a, const float* b, float* y, std::int64_t n, Activation act) {
  for_each_chunk(n, [&](std::int64_t lo, std::int64_t hi) {
    if (act == Activation::None) {
      for (std::int64_t i = lo; i < hi; ++i) y[i] = a[i] + b[i];
    } else {
      for (std::int64_t i = lo; i < hi; ++i) y[i] = apply_activation(a[i] + b[i], act);
    }
  });
}

}  // namespace vramfit::cpu
