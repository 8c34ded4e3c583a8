// Whole models on the CUDA backend against the CPU reference (same optimised graph, same weights,
// same input), at small batch — and the PyTorch goldens (tests/golden) through the CUDA backend.
// Tolerances by dtype (DESIGN rule 2): fp32 1e-4 relative L2 (TF32 off; differences are summation
// order over ~50 layers), fp16 1e-2, bf16 3e-2 — against the fp32 CPU reference, so the 16-bit
// numbers include the whole network's rounding.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "backend/cpu/executor.h"
#include "backend/cuda/arena.h"
#include "backend/cuda/device.h"
#include "backend/cuda/executor.h"
#include "core/error.h"
#include "core/rng.h"
#include "graph/passes.h"
#include "graph/planner.h"
#include "gpu_env.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "weights/binding.h"
#include "weights/safetensors.h"

namespace vramfit {
namespace {

using test::GpuTest;

Tensor random_tensor(const Shape& s, std::uint64_t seed) {
  Tensor t(s);
  for (std::size_t i = 0; i < t.data.size(); ++i) t.data[i] = normal01(seed, stream_id("test-input"), i);
  return t;
}

double tolerance(Precision p) { return p == Precision::fp32 ? 1e-4 : p == Precision::fp16 ? 1e-2 : 3e-2; }

// Runs `g` (training-shaped) with `weights` on the GPU at precision p and on the CPU in fp32; returns
// the relative L2 error of the GPU output.
double gpu_vs_cpu(Graph g, TensorMap weights, Precision p, const Tensor& x) {
  Graph ref = g;
  TensorMap ref_w = weights;
  optimize_for_inference(ref, Precision::fp32, &ref_w);
  const std::vector<Tensor> want = cpu::run_graph(ref, ref_w, std::span<const Tensor>(&x, 1));

  optimize_for_inference(g, p, &weights);
  const Plan plan = plan_memory(g);
  cuda::ExecutorOptions opt;
  opt.workspace_bytes = 64ull << 20;
  cuda::Stream stream;
  cuda::DeviceArena arena(cuda::required_arena_bytes(g, plan, opt), UINT64_MAX);
  cuda::Executor ex(g, plan, weights, arena, opt, stream.get());
  ex.set_input(0, x);
  ex.launch(stream.get());
  stream.synchronize();
  const Tensor got = ex.output(0);
  EXPECT_TRUE(all_finite(got.span()));
  EXPECT_EQ(arena.used(), arena.capacity()) << "the executor's regions should fill the planned arena exactly";
  return relative_l2(got.span(), want[0].span());
}

class WholeModel : public GpuTest {};

TEST_F(WholeModel, ResNet50AndViTB16MatchCpuReference) {
  for (const char* id : {"resnet50", "vit-b16"}) {
    const ModelInfo& m = find_model(id);
    Graph g = m.build(2);
    const TensorMap w = random_weights(g, 7);
    const Tensor x = random_tensor(g.value(g.inputs()[0]).shape, 11);
    for (Precision p : {Precision::fp32, Precision::fp16, Precision::bf16}) {
      const double err = gpu_vs_cpu(g, w, p, x);
      std::printf("  %-8s %-4s batch 2: rel L2 vs CPU reference %.3e (%.1f%% of tol %.0e)\n", id,
                  std::string(to_string(p)).c_str(), err, 100.0 * err / tolerance(p), tolerance(p));
      EXPECT_LE(err, tolerance(p)) << id << " " << to_string(p);
    }
  }
}

TEST_F(WholeModel, OddBatchAndSmallImages) {
  // batch 19, resnet at 64×64 and a ViT with head dim 80 (hidden 160, 2 heads) at 48×48.
  ResNetConfig rc = resnet_preset(18);
  rc.image_size = 64;
  Graph r = build_resnet(rc, 19, "resnet18-64");
  ViTConfig vc;
  vc.image_size = 48; vc.patch_size = 16; vc.num_layers = 2; vc.num_heads = 2; vc.hidden_dim = 160; vc.mlp_dim = 320; vc.num_classes = 17;
  Graph v = build_vit(vc, 19, "vit-d80");
  for (Graph* g : {&r, &v}) {
    const TensorMap w = random_weights(*g, 3);
    const Tensor x = random_tensor(g->value(g->inputs()[0]).shape, 5);
    for (Precision p : {Precision::fp32, Precision::fp16}) {
      const double err = gpu_vs_cpu(*g, w, p, x);
      std::printf("  %-12s %-4s batch 19: rel L2 %.3e\n", g->name().c_str(), std::string(to_string(p)).c_str(), err);
      EXPECT_LE(err, tolerance(p)) << g->name() << " " << to_string(p);
    }
  }
}

// The PyTorch goldens (torchvision's own classes) through the CUDA backend.
TEST_F(WholeModel, PyTorchGoldensOnGpu) {
  struct Case { const char* name; Graph graph; };
  ResNetConfig rc;
  rc.block = ResNetBlock::Bottleneck; rc.layers = {1, 1, 1, 1}; rc.num_classes = 10; rc.width_per_group = 16; rc.image_size = 64;
  ViTConfig vc;
  vc.image_size = 32; vc.patch_size = 8; vc.num_layers = 2; vc.num_heads = 4; vc.hidden_dim = 64; vc.mlp_dim = 128; vc.num_classes = 10;
  // head dim 16 is below the CUDA attention kernel's supported set; the ViT golden checks the rest
  // of the pipeline only where the gate allows it.
  Case cases[] = {{"resnet_tiny", build_resnet(rc, 2, "resnet_tiny")}, {"vit_tiny", build_vit(vc, 2, "vit_tiny")}};
  for (auto& c : cases) {
    const std::string dir = std::string(VRAMFIT_SOURCE_DIR) + "/tests/golden/";
    const auto wf = SafetensorsFile::open(dir + c.name + ".weights.safetensors");
    const auto io = SafetensorsFile::open(dir + c.name + ".io.safetensors");
    TensorMap w = bind_checkpoint(c.graph, wf);
    Tensor x = io.read_f32("input");
    const Tensor want = io.read_f32("output");
    optimize_for_inference(c.graph, Precision::fp32, &w);
    const Plan plan = plan_memory(c.graph);
    cuda::ExecutorOptions opt;
    opt.workspace_bytes = 16ull << 20;
    cuda::Stream stream;
    cuda::DeviceArena arena(cuda::required_arena_bytes(c.graph, plan, opt), UINT64_MAX);
    try {
      cuda::Executor ex(c.graph, plan, w, arena, opt, stream.get());
      ex.set_input(0, x);
      ex.launch(stream.get());
      stream.synchronize();
      const double err = relative_l2(ex.output(0).span(), want.span());
      std::printf("  golden %-12s fp32 on GPU vs PyTorch: rel L2 %.3e (tol 1e-4)\n", c.name, err);
      EXPECT_LE(err, 1e-4) << c.name;
    } catch (const Unsupported& e) {
      std::printf("  golden %-12s: %s\n", c.name, e.what());
      EXPECT_STREQ(c.name, "vit_tiny") << e.what();  // only the tiny ViT's head dim 16 may be gated
    }
  }
}

}  // namespace
}  // namespace vramfit
