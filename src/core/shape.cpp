#include "core/shape.h"

#include "core/checked.h"

namespace vramfit {

// Extents come from user input (batch, config widths): a product that would wrap is an error naming
// the shape, never a wrapped element count (the description is built only when it overflows).
std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (auto d : dims_) {
    std::int64_t r;
    if (__builtin_mul_overflow(n, d, &r)) checked_mul(n, d, "elements of a tensor of shape " + to_string());
    n = r;
  }
  return n;
}

std::int64_t Shape::numel_per_sample() const {
  std::int64_t n = 1;
  for (std::size_t i = 1; i < dims_.size(); ++i) {
    std::int64_t r;
    if (__builtin_mul_overflow(n, dims_[i], &r)) checked_mul(n, dims_[i], "elements per sample of a tensor of shape " + to_string());
    n = r;
  }
  return n;
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < dims_.size(); ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + "]";
}

}  // namespace vramfit
