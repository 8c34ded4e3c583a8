#include "measure/compare.h"

#include <algorithm>

namespace vramfit::measure {

double top1_agreement(const Tensor& a, const Tensor& ref) {
  const std::int64_t rows = ref.shape.rank() > 0 ? ref.shape[0] : 1;
  const std::int64_t cols = rows > 0 ? ref.numel() / rows : 0;
  if (rows <= 0 || cols <= 0 || a.numel() != ref.numel()) return 0.0;
  std::int64_t same = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* pa = a.ptr() + r * cols;
    const float* pr = ref.ptr() + r * cols;
    if (std::max_element(pa, pa + cols) - pa == std::max_element(pr, pr + cols) - pr) ++same;
  }
  return static_cast<double>(same) / static_cast<double>(rows);
}

}  // namespace vramfit::measure
