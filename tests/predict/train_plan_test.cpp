// The training plan (predict/train_plan.h): its parts follow the stated rules — parameter counts as
// torchvision's, 4 + 4 + 8 bytes per parameter for fp32 weights, gradients and AdamW, saved
// activations linear in the batch — and the largest batch is the last that fits.
#include "predict/train_plan.h"

#include <gtest/gtest.h>

#include "core/error.h"
#include "models/registry.h"

namespace vramfit {
namespace {

TEST(TrainPlan, PartsFollowTheRules) {
  const ModelInfo& m = find_model("resnet50");
  const TrainPlan f32 = plan_training(m, Precision::fp32, Optimizer::adamw, 1, 128u << 20);
  ASSERT_EQ(f32.status, Outcome::ok) << f32.reason;
  EXPECT_EQ(f32.parameters, 25557032u);  // torchvision resnet50: sum(p.numel() for p in parameters())
  EXPECT_EQ(f32.weight_bytes, 4 * f32.parameters);
  EXPECT_EQ(f32.gradient_bytes, 4 * f32.parameters);
  EXPECT_EQ(f32.optimizer_bytes, 8 * f32.parameters);
  EXPECT_EQ(plan_training(m, Precision::fp32, Optimizer::sgd, 1, 0).optimizer_bytes, 4 * f32.parameters);
  const TrainPlan b16 = plan_training(m, Precision::bf16, Optimizer::adamw, 1, 0);
  EXPECT_EQ(b16.weight_bytes, 6 * b16.parameters);  // fp32 master + bf16 compute copy
  EXPECT_EQ(b16.saved_bytes * 2, f32.saved_bytes + 1000 * 4);  // half the activation bytes; the fp32 logits stay
  // Every saved tensor and transient buffer scales with the batch; the rest does not.
  const TrainPlan f32x4 = plan_training(m, Precision::fp32, Optimizer::adamw, 4, 128u << 20);
  EXPECT_EQ(f32x4.saved_bytes, 4 * f32.saved_bytes);
  EXPECT_EQ(f32x4.transient_bytes, 4 * f32.transient_bytes);
  EXPECT_EQ(f32x4.weight_bytes, f32.weight_bytes);
  // ResNet-50 keeps tens of MiB per image for its backward (the conv, BN and ReLU tensors).
  EXPECT_GT(f32.saved_bytes, 50ull << 20);
  EXPECT_LT(f32.saved_bytes, 200ull << 20);
}

TEST(TrainPlan, WhatIsNotPlannedSaysWhy) {
  const TrainPlan y = plan_training(find_model("yolo11n-pose"), Precision::fp16, Optimizer::adamw, 1, 0);
  EXPECT_EQ(y.status, Outcome::unsupported);
  EXPECT_NE(y.reason.find("loss"), std::string::npos);
  EXPECT_EQ(plan_training(find_model("resnet50"), Precision::int8, Optimizer::adamw, 1, 0).status, Outcome::unsupported);
  EXPECT_THROW((void)plan_training(find_model("resnet50"), Precision::fp32, Optimizer::adamw, 0, 0), InvalidInput);
  EXPECT_THROW((void)parse_optimizer("adam"), InvalidInput);
}

TEST(TrainPlan, TheLargestBatchIsTheLastThatFits) {
  const ModelInfo& m = find_model("vit-b16");
  const std::uint64_t budget = 8ull << 30;
  const TrainFit f = max_training_batch(m, Precision::bf16, Optimizer::adamw, budget, 128u << 20);
  ASSERT_GT(f.max_batch, 1);
  EXPECT_LE(f.at_max.total_bytes(), budget);
  EXPECT_GT(plan_training(m, Precision::bf16, Optimizer::adamw, f.max_batch + 1, 128u << 20).total_bytes(), budget);
  EXPECT_EQ(max_training_batch(m, Precision::fp32, Optimizer::adamw, 1ull << 30, 128u << 20).max_batch, 0);  // weights alone
  EXPECT_TRUE(max_training_batch(m, Precision::bf16, Optimizer::adamw, budget, 0, 16).capped);
}

}  // namespace
}  // namespace vramfit
