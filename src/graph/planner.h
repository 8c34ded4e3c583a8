// graph/planner.h — where every activation lives in the one activation arena.
//
// In:  an optimised graph (passes.h). Out: a Plan — an offset for each input/activation value, the
// arena size, and the lower bound (the most bytes that must be live at one moment; no layout can do
// better). The same Plan is what `vramfit plan` prints and what the CUDA backend allocates, so
// predicted and measured VRAM agree by construction.
//
// Method:
//   * Buffers. A value that is a view of another (Flatten; PatchFlatten of NHWC), or that a node
//     writes in place over an input that dies there (graph.h in_place_input), shares that input's
//     buffer. Graph inputs are never overwritten (each timed replay reads the same input) and live
//     for the whole run, as do outputs. In place needs: the input is an activation of the same dtype
//     and size, no value stored in its buffer is read later or is an output, and — for a fused
//     residual conv/linear, which reads its main input while writing — no other input of the node
//     lives in that buffer (elementwise ops read element i before writing it, so for them it may).
//   * Liveness. A buffer is live from the node that first writes it to the last node that reads any
//     of its values (node indices in execution order; inputs from -1, outputs to the end).
//   * Batch-affine sizing. Every activation has batch as dim 0, so sizes are planned per sample,
//     rounded up to `alignment`, and scaled by the batch: offsets and the arena are exactly
//     batch × (per-sample plan). Memory is therefore affine in batch (here linear: a = 0), which lets
//     the max-batch search predict instead of probe.
//   * Offsets. Greedy by size (Pisarchyk & Lee, "Efficient Memory Management for Deep Neural Net
//     Inference", 2020, §4.3): buffers in decreasing size, each placed in a gap that does not overlap
//     any already placed buffer whose lifetime intersects its own. assign_offsets runs that greedy
//     placement under four orders (size, lifetime length, first use, size × lifetime; ties by
//     index) and two gap rules (smallest gap that fits, as in the paper; lowest offset) and keeps the
//     smallest arena, the first such on a tie — deterministic, and per sample, so batch-affine.
//     On resnet50 and vit-b16 (fp16, batch 256) the arena equals the lower bound.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "graph/graph.h"

namespace vramfit {

constexpr std::uint64_t kNoOffset = UINT64_MAX;

struct LiveRange {
  std::uint64_t bytes = 0;
  std::int32_t first = 0;  // first step live (inclusive)
  std::int32_t last = 0;   // last step live (inclusive)
};

struct PlannedBuffer {
  LiveRange range;            // bytes at the plan's batch
  std::uint64_t offset = 0;   // at the plan's batch
  std::vector<ValueId> values;  // the values stored here (first is the writer of the bytes)
};

struct Plan {
  std::int64_t batch = 1;
  std::uint64_t alignment = 256;
  std::vector<PlannedBuffer> buffers;
  std::vector<std::int32_t> value_buffer;  // per value id; -1 for parameters
  std::uint64_t arena_bytes = 0;           // = batch · arena_bytes_per_sample
  std::uint64_t arena_bytes_per_sample = 0;
  std::uint64_t lower_bound_bytes = 0;
  std::uint64_t weight_bytes = 0;          // parameters at their dtypes, each aligned (stored apart from the arena)

  std::uint64_t offset_of(ValueId v) const;  // kNoOffset for parameters
};

struct PlannerOptions {
  std::uint64_t alignment = 256;  // bytes per sample; cuDNN and cuBLASLt want ≥ 16, 256 is safe
  bool in_place = true;
};

Plan plan_memory(const Graph& g, const PlannerOptions& opt = {});

// The building blocks, exposed for property tests and the LLM planner.
// Offsets for buffers (greedy, best of the orders above); sizes are rounded up to `alignment`, so
// every offset is a multiple of it. Returns the arena size in *arena_bytes (may be null).
std::vector<std::uint64_t> assign_offsets(std::span<const LiveRange> buffers, std::uint64_t alignment,
                                          std::uint64_t* arena_bytes);
// max over steps of the sum of live buffer sizes.
std::uint64_t live_lower_bound(std::span<const LiveRange> buffers);

}  // namespace vramfit
