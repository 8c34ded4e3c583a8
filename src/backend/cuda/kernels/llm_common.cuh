// backend/cuda/kernels/llm_common.cuh — what the llm_*.cu kernels share beyond kernel_common.cuh:
// V-element units (a 16-byte pack or one element) for vector/scalar twins of a kernel, argument
// checks, and the current device's compute capability and SM count. Private to kernels/*.cu.
#pragma once

#include <cstdint>
#include <string>

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels::llm {

// V elements of T: one 16-byte pack (V·sizeof(T) = 16) or a single element (V = 1).
template <class T, int V> struct Unit {
  T v[V];
};

template <class T, int V> __device__ __forceinline__ Unit<T, V> load_unit(const T* p) {
  Unit<T, V> u;
  if constexpr (V == 1) {
    u.v[0] = *p;
  } else {
    static_assert(V * sizeof(T) == 16, "a vector unit is one 16-byte pack");
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    memcpy(&u, &raw, 16);
  }
  return u;
}

template <class T, int V> __device__ __forceinline__ void store_unit(T* p, const Unit<T, V>& u) {
  if constexpr (V == 1) {
    *p = u.v[0];
  } else {
    uint4 raw;
    memcpy(&raw, &u, 16);
    *reinterpret_cast<uint4*>(p) = raw;
  }
}

inline void require(bool ok, const std::string& message) {
  if (!ok) throw InvalidInput(message);
}

// Compute capability (major·10 + minor) and SM count of the current device.
inline int current_cc() {
  int device = 0, major = 0, minor = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return major * 10 + minor;
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
