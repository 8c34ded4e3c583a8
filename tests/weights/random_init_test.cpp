// Seeded random weights: bit-exact determinism in (seed, name, index) independent of threads and of
// the rest of the graph, the documented scale per role, and speed on full-size models.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/rng.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "weights/binding.h"

namespace vramfit {
namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape == b.shape && std::memcmp(a.ptr(), b.ptr(), a.data.size() * sizeof(float)) == 0;
}

struct Moments {
  double mean = 0.0, stddev = 0.0, min = 0.0;
};

Moments moments(const Tensor& t) {
  double s = 0.0, s2 = 0.0, mn = t.data.at(0);
  for (float v : t.data) {
    s += v;
    s2 += static_cast<double>(v) * v;
    mn = std::min(mn, static_cast<double>(v));
  }
  const double n = static_cast<double>(t.data.size());
  return {s / n, std::sqrt(std::max(0.0, s2 / n - (s / n) * (s / n))), mn};
}

Graph small_resnet() {
  ResNetConfig c = resnet_preset(18);
  c.image_size = 64;
  c.num_classes = 19;
  return build_resnet(c, 1);
}

TEST(RandomWeights, EveryParameterWithItsShape) {
  const Graph g = small_resnet();
  const TensorMap w = random_weights(g, 7);
  EXPECT_EQ(w.size(), g.params().size());
  for (ValueId id : g.params()) {
    const Value& v = g.value(id);
    ASSERT_TRUE(w.count(v.name)) << v.name;
    EXPECT_EQ(w.at(v.name).shape, v.shape) << v.name;
    EXPECT_TRUE(all_finite(w.at(v.name).span())) << v.name;
    const Moments m = moments(w.at(v.name));
    EXPECT_GT(m.stddev, 0.0) << v.name << " is constant";
  }
}

TEST(RandomWeights, DeterministicInSeedNameAndIndex) {
  const Graph g = small_resnet();
  const TensorMap a = random_weights(g, 7);
  const TensorMap b = random_weights(g, 7);
  const TensorMap c = random_weights(g, 8);
  for (const auto& [name, t] : a) {
    EXPECT_TRUE(same_bits(t, b.at(name))) << name;
    EXPECT_FALSE(same_bits(t, c.at(name))) << name;
  }
  // Element i of a tensor is the documented function of (seed, name, i).
  const Tensor& fc = a.at("fc.weight");  // [19, 512], linear: std 1/√512
  for (std::size_t i : {std::size_t{0}, std::size_t{7}, std::size_t{197}, fc.data.size() - 1})
    EXPECT_EQ(fc.data[i], static_cast<float>(1.0 / std::sqrt(512.0)) * normal01(7, stream_id("fc.weight"), i)) << i;
  // Keyed by name, not by position: the same parameter in another graph has the same bits.
  ResNetConfig c50 = resnet_preset(50);
  c50.image_size = 64;
  const TensorMap r50 = random_weights(build_resnet(c50, 1), 7);
  EXPECT_TRUE(same_bits(a.at("conv1.weight"), r50.at("conv1.weight")));
  EXPECT_TRUE(same_bits(a.at("bn1.running_var"), r50.at("bn1.running_var")));
  // Two tensors of one graph are not copies of each other.
  EXPECT_FALSE(same_bits(a.at("layer1.0.bn1.weight"), a.at("layer1.0.bn2.weight")));
}

TEST(RandomWeights, IndependentOfThreadCount) {
  const Graph g = small_resnet();
  const char* old = std::getenv("VRAMFIT_THREADS");
  const std::string saved = old ? old : "";
  setenv("VRAMFIT_THREADS", "1", 1);
  const TensorMap one = random_weights(g, 19);
  setenv("VRAMFIT_THREADS", "7", 1);
  const TensorMap seven = random_weights(g, 19);
  if (old) setenv("VRAMFIT_THREADS", saved.c_str(), 1);
  else unsetenv("VRAMFIT_THREADS");
  for (const auto& [name, t] : one) EXPECT_TRUE(same_bits(t, seven.at(name))) << name;
}

TEST(RandomWeights, ScaleByRole) {
  ResNetConfig cfg = resnet_preset(50);
  cfg.image_size = 64;
  const Graph g = build_resnet(cfg, 1);
  const TensorMap w = random_weights(g, 3);
  // Conv: He, std √(2/fan_in); layer3.0.conv2 is [256, 256, 3, 3], fan_in 2304, 589,824 draws.
  Moments m = moments(w.at("layer3.0.conv2.weight"));
  EXPECT_NEAR(m.stddev, std::sqrt(2.0 / 2304.0), 0.01 * std::sqrt(2.0 / 2304.0));
  EXPECT_NEAR(m.mean, 0.0, 0.01 * m.stddev);
  // Linear: std √(1/fan_in).
  m = moments(w.at("fc.weight"));
  EXPECT_NEAR(m.stddev, std::sqrt(1.0 / 2048.0), 0.01 * std::sqrt(1.0 / 2048.0));
  // Bias small.
  m = moments(w.at("fc.bias"));
  EXPECT_NEAR(m.stddev, 0.01, 0.001);
  // BN: gamma ≈ 1 ± 0.1, beta and mean ~0.05, variance ≥ 1 (never amplifies).
  m = moments(w.at("layer3.0.bn2.weight"));
  EXPECT_NEAR(m.mean, 1.0, 0.02);
  EXPECT_NEAR(m.stddev, 0.1, 0.02);
  m = moments(w.at("layer4.0.downsample.1.bias"));
  EXPECT_NEAR(m.stddev, 0.05, 0.005);
  m = moments(w.at("layer4.0.downsample.1.running_mean"));
  EXPECT_NEAR(m.stddev, 0.05, 0.005);
  for (ValueId id : g.params()) {
    const Value& v = g.value(id);
    if (v.role != ParamRole::BnVar) continue;
    EXPECT_GE(moments(w.at(v.name)).min, 1.0) << v.name;
  }
  // The last BN of a residual branch follows the builder's init_scale hint.
  const float hint = g.value(*g.find_value("layer3.0.bn3.weight")).init_scale;
  ASSERT_LT(hint, 1.0f);
  m = moments(w.at("layer3.0.bn3.weight"));
  EXPECT_NEAR(m.mean, hint, 0.02 * hint);
  EXPECT_NEAR(m.stddev, 0.1 * hint, 0.02 * hint);
}

TEST(RandomWeights, ViTEmbeddingsAndProjections) {
  ViTConfig c = vit_b16();
  c.image_size = 32;
  c.patch_size = 8;
  c.num_layers = 2;
  const Graph g = build_vit(c, 1);
  const TensorMap w = random_weights(g, 11);
  EXPECT_NEAR(moments(w.at("class_token")).stddev, 0.02, 0.003);
  EXPECT_NEAR(moments(w.at("encoder.pos_embedding")).stddev, 0.02, 0.002);
  const Moments in_proj = moments(w.at("encoder.layers.encoder_layer_1.self_attention.in_proj_weight"));
  EXPECT_NEAR(in_proj.stddev, std::sqrt(1.0 / 768.0), 0.01 * std::sqrt(1.0 / 768.0));
  const Moments ln = moments(w.at("encoder.layers.encoder_layer_0.ln_2.weight"));
  EXPECT_NEAR(ln.mean, 1.0, 0.02);
  // Patch embedding is a conv: fan_in 3·8·8.
  EXPECT_NEAR(moments(w.at("conv_proj.weight")).stddev, std::sqrt(2.0 / 192.0), 0.03 * std::sqrt(2.0 / 192.0));
}

// Speed is a benchmark matter (bench/), not a unit-test assertion: this prints the time only.
TEST(RandomWeights, FullSizeModelsGetEveryParameter) {
  for (const Graph& g : {build_resnet(resnet_preset(50), 1, "resnet50"), build_vit(vit_b16(), 1, "vit-b16")}) {
    const auto t0 = std::chrono::steady_clock::now();
    const TensorMap w = random_weights(g, 1);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::size_t n = 0;
    for (const auto& [name, t] : w) n += t.data.size();
    std::printf("[ timing   ] random_weights(%s): %zu values in %.3f s\n", g.name().c_str(), n, s);
    std::size_t expected = 0;
    for (ValueId p : g.params()) expected += static_cast<std::size_t>(g.value(p).shape.numel());
    EXPECT_EQ(n, expected) << g.name();
    EXPECT_EQ(w.size(), g.params().size()) << g.name();
  }
}

}  // namespace
}  // namespace vramfit
