// graph/cost.h on the zoo: parameter_count agrees with torchvision and with a plain sum over
// trainable values; MACs at 224×224 match the published GFLOPs (torchvision lists 4.09 for resnet50
// and 17.56 for vit_b_16, counting conv + linear (+ the two attention products)).
#include <gtest/gtest.h>

#include "graph/cost.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "models/vit.h"

namespace vramfit {
namespace {

std::uint64_t trainable_count(const Graph& g) {
  std::uint64_t n = 0;
  for (const auto& v : g.values())
    if (v.kind == ValueKind::Param && v.trainable) n += static_cast<std::uint64_t>(v.shape.numel());
  return n;
}

TEST(ModelCost, ParameterCountAgreesWithTorchvision) {
  const std::pair<const char*, std::uint64_t> expected[] = {
      {"resnet18", 11'689'512},  {"resnet34", 21'797'672}, {"resnet50", 25'557'032},
      {"resnet101", 44'549'160}, {"resnet152", 60'192'808}, {"vit-b16", 86'567'656},
      {"vit-l16", 304'326'632}};
  for (const auto& [id, count] : expected) {
    const Graph g = find_model(id).build(1);
    EXPECT_EQ(parameter_count(g), count) << id;
    EXPECT_EQ(parameter_count(g), trainable_count(g)) << id;
  }
}

TEST(ModelCost, MacsMatchPublishedGflops) {
  // resnet50: every conv (out elements × in/groups·kh·kw) + fc 2048·1000.
  const Cost r = graph_cost(build_resnet(resnet_preset(50), 1));
  EXPECT_EQ(r.macs, 4'089'184'256u);
  EXPECT_EQ(r.flops, 2 * r.macs);
  // vit-b16: conv_proj + per layer (in_proj, QKᵀ, PV, out_proj, two MLP) + head.
  const Cost v = graph_cost(build_vit(vit_b16(), 1));
  EXPECT_EQ(v.macs, 17'563'828'224u);
  // MACs are linear in batch.
  EXPECT_EQ(graph_cost(build_resnet(resnet_preset(50), 3)).macs, 3 * r.macs);
}

}  // namespace
}  // namespace vramfit
