// measure/compare.h — how close a reduced-precision output is to the fp32 one (profile fidelity).
#pragma once

#include "core/tensor.h"

namespace vramfit::measure {

// Rows of the output (one per sample, the first dimension) whose argmax is the same in `a` and
// `ref`, as a fraction; 0 when the shapes differ or are empty. Meaningful for a classifier's logits.
double top1_agreement(const Tensor& a, const Tensor& ref);

}  // namespace vramfit::measure
