// YOLO11 pose against Ultralytics' published figures: parameter counts (the yaml's summary comments for
// nc = 80, exact; a published YOLO11n-pose model summary, layer by layer; the pose docs table for the
// released one-class checkpoints, rounded to 0.1 M), GFLOPs at 640, shapes, names and input checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <string>

#include "core/error.h"
#include "graph/cost.h"
#include "graph/passes.h"
#include "graph/planner.h"
#include "core/dtype.h"
#include "models/registry.h"
#include "models/yolo11_pose.h"

namespace vramfit {
namespace {

Yolo11PoseConfig cfg(char scale, std::int64_t nc = 1) {
  Yolo11PoseConfig c = yolo11_pose_preset(scale);
  c.num_classes = nc;
  return c;
}

TEST(Yolo11Pose, ParameterCountsMatchTheYamlSummaries) {
  // ultralytics/cfg/models/11/yolo11-pose.yaml (nc: 80, kpt_shape [17, 3]), scale comments:
  // "summary: 344 layers, 2908507 parameters, …" etc. Ultralytics counts model.parameters(), which
  // includes the DFL conv's 16 fixed weights (hence "… 2908491 gradients").
  const std::pair<char, std::uint64_t> expected[] = {
      {'n', 2'908'507}, {'s', 9'948'811}, {'m', 20'973'273}, {'l', 26'230'745}, {'x', 58'889'881}};
  for (const auto& [scale, count] : expected)
    EXPECT_EQ(parameter_count(build_yolo11_pose(cfg(scale, 80), 1)), count) << scale;
}

TEST(Yolo11Pose, NanoLayerByLayerMatchesAPublishedModelSummary) {
  // The model summary Ultralytics 8.3.75 printed for `yolo11n-pose` with nc = 1 and kpt_shape [5, 3]
  // (zjykzj/YOLO11Face, docs/yolo11face/pose_train.md; layers 0–22 do not depend on the head's shape):
  // "YOLO11n-pose summary: 344 layers, 2,662,416 parameters".
  const std::uint64_t published[24] = {464,    4672,   6640,  36992, 26080,  147712, 87040,  295424,
                                       346112, 164608, 249728, 0,    0,      111296, 0,      0,
                                       32096,  36992,  0,      86720, 147712, 0,      378880, 503248};
  Yolo11PoseConfig c = cfg('n');
  c.kpt_count = 5;
  const Graph g = build_yolo11_pose(c, 1);
  const auto counts = yolo_layer_parameter_counts(g);
  ASSERT_EQ(counts.size(), 24u);
  for (std::size_t i = 0; i < 24; ++i) EXPECT_EQ(counts[i], published[i]) << "model." << i;
  EXPECT_EQ(parameter_count(g), 2'662'416u);
}

// Ultralytics' GFLOPs (utils/torch_utils.py get_flops): thop's MACs × 2 of the model's modules at a
// stride-sized image, scaled to 640. thop counts each Conv2d as output elements × (in/groups)·kh·kw
// and each BatchNorm2d (affine) as 4 per element; the attention products are torch.matmul calls, not
// modules, and are not counted. Our graph_cost counts them (and the DFL expectation), so the check is
// done on the same sums thop makes.
struct ThopSums {
  double conv_gflops = 0, bn_gflops = 0;
};
ThopSums thop_sums(const Graph& g) {
  ThopSums t;
  for (const Node& n : g.nodes()) {
    if (n.op == OpKind::Conv2d) t.conv_gflops += 2.0 * static_cast<double>(node_cost(g, n).macs) / 1e9;
    if (n.op == OpKind::BatchNorm) t.bn_gflops += 8.0 * static_cast<double>(g.value(n.output).shape.numel()) / 1e9;
  }
  return t;
}

TEST(Yolo11Pose, GflopsMatchTheYamlSummariesAndTheDocs) {
  // yolo11-pose.yaml comments (nc = 80, the model as built: BN unfused): 7.7, 23.5, 72.3, 91.4, 204.3.
  // The pose docs table's FLOPs column (7.6, 23.2, 71.7, 90.7, 203.3) is the fused model (convolutions
  // only) of that same nc = 80 build; our one-class model is 0.03–0.5 GFLOPs below it (smaller class branch).
  const struct { char scale; double yaml, docs; } published[] = {
      {'n', 7.7, 7.6}, {'s', 23.5, 23.2}, {'m', 72.3, 71.7}, {'l', 91.4, 90.7}, {'x', 204.3, 203.3}};
  for (const auto& p : published) {
    const Graph g = build_yolo11_pose(cfg(p.scale, 80), 1);
    const ThopSums t = thop_sums(g);
    EXPECT_NEAR(t.conv_gflops + t.bn_gflops, p.yaml, 0.05) << p.scale;
    EXPECT_NEAR(t.conv_gflops, p.docs, 0.05) << p.scale;
    // graph_cost: the convolutions, plus the attention products and the DFL that thop does not see.
    Graph folded = build_yolo11_pose(cfg(p.scale, 80), 1);
    optimize_for_inference(folded, Precision::fp32, nullptr);
    double extra = 0;
    for (const Node& n : folded.nodes())
      if (n.op == OpKind::SpatialAttention || n.op == OpKind::PoseDecode)
        extra += 2.0 * static_cast<double>(node_cost(folded, n).macs) / 1e9;
    EXPECT_GT(extra, 0.0);
    EXPECT_NEAR(static_cast<double>(graph_cost(folded).flops) / 1e9, t.conv_gflops + extra, 1e-9) << p.scale;
  }
}

TEST(Yolo11Pose, ReleasedModelsMatchTheDocsParameterCounts) {
  // docs.ultralytics.com/tasks/pose, YOLO11 table (COCO keypoints, one class): params (M) 2.9, 9.9,
  // 20.9, 26.2, 58.8 — the m and x figures rule out nc = 80 (21.0 and 58.9).
  const std::pair<const char*, double> published[] = {
      {"yolo11n-pose", 2.9}, {"yolo11s-pose", 9.9}, {"yolo11m-pose", 20.9}, {"yolo11l-pose", 26.2}, {"yolo11x-pose", 58.8}};
  for (const auto& [id, params_m] : published) {
    const Graph g = find_model(id).build(1);
    EXPECT_NEAR(static_cast<double>(parameter_count(g)) / 1e6, params_m, 0.05) << id;
    std::printf("[ yolo     ] %s: %llu parameters, %.3f GFLOPs at 640 (graph_cost)\n", id,
                static_cast<unsigned long long>(parameter_count(g)), static_cast<double>(graph_cost(g).flops) / 1e9);
  }
}

TEST(Yolo11Pose, ShapesNamesAndInputChecks) {
  const ModelInfo& m = find_model("yolo_pose");
  EXPECT_EQ(m.id, "yolo11n-pose");
  EXPECT_EQ(m.family, ModelFamily::Pose);
  EXPECT_EQ(m.input_per_sample, (Shape{3, 640, 640}));
  const Graph g = m.build(2);
  EXPECT_EQ(g.value(g.inputs()[0]).shape, (Shape{2, 3, 640, 640}));
  // 4 box + 1 class + 17·3 keypoints over 80² + 40² + 20² = 8400 anchors.
  EXPECT_EQ(g.value(g.outputs()[0]).shape, (Shape{2, 56, 8400}));
  // State-dict names as Ultralytics writes them.
  for (const char* name : {"model.0.conv.weight", "model.0.bn.running_var", "model.2.cv1.conv.weight",
                           "model.2.m.0.cv2.bn.bias", "model.8.m.0.m.1.cv1.conv.weight", "model.9.cv2.conv.weight",
                           "model.10.m.0.attn.qkv.conv.weight", "model.10.m.0.attn.pe.bn.weight",
                           "model.10.m.0.ffn.1.conv.weight", "model.23.cv2.2.2.bias", "model.23.cv3.0.0.0.conv.weight",
                           "model.23.cv3.1.1.1.bn.running_mean", "model.23.cv4.2.2.weight", "model.23.dfl.conv.weight"})
    EXPECT_TRUE(g.find_value(name).has_value()) << name;
  EXPECT_EQ(g.value(*g.find_value("model.23.dfl.conv.weight")).role, ParamRole::DflBins);
  // Any multiple of 32, also non-square; anything else is InvalidInput.
  Yolo11PoseConfig c = cfg('n');
  c.image_h = 96;
  c.image_w = 160;
  const Graph small = build_yolo11_pose(c, 1);
  EXPECT_EQ(small.value(small.outputs()[0]).shape, (Shape{1, 56, 12 * 20 + 6 * 10 + 3 * 5}));
  c.image_w = 100;
  EXPECT_THROW(build_yolo11_pose(c, 1), InvalidInput);
  c.image_w = 0;
  EXPECT_THROW(build_yolo11_pose(c, 1), InvalidInput);
  EXPECT_THROW(yolo11_pose_preset('q'), InvalidInput);
  EXPECT_THROW(build_yolo11_pose(cfg('n'), 0), InvalidInput);
  // With NMS: [B, max_det, 6 + 51].
  c = cfg('n');
  c.with_nms = true;
  const Graph with_nms = build_yolo11_pose(c, 3);
  EXPECT_EQ(with_nms.value(with_nms.outputs()[0]).shape, (Shape{3, 300, 57}));
  // Forward only: nine raw maps, no decode; the parameters are those of the full model but the DFL bins.
  c = cfg('n');
  c.raw_outputs = true;
  const Graph raw = build_yolo11_pose(c, 1);
  ASSERT_EQ(raw.outputs().size(), 9u);
  EXPECT_EQ(raw.value(raw.outputs()[0]).shape, (Shape{1, 64, 80, 80}));
  EXPECT_EQ(raw.value(raw.outputs()[8]).shape, (Shape{1, 51, 20, 20}));
  EXPECT_EQ(parameter_count(raw) + 16, parameter_count(build_yolo11_pose(cfg('n'), 1)));
  c.with_nms = true;
  EXPECT_THROW(build_yolo11_pose(c, 1), InvalidInput);
}

TEST(Yolo11Pose, PassesFoldEveryBatchNormAndPlanBatchAffine) {
  for (Precision p : {Precision::fp32, Precision::fp16}) {
    Graph g = find_model("yolo11n-pose").build(4);
    const std::uint64_t macs = graph_cost(g).macs;
    optimize_for_inference(g, p, nullptr);
    std::size_t silu = 0, bn = 0, conv_silu = 0;
    for (const Node& n : g.nodes()) {
      bn += n.op == OpKind::BatchNorm;
      silu += n.op == OpKind::Silu;
      conv_silu += n.op == OpKind::Conv2d && n.attr<Conv2dAttrs>().act == Activation::Silu;
    }
    EXPECT_EQ(bn, 0u);
    EXPECT_EQ(silu, 0u);  // every SiLU follows a Conv and became its activation
    EXPECT_GT(conv_silu, 80u);
    EXPECT_EQ(graph_cost(g).macs, macs);
    const Plan plan = plan_memory(g);
    EXPECT_EQ(plan.arena_bytes, 4 * plan.arena_bytes_per_sample);
    EXPECT_GE(plan.arena_bytes, plan.lower_bound_bytes);
  }
}

}  // namespace
}  // namespace vramfit
