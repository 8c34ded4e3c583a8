// core/shape.h — tensor shapes: a short list of non-negative extents, outermost first.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace vramfit {

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  explicit Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}

  std::size_t rank() const { return dims_.size(); }
  std::int64_t operator[](std::size_t i) const { return dims_.at(i); }
  std::int64_t& operator[](std::size_t i) { return dims_.at(i); }
  std::int64_t back() const { return dims_.back(); }
  const std::vector<std::int64_t>& dims() const { return dims_; }
  std::int64_t numel() const;
  // Product of all extents but the first (the batch).
  std::int64_t numel_per_sample() const;
  std::string to_string() const;  // "[1, 3, 224, 224]"
  bool operator==(const Shape&) const = default;

 private:
  std::vector<std::int64_t> dims_;
};

}  // namespace vramfit
