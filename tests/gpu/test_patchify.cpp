// Patchify (kernels/patchify.cuh) against the CPU reference, NCHW and NHWC storage, every dtype:
// a pure gather, so the result must equal the reference bit for bit after the dtype's rounding.
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cuda/check.h"
#include "backend/cuda/device.h"
#include "backend/cuda/executor.h"
#include "backend/cuda/kernels/patchify.cuh"
#include "core/rng.h"
#include "gpu_env.h"

namespace vramfit {
namespace {

TEST(GpuPatchify, EqualsCpuReferenceInEveryLayoutAndDtype) {
  VRAMFIT_REQUIRE_GPU();
  struct Case { std::int64_t b, c, h, w, p; };
  for (const Case k : {Case{2, 3, 32, 48, 16}, Case{3, 5, 14, 21, 7}, Case{1, 3, 224, 224, 16}}) {
    const Shape s{k.b, k.c, k.h, k.w};
    std::vector<float> x(static_cast<std::size_t>(s.numel()));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = normal01(3, 9, i);
    std::vector<float> want(x.size());
    cpu::patchify(x.data(), want.data(), k.b, k.c, k.h, k.w, k.p);
    const Shape ys{k.b, (k.h / k.p) * (k.w / k.p), k.c * k.p * k.p};
    for (DType dt : {DType::f32, DType::f16, DType::bf16}) {
      for (Layout lay : {Layout::NCHW, Layout::NHWC}) {
        const auto xb = cuda::to_device_format(x, s, dt, lay);
        const auto wb = cuda::to_device_format(want, ys, dt, Layout::Plain);  // the reference, rounded
        void *dx = nullptr, *dy = nullptr;
        CUDA_CHECK(cudaMalloc(&dx, xb.size()));  // test scaffolding, outside any session arena
        CUDA_CHECK(cudaMalloc(&dy, wb.size()));
        CUDA_CHECK(cudaMemcpy(dx, xb.data(), xb.size(), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaDeviceSynchronize());  // a pageable H2D copy may still be in flight for a non-blocking stream
        cuda::kernels::patchify(dt, lay, dx, dy, k.b, k.c, k.h, k.w, k.p, nullptr);
        std::vector<std::uint8_t> got(wb.size());
        CUDA_CHECK(cudaMemcpy(got.data(), dy, got.size(), cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaFree(dx));
        CUDA_CHECK(cudaFree(dy));
        EXPECT_EQ(got, wb) << s.to_string() << " patch " << k.p << " " << to_string(dt) << (lay == Layout::NHWC ? " NHWC" : " NCHW");
      }
    }
  }
}

}  // namespace
}  // namespace vramfit
