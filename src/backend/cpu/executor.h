// backend/cpu/executor.h — the CPU reference: runs a graph node by node in fp32 with plain, exact
// loops (threads over independent outputs). It is the ground truth the CUDA kernels and whole models
// are tested against, so it favours obviously-right code over speed.
//
// 16-bit emulation: with Rounding::F16 / BF16, weights, inputs and every node's output are rounded
// to that type (values computed in fp32 in between, as a tensor-core kernel with fp32 accumulation
// would). Layout is ignored: the CPU works on logical shapes (NCHW, [B, S, E]).
#pragma once

#include <span>
#include <vector>

#include "core/tensor.h"
#include "core/tensor_map.h"
#include "graph/graph.h"

namespace vramfit::cpu {

enum class Rounding { None, F16, BF16 };

struct RunOptions {
  Rounding rounding = Rounding::None;
};

// Rounds every value to the nearest fp16 / bf16 (ties to even, core/half.h) and back; None leaves
// them unchanged. What the executor applies to weights, inputs and node outputs.
void round_in_place(std::span<float> values, Rounding r);

// Runs `g` (optimised or not) on `inputs` (one per graph input, in graph order, shapes equal to the
// graph's); returns one tensor per output. Parameters are looked up by value name in `weights`; a
// missing one, or one whose element count differs from the graph's shape, is InvalidInput naming it
// (a different shape of the same count, e.g. [E] for [1, 1, E], is accepted). Each activation is freed
// after its last reader, so peak host memory is about the planner's live set, not the whole graph.
std::vector<Tensor> run_graph(const Graph& g, const TensorMap& weights, std::span<const Tensor> inputs,
                              const RunOptions& opt = {});

}  // namespace vramfit::cpu
