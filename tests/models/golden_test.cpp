// Whole models against PyTorch: torchvision's ResNet (bottleneck) and ViT with the weights and outputs
// that tools/make_goldens.py dumped (tests/golden/README.md). Our builders, the checkpoint binding and
// the CPU reference must reproduce torchvision's fp32 output, both as built and after the inference
// passes (BN folding, residual and activation fusion). Missing or foreign golden files fail — never
// skip — with the command that regenerates them (as llm.c's test_gpt2 does).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <optional>
#include <string>

#include "backend/cpu/executor.h"
#include "core/error.h"
#include "graph/passes.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "models/yolo11_pose.h"
#include "weights/binding.h"
#include "weights/safetensors.h"

namespace vramfit {
namespace {

// fp32 against fp32 with different summation orders: torch's own fp32 output is ~1e-7 from fp64
// (make_goldens.py prints it), so 1e-4 leaves room for our plain loops while still catching any
// real mistake (a 5% change in one parameter moves the output by more than 10× the tolerance; checked below).
constexpr double kTolerance = 1e-4;
constexpr const char* kRegenerate =
    "regenerate with `python3 tools/make_goldens.py --out tests/golden` on a machine with torch, torchvision, "
    "safetensors and numpy (see tests/golden/README.md), then commit the files";

std::string golden_path(const std::string& file) {
  return std::string(VRAMFIT_SOURCE_DIR) + "/tests/golden/" + file;
}

// Opens a golden file and checks its header metadata; empty optional + test failure if unusable.
std::optional<SafetensorsFile> open_golden(const std::string& file) {
  const std::string path = golden_path(file);
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "golden file " << path << " is missing; " << kRegenerate;
    return std::nullopt;
  }
  std::optional<SafetensorsFile> f;
  try {
    f.emplace(SafetensorsFile::open(path));
  } catch (const Error& e) {
    ADD_FAILURE() << "golden file " << path << " cannot be read: " << e.what() << "; " << kRegenerate;
    return std::nullopt;
  }
  const auto& meta = f->metadata();
  const auto field = [&](const char* key) {
    const auto it = meta.find(key);
    return it == meta.end() ? std::string("(absent)") : it->second;
  };
  if (field("format") != "vramfit-golden" || field("version") != "1") {
    ADD_FAILURE() << "golden file " << path << " has __metadata__ format '" << field("format") << "' version '"
                  << field("version") << "', expected format 'vramfit-golden' version '1'; " << kRegenerate;
    return std::nullopt;
  }
  if (f->find("output") == nullptr)  // the weights file: say what model and torch made it
    std::printf("[ golden   ] %s: %s (torch %s, torchvision %s)\n", file.c_str(), field("model").c_str(),
                field("torch").c_str(), field("torchvision").c_str());
  return f;
}

double compare(const std::string& what, const Graph& g, const TensorMap& w, const Tensor& input,
               const Tensor& reference) {
  const std::vector<Tensor> out = cpu::run_graph(g, w, std::span<const Tensor>(&input, 1));
  EXPECT_EQ(out.size(), 1u) << what;
  if (out.size() != 1) return INFINITY;
  EXPECT_EQ(out[0].shape, reference.shape) << what;
  if (out[0].shape != reference.shape) return INFINITY;
  const double err = relative_l2(out[0].span(), reference.span());
  std::printf("[ golden   ] %-40s relative L2 %.3e (%.2f%% of the %.0e tolerance)\n", what.c_str(), err,
              100.0 * err / kTolerance, kTolerance);
  return err;
}

// Builds, binds and runs one golden; `perturb` names a parameter whose 5% change must break the match.
void check_golden(const std::string& name, Graph g, const std::string& perturb) {
  const auto weights_file = open_golden(name + ".weights.safetensors");
  const auto io_file = open_golden(name + ".io.safetensors");
  if (!weights_file || !io_file) return;

  ASSERT_TRUE(io_file->find("input") && io_file->find("output"))
      << name << ".io.safetensors lacks \"input\" or \"output\"; " << kRegenerate;
  const Tensor input = io_file->read_f32("input");
  const Tensor reference = io_file->read_f32("output");
  ASSERT_EQ(g.inputs().size(), 1u);
  ASSERT_EQ(input.shape, g.value(g.inputs()[0]).shape)
      << "golden input does not match the graph's input; the builder config and make_goldens.py disagree";
  // A golden that cannot fail is no golden: the reference must be finite, varied, and differ per sample.
  ASSERT_TRUE(all_finite(reference.span()));
  ASSERT_EQ(reference.shape.rank(), 2u);
  const std::size_t classes = static_cast<std::size_t>(reference.shape[1]);
  ASSERT_GT(relative_l2(std::span<const float>(reference.data).first(classes),
                        std::span<const float>(reference.data).subspan(classes, classes)),
            0.01)
      << "the two samples' outputs are nearly equal; the golden is degenerate";

  TensorMap weights;
  try {
    weights = bind_checkpoint(g, *weights_file);
  } catch (const InvalidInput& e) {
    FAIL() << "binding " << name << " failed: " << e.what();
  }

  EXPECT_LE(compare(name + " as built", g, weights, input, reference), kTolerance);

  {  // The comparison is sensitive: a 5% change in one parameter is far outside the tolerance.
    TensorMap bent = weights;
    ASSERT_TRUE(bent.count(perturb)) << perturb;
    for (float& v : bent.at(perturb).data) v *= 1.05f;
    EXPECT_GT(compare(name + " with " + perturb + " ×1.05", g, bent, input, reference), 10 * kTolerance);
  }

  optimize_for_inference(g, Precision::fp32, &weights);
  EXPECT_LE(compare(name + " after optimize_for_inference(fp32)", g, weights, input, reference), kTolerance);
}

TEST(Golden, ResNetBottleneckMatchesTorchvision) {
  ResNetConfig c;
  c.block = ResNetBlock::Bottleneck;
  c.layers = {1, 1, 1, 1};
  c.num_classes = 10;
  c.groups = 1;
  c.width_per_group = 16;
  c.image_size = 64;
  check_golden("resnet_tiny", build_resnet(c, 2, "resnet_tiny"), "layer2.0.bn2.running_var");
}

TEST(Golden, ViTMatchesTorchvision) {
  ViTConfig c;
  c.image_size = 32;
  c.patch_size = 8;
  c.num_layers = 2;
  c.num_heads = 4;
  c.hidden_dim = 64;
  c.mlp_dim = 128;
  c.num_classes = 10;
  check_golden("vit_tiny", build_vit(c, 2, "vit_tiny"), "encoder.pos_embedding");
}

// YOLO11n-pose against tools/yolo_reference.py (PyTorch, written from Ultralytics' published structure):
// the decoded head [2, 56, 84] as built and after the passes, and the detections after NMS [2, 300, 57].
TEST(Golden, Yolo11nPoseMatchesPyTorchReference) {
  const std::string regenerate =
      "regenerate with `python3 tools/yolo_reference.py golden --out tests/golden` (torch, torchvision, safetensors)";
  const auto weights_file = open_golden("yolo11n_pose_tiny.weights.safetensors");
  const auto io_file = open_golden("yolo11n_pose_tiny.io.safetensors");
  if (!weights_file || !io_file) return;
  ASSERT_TRUE(io_file->find("input") && io_file->find("output") && io_file->find("detections")) << regenerate;
  const Tensor input = io_file->read_f32("input");
  const Tensor reference = io_file->read_f32("output");
  const Tensor detections = io_file->read_f32("detections");

  Yolo11PoseConfig c = yolo11_pose_preset('n');
  c.image_h = c.image_w = 64;
  Graph g = build_yolo11_pose(c, 2, "yolo11n_pose_tiny");
  ASSERT_EQ(input.shape, g.value(g.inputs()[0]).shape) << regenerate;
  ASSERT_EQ(reference.shape, (Shape{2, 56, 84}));
  ASSERT_TRUE(all_finite(reference.span()));
  // The decoded output is dominated by anchor positions (independent of the network), so the feature
  // maps of layers 10 (C2PSA), 16, 19 and 22 are compared too: extra outputs of the same graph.
  const int layers[] = {10, 16, 19, 22};
  std::vector<Tensor> expected{reference};
  for (int layer : layers) {
    const std::string key = fmt::format("features.{}", layer);
    ASSERT_TRUE(io_file->find(key)) << key << "; " << regenerate;
    expected.push_back(io_file->read_f32(key));
    const auto v = g.find_value(fmt::format("model.{}.cv2.act", layer));
    ASSERT_TRUE(v.has_value()) << layer;
    g.mark_output(*v);
  }
  TensorMap weights;
  try {
    weights = bind_checkpoint(g, *weights_file);
  } catch (const InvalidInput& e) {
    FAIL() << "binding failed: " << e.what();
  }
  auto check_all = [&](const std::string& what, const Graph& graph, const TensorMap& w) -> double {
    const std::vector<Tensor> out = cpu::run_graph(graph, w, std::span<const Tensor>(&input, 1));
    EXPECT_EQ(out.size(), expected.size());
    double worst = 0;
    for (std::size_t i = 0; i < out.size() && i < expected.size(); ++i) {
      EXPECT_EQ(out[i].shape, expected[i].shape) << what << " output " << i;
      if (out[i].shape != expected[i].shape) return INFINITY;
      const double err = relative_l2(out[i].span(), expected[i].span());
      std::printf("[ golden   ] %-48s %-12s relative L2 %.3e\n", what.c_str(),
                  i == 0 ? "decoded" : fmt::format("layer {}", layers[i - 1]).c_str(), err);
      worst = std::max(worst, err);
    }
    return worst;
  };
  EXPECT_LE(check_all("yolo11n-pose as built", g, weights), kTolerance);
  {  // Sensitivity: 5% on one BN statistic of the attention's positional conv moves layer 10 far outside.
    TensorMap bent = weights;
    for (float& v : bent.at("model.10.m.0.attn.pe.bn.running_var").data) v *= 1.05f;
    const std::vector<Tensor> out = cpu::run_graph(g, bent, std::span<const Tensor>(&input, 1));
    EXPECT_GT(relative_l2(out[1].span(), expected[1].span()), 10 * kTolerance);
  }
  TensorMap folded = weights;
  optimize_for_inference(g, Precision::fp32, &folded);
  EXPECT_LE(check_all("yolo11n-pose after optimize_for_inference", g, folded), kTolerance);

  // NMS (conf 0.25, IoU 0.7, max_det 300): the same boxes kept, in the same order.
  c.with_nms = true;
  Graph gn = build_yolo11_pose(c, 2, "yolo11n_pose_tiny_nms");
  ASSERT_EQ(detections.shape, (Shape{2, 300, 57})) << regenerate;
  const std::vector<Tensor> out = cpu::run_graph(gn, weights, std::span<const Tensor>(&input, 1));
  ASSERT_EQ(out[0].shape, detections.shape);
  for (std::int64_t b = 0; b < 2; ++b) {
    std::int64_t ours = 0, theirs = 0;
    for (std::int64_t r = 0; r < 300; ++r) {
      ours += out[0].data[static_cast<std::size_t>((b * 300 + r) * 57 + 4)] > 0;
      theirs += detections.data[static_cast<std::size_t>((b * 300 + r) * 57 + 4)] > 0;
    }
    EXPECT_EQ(ours, theirs) << "image " << b;
    EXPECT_GE(theirs, 2) << "a golden with fewer than two detections tests little; " << regenerate;
  }
  const double err = relative_l2(out[0].span(), detections.span());
  std::printf("[ golden   ] %-40s relative L2 %.3e\n", "yolo11n-pose detections after NMS", err);
  EXPECT_LE(err, kTolerance);
}

}  // namespace
}  // namespace vramfit
