// Whole models against PyTorch: torchvision's ResNet (bottleneck) and ViT with the weights and outputs
// that tools/make_goldens.py dumped (tests/golden/README.md). Our builders, the checkpoint binding and
// the CPU reference must reproduce torchvision's fp32 output, both as built and after the inference
// passes (BN folding, residual and activation fusion). Missing or foreign golden files fail — never
// skip — with the command that regenerates them (as llm.c's test_gpt2 does).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "backend/cpu/executor.h"
#include "core/error.h"
#include "graph/passes.h"
#include "models/resnet.h"
#include "models/vit.h"
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

}  // namespace
}  // namespace vramfit
