// core/tensor.h — a host tensor in fp32: the currency of the CPU reference, weights and goldens.
#pragma once

#include <span>
#include <vector>

#include "core/shape.h"

namespace vramfit {

struct Tensor {
  Shape shape;
  std::vector<float> data;

  Tensor() = default;
  explicit Tensor(Shape s) : shape(std::move(s)), data(static_cast<std::size_t>(shape.numel()), 0.0f) {}
  Tensor(Shape s, std::vector<float> d) : shape(std::move(s)), data(std::move(d)) {}

  std::int64_t numel() const { return shape.numel(); }
  float* ptr() { return data.data(); }
  const float* ptr() const { return data.data(); }
  std::span<float> span() { return data; }
  std::span<const float> span() const { return data; }
};

// Relative L2 error ||a-b|| / ||b|| (b is the reference); 0 when both are zero.
double relative_l2(std::span<const float> a, std::span<const float> reference);
// Cosine similarity of two vectors.
double cosine_similarity(std::span<const float> a, std::span<const float> b);
bool all_finite(std::span<const float> a);

}  // namespace vramfit
