// weights/binding.h — weights for a graph's parameters: seeded random ones, or a checkpoint bound
// by name. Our builders use torchvision's state-dict names for parameters, so binding a torchvision
// checkpoint is a by-name lookup that checks shapes; buffers that are not graph parameters
// (num_batches_tracked) are ignored, and anything missing or misshapen is an error naming the file
// and the tensor.
#pragma once

#include <cstdint>

#include "core/tensor_map.h"
#include "graph/graph.h"
#include "weights/safetensors.h"

namespace vramfit {

// Random weights for every parameter of `g` (call before fold_batchnorm: BN statistics included).
// Deterministic in (seed, parameter name, index). Scaled by role so that activations stay O(1) and
// finite in fp16 through the whole network: conv/linear weights ~ N(0, 1/fan_in) (×2 before ReLU),
// norm scales 1 ± small (× the builder's init_scale hint), shifts and biases small, BN variance ~1.
TensorMap random_weights(const Graph& g, std::uint64_t seed);

// Bind a checkpoint by name; InvalidInput on a missing tensor or a shape mismatch.
TensorMap bind_checkpoint(const Graph& g, const SafetensorsFile& file);

}  // namespace vramfit
