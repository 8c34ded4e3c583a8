// The graph-level training step (backend/cpu/train.h) on small ResNet and ViT graphs from the real
// builders: the loss's gradient with respect to the input and to parameters of every kind (conv,
// batch norm, linear, layer norm, the packed attention projection, the class token, the positional
// embedding) against central differences of the whole forward in training mode; and a few optimizer
// steps that lower the loss on a fixed batch.
#include "backend/cpu/train.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "test_support.h"
#include "weights/binding.h"

namespace vramfit::cpu {
namespace {

using test::random_vector;

double loss_of(const Graph& g, const TensorMap& w, const Tensor& x, const std::vector<std::int64_t>& y) { return training_loss(g, w, x, y); }

// The analytic gradient of `name` (or of the input, name empty) against central differences at a
// few positions spread over the tensor. The step is small where ReLU and max-pool kinks lie upstream
// (a step across a kink is not the derivative).
void check_gradient(const Graph& g, TensorMap& w, Tensor x, const std::vector<std::int64_t>& y, const std::string& name, double h = 1e-2,
                    std::size_t positions = 7) {
  const LossAndGradients r = loss_and_gradients(g, w, x, y, false);
  const Tensor& analytic = name.empty() ? r.input_gradient : r.gradients.at(name);
  std::vector<float>& values = name.empty() ? x.data : w.at(name).data;
  ASSERT_EQ(analytic.data.size(), values.size()) << name;
  double scale = 0;
  for (float v : analytic.data) scale = std::max(scale, static_cast<double>(std::abs(v)));
  const std::size_t n = values.size(), step = std::max<std::size_t>(1, n / positions);
  for (std::size_t i = 0; i < n; i += step) {
    const float keep = values[i];
    values[i] = static_cast<float>(keep + h);
    const double up = loss_of(g, w, x, y);
    values[i] = static_cast<float>(keep - h);
    const double down = loss_of(g, w, x, y);
    values[i] = keep;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(analytic.data[i], numeric, 2e-2 * scale + 1e-4) << (name.empty() ? "input" : name) << "[" << i << "]";
  }
}

TEST(TrainStep, ResNetGradientsMatchFiniteDifferences) {
  ResNetConfig c;
  c.block = ResNetBlock::Basic;
  c.layers = {1, 1, 1, 1};
  c.num_classes = 5;
  c.image_size = 32;  // layer4 at 1×1: batch norm over the 8 images per channel (2 would be near-singular)
  const Graph g = build_resnet(c, 8, "tiny-resnet");
  TensorMap w = random_weights(g, 7);
  Tensor x(g.value(g.inputs()[0]).shape, random_vector(g.value(g.inputs()[0]).shape.numel(), 8));
  const std::vector<std::int64_t> y{1, 4, 0, 2, 3, 3, 1, 0};
  for (const char* p : {"conv1.weight", "bn1.bias", "layer2.0.conv1.weight", "layer3.0.downsample.1.weight", "fc.weight"})
    check_gradient(g, w, x, y, p, 1e-3, 4);
  check_gradient(g, w, x, y, "", 1e-3, 4);
}

TEST(TrainStep, ViTGradientsMatchFiniteDifferences) {
  ViTConfig c;
  c.image_size = 16;
  c.patch_size = 8;
  c.num_layers = 1;
  c.num_heads = 2;
  c.hidden_dim = 8;
  c.mlp_dim = 16;
  c.num_classes = 3;
  const Graph g = build_vit(c, 2, "tiny-vit");
  TensorMap w = random_weights(g, 9);
  Tensor x(g.value(g.inputs()[0]).shape, random_vector(g.value(g.inputs()[0]).shape.numel(), 10));
  const std::vector<std::int64_t> y{2, 0};
  std::vector<std::string> names;
  for (const Value& v : g.values())
    if (v.kind == ValueKind::Param && v.trainable) names.push_back(v.name);
  ASSERT_GT(names.size(), 10u);
  for (const auto& p : names) check_gradient(g, w, x, y, p, 5e-3);
  check_gradient(g, w, x, y, "", 5e-3);
}

TEST(TrainStep, OptimizerStepsLowerTheLossAndBatchNormTracksItsStatistics) {
  ResNetConfig c;
  c.block = ResNetBlock::Basic;
  c.layers = {1, 1, 1, 1};
  c.num_classes = 4;
  c.image_size = 32;
  const Graph g = build_resnet(c, 4, "tiny-resnet");
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adamw}) {
    TensorMap w = random_weights(g, 11);
    const Tensor x(g.value(g.inputs()[0]).shape, random_vector(g.value(g.inputs()[0]).shape.numel(), 12));
    const std::vector<std::int64_t> y{0, 1, 2, 3};
    const std::vector<float> rm_before = w.at("bn1.running_mean").data;
    OptimizerConfig oc;
    oc.kind = kind;
    oc.lr = kind == OptimizerKind::sgd ? 0.05f : 3e-3f;
    OptimizerState st;
    double first = 0, last = 0;
    for (int i = 0; i < 6; ++i) {
      const LossAndGradients r = loss_and_gradients(g, w, x, y);
      if (i == 0) first = r.loss;
      last = r.loss;
      optimizer_step(w, r.gradients, oc, st);
    }
    EXPECT_LT(last, first) << (kind == OptimizerKind::sgd ? "sgd" : "adamw");
    EXPECT_EQ(st.step, 6);
    EXPECT_NE(w.at("bn1.running_mean").data, rm_before);  // momentum 0.1 towards the batch means
  }
  TensorMap w = random_weights(g, 11);
  const Tensor x(g.value(g.inputs()[0]).shape, random_vector(g.value(g.inputs()[0]).shape.numel(), 12));
  const std::vector<std::int64_t> bad{0, 1, 2, 9};
  EXPECT_THROW((void)loss_and_gradients(g, w, x, bad), InvalidInput);
}

}  // namespace
}  // namespace vramfit::cpu
