// core/tensor_map.h — named host tensors: a model's weights keyed by parameter name (the
// checkpoint's state-dict name, e.g. "layer1.0.conv1.weight").
#pragma once

#include <map>
#include <string>

#include "core/tensor.h"

namespace vramfit {

using TensorMap = std::map<std::string, Tensor, std::less<>>;

}  // namespace vramfit
