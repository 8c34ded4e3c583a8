// graph/planner.h on the zoo's deployable graphs: the acceptance bound (arena within 10% of the
// live-bytes lower bound for resnet50 and vit-b16, fp16, batch 256), batch-affinity on real models,
// and one lower bound derived by hand from the ResNet-50 architecture.
#include <gtest/gtest.h>

#include <cstdio>

#include "graph/passes.h"
#include "graph/planner.h"
#include "models/registry.h"

namespace vramfit {
namespace {

Graph deployable(const std::string& id, Precision p, std::int64_t batch) {
  Graph g = find_model(id).build(1);
  optimize_for_inference(g, p, nullptr);
  g.set_batch(batch);
  return g;
}

constexpr double MiB = 1024.0 * 1024.0;

TEST(PlannerModels, ArenaWithinTenPercentOfLowerBound) {
  for (const char* id : {"resnet50", "vit-b16"}) {
    const Graph g = deployable(id, Precision::fp16, 256);
    const Plan p = plan_memory(g);
    const double ratio = static_cast<double>(p.arena_bytes) / static_cast<double>(p.lower_bound_bytes);
    std::printf("[ planner  ] %-9s fp16 b256: arena %.1f MiB, lower bound %.1f MiB (ratio %.4f), weights %.1f MiB\n",
                id, static_cast<double>(p.arena_bytes) / MiB, static_cast<double>(p.lower_bound_bytes) / MiB, ratio,
                static_cast<double>(p.weight_bytes) / MiB);
    EXPECT_LE(ratio, 1.10) << id;
    EXPECT_GE(ratio, 1.0) << id;
    // In-place (residual conv/linear, elementwise) must be in use: fewer buffers than writers.
    std::size_t writers = 0;
    for (const Node& n : g.nodes()) writers += !is_view(g, n);
    EXPECT_LT(p.buffers.size(), writers + g.inputs().size()) << id;
  }
}

TEST(PlannerModels, AffineInBatchOnRealModels) {
  for (const char* id : {"resnet50", "vit-b16", "resnet18"}) {
    Graph g = deployable(id, Precision::fp16, 1);
    const Plan one = plan_memory(g);
    for (std::int64_t b : {3, 256}) {
      g.set_batch(b);
      const Plan p = plan_memory(g);
      EXPECT_EQ(p.arena_bytes, static_cast<std::uint64_t>(b) * one.arena_bytes) << id << " batch " << b;
      EXPECT_EQ(p.lower_bound_bytes, static_cast<std::uint64_t>(b) * one.lower_bound_bytes) << id << " batch " << b;
      EXPECT_EQ(p.weight_bytes, one.weight_bytes);
    }
  }
}

TEST(PlannerModels, ResNet50LowerBoundByHand) {
  // fp16, per sample. The peak is at layer2.0.conv3 (1×1, 128 → 512 at 28×28): the graph input
  // (3·224²) lives throughout; layer2.0's input (256·56², still needed by the downsample conv, which
  // runs after conv3 and takes conv3's output as its residual), conv2's output (128·28²) being read,
  // and conv3's output (512·28²) being written. All four are multiples of 256 bytes.
  const std::uint64_t per_sample = 2 * (3 * 224 * 224 + 256 * 56 * 56 + 128 * 28 * 28 + 512 * 28 * 28);
  const Plan p = plan_memory(deployable("resnet50", Precision::fp16, 256));
  EXPECT_EQ(p.lower_bound_bytes, 256 * per_sample);
  // fp32 doubles every activation.
  const Plan p32 = plan_memory(deployable("resnet50", Precision::fp32, 256));
  EXPECT_EQ(p32.lower_bound_bytes, 2 * 256 * per_sample);
}

}  // namespace
}  // namespace vramfit
