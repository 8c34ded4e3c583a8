// The zoo: ids, aliases (the old profiler's too), case-insensitive lookup, the unknown-model error,
// and that every entry builds a graph for its declared input.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/error.h"
#include "models/registry.h"

namespace vramfit {
namespace {

TEST(Registry, IdsAndAliasesResolve) {
  const std::pair<const char*, const char*> cases[] = {
      {"resnet18", "resnet18"},   {"resnet-34", "resnet34"}, {"resnet50", "resnet50"},
      {"resnet-50", "resnet50"},  {"RESNET_50", "resnet50"}, {"ResNet101", "resnet101"},
      {"resnet-152", "resnet152"}, {"vit-b16", "vit-b16"},   {"vit_base", "vit-b16"},
      {"VIT-BASE", "vit-b16"},    {"vit_b_16", "vit-b16"},   {"vit-l16", "vit-l16"},
      {"vit_l_16", "vit-l16"},    {"vit-large", "vit-l16"},  {"yolo_pose", "yolo11n-pose"},
      {"YOLO11N-POSE", "yolo11n-pose"}, {"yolo11x_pose", "yolo11x-pose"},
  };
  for (const auto& [name, id] : cases) EXPECT_EQ(find_model(name).id, id) << name;
}

TEST(Registry, EveryNameIsUniqueAndEveryEntryBuilds) {
  std::set<std::string> names;
  for (const auto& m : model_zoo()) {
    std::string id = m.id;
    EXPECT_TRUE(names.insert(id).second) << id;
    for (const auto& a : m.aliases) EXPECT_TRUE(names.insert(a).second) << a;
    EXPECT_EQ(&find_model(m.id), &m);
    EXPECT_FALSE(m.description.empty()) << m.id;
    ASSERT_TRUE(m.build) << m.id;
    const Graph g = m.build(3);
    EXPECT_EQ(g.name(), m.id);
    ASSERT_EQ(g.inputs().size(), 1u);
    if (m.family == ModelFamily::Pose) {  // YOLO11 pose: 640², decoded [B, 4 + 1 + 51, 8400]
      EXPECT_EQ(m.input_per_sample, (Shape{3, 640, 640})) << m.id;
      EXPECT_EQ(g.value(g.inputs()[0]).shape, (Shape{3, 3, 640, 640})) << m.id;
      const bool forward = m.id.ends_with("-forward"), nms = m.id.ends_with("-nms");
      const Shape want = forward ? Shape{3, 64, 80, 80} : nms ? Shape{3, 300, 57} : Shape{3, 56, 8400};
      EXPECT_EQ(g.value(g.outputs().at(0)).shape, want) << m.id;
      EXPECT_EQ(g.outputs().size(), forward ? 9u : 1u) << m.id;
      continue;
    }
    EXPECT_EQ(m.family, ModelFamily::Vision) << m.id;
    EXPECT_EQ(m.input_per_sample, (Shape{3, 224, 224})) << m.id;
    EXPECT_EQ(g.value(g.inputs()[0]).shape, (Shape{3, 3, 224, 224})) << m.id;
    EXPECT_EQ(g.value(g.outputs().at(0)).shape, (Shape{3, 1000})) << m.id;
  }
  for (const char* id : {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vit-b16", "vit-l16",
                         "yolo11n-pose", "yolo11s-pose", "yolo11m-pose", "yolo11l-pose", "yolo11x-pose"})
    EXPECT_TRUE(names.count(id)) << id;
}

TEST(Registry, UnknownModelListsIdsAndAliases) {
  try {
    find_model("resnet51");
    FAIL() << "resnet51 resolved";
  } catch (const InvalidInput& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("unknown model 'resnet51'"), std::string::npos) << msg;
    for (const auto& m : model_zoo()) {
      EXPECT_NE(msg.find(m.id), std::string::npos) << msg;
      for (const auto& a : m.aliases) EXPECT_NE(msg.find(a), std::string::npos) << msg;
    }
  }
  EXPECT_THROW(find_model(""), InvalidInput);
  EXPECT_THROW(find_model("vit"), InvalidInput);  // no prefix matching
  const std::string ids = model_ids_joined();
  EXPECT_NE(ids.find("resnet50, resnet101"), std::string::npos) << ids;
  EXPECT_NE(ids.find("vit-l16"), std::string::npos) << ids;
}

}  // namespace
}  // namespace vramfit
