// backend/cuda/kernels/llm_common.cuh — what the llm_*.cu kernels share beyond kernel_common.cuh:
// V-element units (a 16-byte pack or one element) for vector/scalar twins of a kernel, argument
// checks, and the current device's compute capability and SM count. Private to kernels/*.cu.
#pragma once

#include <cstdint>
#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels::llm {

using detail::load_unit;  // kernel_common.cuh: 16-byte packs or single elements
using detail::store_unit;
using detail::Unit;

inline void require(bool ok, const std::string& message) {
  if (!ok) throw InvalidInput(message);
}

// Compute capability (major·10 + minor) and SM count of the current device.
// The effective one (backend/cuda/arch.h).
inline int current_cc() {
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  return device_cc(device);
}

// f16 and bf16 only (the LLM kernels with tensor cores or fp16-specific paths).
template <class F> void dispatch_16bit(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::f16: f(detail::TypeTag<__half>{}); return;
    case DType::bf16: f(detail::TypeTag<__nv_bfloat16>{}); return;
    default:
      throw Unsupported(std::string(op) + ": dtype " + std::string(to_string(dt)) + " is not supported (f16, bf16)");
  }
}

}  // namespace vramfit::cuda::kernels::llm
