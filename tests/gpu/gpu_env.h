// tests/gpu/gpu_env.h — shared by the GPU tests: skip, visibly, where there is no CUDA GPU.
//
// The `gpu` ctest label runs on machines without a GPU too (CI, laptops); there every GPU test
// reports SKIPPED with "no CUDA GPU: gpu tests skipped" instead of failing or silently passing.
//   TEST(Foo, Bar) { VRAMFIT_REQUIRE_GPU(); ... }        // in a plain test
//   class MyTest : public vramfit::test::GpuTest {};     // or: every TEST_F of the fixture
#pragma once

#include <gtest/gtest.h>

#include "backend/cuda/device.h"

#define VRAMFIT_REQUIRE_GPU()                                                     \
  do {                                                                            \
    if (!::vramfit::cuda::cuda_device_available()) GTEST_SKIP() << "no CUDA GPU: gpu tests skipped"; \
  } while (0)

namespace vramfit::test {

class GpuTest : public ::testing::Test {
 protected:
  void SetUp() override { VRAMFIT_REQUIRE_GPU(); }
};

}  // namespace vramfit::test
