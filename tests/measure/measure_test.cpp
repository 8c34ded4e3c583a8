// measure/'s parts that need no GPU: the budget rule (runtime/budget.h), fidelity's top-1 agreement,
// and what a build without CUDA answers.
#include <gtest/gtest.h>

#include "core/bytes.h"
#include "core/error.h"
#include "measure/compare.h"
#include "measure/measure.h"
#include "runtime/budget.h"

using namespace vramfit;

TEST(MemoryBudget, EmulatedCardLessContextHandlesAndReserve) {
  const ContextOverhead oh{500 * MiB, 40 * MiB};
  EXPECT_EQ(memory_budget(oh, 8 * GiB, 0, 0), 8 * GiB - 540 * MiB);
  EXPECT_EQ(memory_budget(oh, 8 * GiB, 100 * MiB, 123), 8 * GiB - 640 * MiB);  // free memory plays no part
  EXPECT_EQ(memory_budget(oh, 8 * GiB, 0, 0, 3), 8 * GiB - 540 * MiB - 3 * 40 * MiB);  // three more streams' handles
  EXPECT_EQ(memory_budget(oh, 400 * MiB, 0, 0), 0u);  // never below zero
  EXPECT_EQ(memory_budget(oh, 8 * GiB, 10 * GiB, 0), 0u);
}

TEST(MemoryBudget, RealCardIsFreeMemoryLessHandlesAndReserve) {
  const ContextOverhead oh{500 * MiB, 40 * MiB};
  // The context already holds its share of the device when free memory is read: only the handles count.
  EXPECT_EQ(memory_budget(oh, std::nullopt, 0, 10 * GiB), 10 * GiB - 40 * MiB);
  EXPECT_EQ(memory_budget(oh, std::nullopt, GiB, 10 * GiB), 9 * GiB - 40 * MiB);
  EXPECT_EQ(memory_budget(oh, std::nullopt, 0, 10 * MiB), 0u);
  EXPECT_EQ(memory_budget(oh, std::nullopt, 0, 10 * GiB, UINT64_MAX), 0u);  // no overflow
}

TEST(Fidelity, TopOneAgreementCountsRowsWithTheSameArgmax) {
  Tensor a(Shape{3, 4}), ref(Shape{3, 4});
  const float av[] = {0, 1, 0, 0, /**/ 5, 0, 0, 0, /**/ 0, 0, 0, 2};
  const float rv[] = {0, 2, 0, 0, /**/ 0, 9, 0, 0, /**/ 0, 0, 0, 1};
  for (int i = 0; i < 12; ++i) {
    a.data[static_cast<std::size_t>(i)] = av[i];
    ref.data[static_cast<std::size_t>(i)] = rv[i];
  }
  EXPECT_DOUBLE_EQ(measure::top1_agreement(a, ref), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(measure::top1_agreement(ref, ref), 1.0);
  EXPECT_DOUBLE_EQ(measure::top1_agreement(Tensor(Shape{2, 4}), ref), 0.0);  // shapes differ
}

TEST(Measure, WithoutAGpuEveryMeasurementSaysWhy) {
  if (measure::why_no_gpu().empty()) GTEST_SKIP() << "a GPU is here: the no-GPU answers are not reachable";
  EXPECT_EQ(measure::gpu_count(), 0);
  measure::Worker w;
  const nlohmann::json cfg{{"kind", "device"}, {"device", 0}, {"reserve", 0}, {"vram_limit", nullptr}};
  try {
    w.answer(cfg);
    ADD_FAILURE() << "a worker without a GPU answered";
  } catch (const Error& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}
