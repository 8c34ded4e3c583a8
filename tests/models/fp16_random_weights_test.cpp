// Random weights keep every activation finite in fp16 through whole networks: the CPU reference runs
// each model with weights/random_init and Rounding::F16 (every node's output rounded to fp16, so an
// overflow anywhere becomes inf). Every node's output is made a graph output so the largest
// activation of the whole run is seen, not only the logits. Small inputs keep it quick.
#include <gtest/gtest.h>

#include <algorithm>
#include <fmt/format.h>
#include <cmath>
#include <vector>

#include "backend/cpu/executor.h"
#include "core/rng.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "models/yolo11_pose.h"
#include "weights/binding.h"

namespace vramfit {
namespace {

constexpr float kF16Max = 65504.0f;

struct RunStats {
  double logits_rms = 0.0;
  float max_abs_activation = 0.0f;
  std::string max_at;
};

RunStats run_f16(Graph g, std::uint64_t seed) {
  const ValueId logits = g.outputs().at(0);
  for (const auto& n : g.nodes())
    if (n.output != logits) g.mark_output(n.output);
  const TensorMap weights = random_weights(g, seed);
  Tensor x(g.value(g.inputs().at(0)).shape);
  for (std::size_t i = 0; i < x.data.size(); ++i) x.data[i] = normal01(seed + 1, stream_id("input"), i);
  const std::vector<Tensor> in{x};
  const std::vector<Tensor> out = cpu::run_graph(g, weights, in, cpu::RunOptions{cpu::Rounding::F16});
  EXPECT_EQ(out.size(), g.outputs().size());

  RunStats s;
  for (std::size_t o = 0; o < out.size(); ++o) {
    const std::string& name = g.value(g.outputs()[o]).name;
    EXPECT_TRUE(all_finite(out[o].span())) << g.name() << ": non-finite fp16 activation at " << name;
    for (float v : out[o].data)
      if (std::fabs(v) > s.max_abs_activation) {
        s.max_abs_activation = std::fabs(v);
        s.max_at = name;
      }
  }
  const Tensor& y = out.at(0);
  double sq = 0.0;
  for (float v : y.data) sq += static_cast<double>(v) * v;
  s.logits_rms = std::sqrt(sq / static_cast<double>(y.data.size()));
  const auto [lo, hi] = std::minmax_element(y.data.begin(), y.data.end());
  EXPECT_LT(*lo, *hi) << g.name() << ": all logits equal";
  std::printf("[ fp16     ] %s: logits RMS %.4g, largest |activation| %.4g at %s (fp16 max 65504)\n",
              g.name().c_str(), s.logits_rms, static_cast<double>(s.max_abs_activation), s.max_at.c_str());
  return s;
}

void expect_healthy(const RunStats& s) {
  // O(1) logits, and headroom below fp16's largest value: a 16× margin means the model is not one
  // unlucky seed away from overflowing.
  EXPECT_GT(s.logits_rms, 1e-2);
  EXPECT_LT(s.logits_rms, 1e2);
  EXPECT_LT(s.max_abs_activation, kF16Max / 16.0f) << "at " << s.max_at;
}

TEST(RandomWeightsF16, ResNet50StaysFinite) {
  ResNetConfig c = resnet_preset(50);
  c.image_size = 64;
  expect_healthy(run_f16(build_resnet(c, 1, "resnet50@64"), 7));
}

TEST(RandomWeightsF16, ResNet152StaysFinite) {
  ResNetConfig c = resnet_preset(152);
  c.image_size = 64;
  expect_healthy(run_f16(build_resnet(c, 1, "resnet152@64"), 19));
}

TEST(RandomWeightsF16, ViTB16StaysFinite) {
  ViTConfig c = vit_b16();
  c.image_size = 64;  // 16 patches + class token
  expect_healthy(run_f16(build_vit(c, 1, "vit-b16@64"), 197));
}

TEST(RandomWeightsF16, Yolo11PoseStaysFinite) {
  // The output is decoded boxes and keypoints in pixels, not logits: only the headroom is checked.
  for (char scale : {'n', 'x'}) {
    Yolo11PoseConfig c = yolo11_pose_preset(scale);
    c.image_h = c.image_w = 64;
    const RunStats s = run_f16(build_yolo11_pose(c, 1, fmt::format("yolo11{}-pose@64", scale)), 640);
    EXPECT_LT(s.max_abs_activation, kF16Max / 16.0f) << "at " << s.max_at;
  }
}

}  // namespace
}  // namespace vramfit
