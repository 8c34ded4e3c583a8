// backend/cuda/kernels/kernel_common.cuh — what every kernel file of this folder shares: element
// conversions for the three float storage types, 16-byte packs for vectorised loads, warp/block
// reductions, grid sizing, and the dtype dispatch of the host entry points.
//
// Private to kernels/*.cu (it pulls in cuda_fp16.h / cuda_bf16.h and device code); the public
// headers (elementwise.cuh, …) are plain host C++ so that .cpp callers and tests can include them.
//
// Conventions of every kernel here:
//   * dtype is a runtime value (vramfit::DType); each kernel is a template on the element type,
//     instantiated for exactly float, __half and __nv_bfloat16 by dispatch_float() below.
//   * arithmetic is fp32 whatever the storage; results are rounded once, to nearest even, on store
//     (the rounding the CPU reference emulates with core/half.h).
//   * 16-byte vector loads are used when every pointer involved is 16-byte aligned and the extent
//     being vectorised is a multiple of the pack width; otherwise a scalar path does the same work.
//   * host entry points never allocate, never synchronise, and check every launch with
//     CUDA_CHECK(cudaGetLastError()) (backend/cuda/check.h: typed errors, never exits).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>

#include "backend/cuda/arch.h"
#include "backend/cuda/check.h"
#include "core/dtype.h"
#include "core/error.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels::detail {

// ---------------------------------------------------------------------------------------------
// dtype dispatch: calls f(TypeTag<T>{}) with T the storage type of `dt`; Unsupported otherwise.
template <class T> struct TypeTag { using type = T; };

template <class F> void dispatch_float(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::f32: f(TypeTag<float>{}); return;
    case DType::f16: f(TypeTag<__half>{}); return;
    case DType::bf16: f(TypeTag<__nv_bfloat16>{}); return;
    default:
      throw Unsupported(std::string(op) + ": dtype " + std::string(to_string(dt)) +
                        " is not supported (f32, f16, bf16 only)");
  }
}

// ---------------------------------------------------------------------------------------------
// Conversions (fp32 compute, round to nearest even on store).
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// ---------------------------------------------------------------------------------------------
// Activations (graph.h Activation), fp32 in and out. kStorage16: the result is stored in a 16-bit
// type, so an approximation far below its rounding (2^-11 relative) is as good as exact.
//
// GELU is ½x(1 + erf(x/√2)) = x·Φ(x). In fp32 it is evaluated as ½x·erfc(−x/√2): erfcf is accurate to
// a few ulp relative over its whole range, whereas 1 + erff(·) loses every digit below x ≈ −4 (torch's
// kernel has that cancellation). erfcf costs ~60 instructions, which makes a 16-bit GELU pass
// compute-bound at half the memory bandwidth, so for 16-bit storage Φ comes from Abramowitz & Stegun
// 7.1.26: erfc(z) ≈ t(a1 + t(a2 + t(a3 + t(a4 + t·a5))))·e^(−z²), t = 1/(1 + p·z), z = |x|/√2 ≥ 0,
// |error| ≤ 1.5e-7; Φ(x) = 1 − ½erfc(z) for x ≥ 0 and ½erfc(z) for x < 0 — no cancellation in the
// negative tail either way. ~20 instructions.
// SiLU is x / (1 + e^−x). ReLU keeps NaN as NaN (as torch does); fmaxf would turn it into 0.
__device__ __forceinline__ float gelu_as_erfc(float x) { return 0.5f * x * erfcf(-0.70710678118654752f * x); }

__device__ __forceinline__ float gelu_abramowitz_stegun(float x) {
  const float z = fabsf(x) * 0.70710678118654752f;
  const float t = __fdividef(1.0f, fmaf(0.3275911f, z, 1.0f));
  const float poly =
      t * fmaf(t, fmaf(t, fmaf(t, fmaf(t, 1.061405429f, -1.453152027f), 1.421413741f), -0.284496736f), 0.254829592f);
  const float erfc_z = poly * __expf(-z * z);
  return x * (x >= 0.0f ? fmaf(-0.5f, erfc_z, 1.0f) : 0.5f * erfc_z);
}

template <Activation A, bool kStorage16 = false> __device__ __forceinline__ float activate(float x) {
  if constexpr (A == Activation::Relu) {
    return x < 0.0f ? 0.0f : x;
  } else if constexpr (A == Activation::Gelu) {
    if constexpr (kStorage16) return gelu_abramowitz_stegun(x);
    else return gelu_as_erfc(x);
  } else if constexpr (A == Activation::Silu) {
    // 16-bit: the approximate exp and divide (≈2 ulp fp32) skip IEEE division's slow path; for x ≪ 0
    // the denominator is ∞ and x·rcp(∞) gives the correct −0, as the exact form does.
    if constexpr (kStorage16) return __fdividef(x, 1.0f + __expf(-x));
    else return x / (1.0f + expf(-x));
  } else {
    return x;
  }
}

// Calls f(std::integral_constant<Activation, A>{}) for the runtime activation `act`.
template <class F> void dispatch_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::None: f(std::integral_constant<Activation, Activation::None>{}); return;
    case Activation::Relu: f(std::integral_constant<Activation, Activation::Relu>{}); return;
    case Activation::Gelu: f(std::integral_constant<Activation, Activation::Gelu>{}); return;
    case Activation::Silu: f(std::integral_constant<Activation, Activation::Silu>{}); return;
  }
  throw InvalidInput("unknown activation " + std::to_string(static_cast<int>(act)));
}

// ---------------------------------------------------------------------------------------------
// 16-byte packs: kPack<T> elements of T moved by one 128-bit load/store.
template <class T> inline constexpr int kPack = static_cast<int>(16 / sizeof(T));

template <class T> struct Pack {
  T v[kPack<T>];
};

template <class T> __device__ __forceinline__ Pack<T> load_pack(const T* p) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  Pack<T> r;
  memcpy(&r, &u, sizeof(u));
  return r;
}
template <class T> __device__ __forceinline__ void store_pack(T* p, const Pack<T>& r) {
  uint4 u;
  memcpy(&u, &r, sizeof(u));
  *reinterpret_cast<uint4*>(p) = u;
}

inline bool aligned16(const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; }

// ---------------------------------------------------------------------------------------------
// Reductions. block_sum needs blockDim.x a multiple of 32 (≤ 1024) and `scratch` of 32 floats in
// shared memory; every thread of the block must call it, and every thread gets the total. The
// trailing barrier lets the caller reuse `scratch` right away.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = static_cast<int>(threadIdx.x) & 31;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int warps = static_cast<int>(blockDim.x) >> 5;
  v = warp_sum(v);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : 0.0f;
  v = warp_sum(v);
  __syncthreads();
  return v;
}

// ---------------------------------------------------------------------------------------------
// Grid sizing for grid-stride loops: enough blocks for several waves on the largest GPUs (an H200
// holds 132 SMs × 2048 threads ≈ 1056 blocks of 256), no more — past that, extra blocks only add
// scheduling work; each thread loops instead.
inline constexpr int kThreads = 256;
inline constexpr std::int64_t kMaxBlocks = 4096;

inline unsigned grid_for(std::int64_t work_items, int threads = kThreads) {
  std::int64_t blocks = (work_items + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  return static_cast<unsigned>(blocks);
}

__device__ __forceinline__ std::int64_t global_thread() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t grid_threads() {
  return static_cast<std::int64_t>(gridDim.x) * blockDim.x;
}

// V elements of T: one 16-byte pack (V·sizeof(T) = 16) or a single element (V = 1), loaded and stored
// as a unit (layernorm.cu and the llm_* kernels).
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

// ---------------------------------------------------------------------------------------------
// Programmatic dependent launch (sm_90+; CUDA programming guide, "Programmatic Dependent Launch and
// Synchronization"). A kernel launched with launch_pdl() may start while the kernel before it in the
// stream is still running: it must call pdl_wait() before it reads anything that kernel wrote (or
// writes anything it reads); what it reads before — weights, which no kernel of the pass writes — it
// streams while the previous kernel drains. A kernel calls pdl_trigger() to let its dependent start
// early (without it the dependent starts when it ends). Both are no-ops below sm_90, and launch_pdl
// is a plain launch there. Captured into a CUDA graph as a programmatic edge.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// VRAMFIT_NO_PDL=1 turns it off (plain launches), e.g. to rule it out when hunting a race. Inputs a
// PDL kernel reads after pdl_wait() must not go through the non-coherent read-only path (__ldg,
// ld.global.nc): it may hold lines from before the previous kernel's writes; use __ldcg or plain loads.
// A 16-byte load through L1 on the coherent path (ld.global, not .nc) for inputs that a PDL kernel
// reads after pdl_wait(); volatile keeps it after the wait.
__device__ __forceinline__ uint4 ld_coherent(const void* p) {
  uint4 v;
  asm volatile("ld.global.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
  return v;
}

// sm_90 or newer on the current device (programmatic dependent launch, thread-block clusters).
// Answered per device ordinal, once each: a process may drive cards of different generations (an
// sm_86 and an sm_90 card in one machine), so the first device's answer must not stand for the others.
// The table is lock-free (relaxed atomics: two threads racing on a fresh ordinal compute the same
// answer); ordinals past it, which no machine has, are asked every time.
inline bool sm90_or_newer() {
  constexpr int kMaxOrdinals = 64;
  static std::atomic<std::int8_t> known[kMaxOrdinals] = {};  // 0 not asked yet, 1 older, 2 sm_90+
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  const bool tabled = dev >= 0 && dev < kMaxOrdinals;
  if (tabled)
    if (const std::int8_t k = known[dev].load(std::memory_order_relaxed); k != 0) return k == 2;
  const int cc = device_cc(dev);  // backend/cuda/arch.h: VRAMFIT_ASSUME_SM and the build's architectures cap it
  if (cc == 0) return false;
  if (tabled) known[dev].store(cc >= 90 ? 2 : 1, std::memory_order_relaxed);
  return cc >= 90;
}

// PDL on the current device, unless VRAMFIT_NO_PDL=1 (read once: the environment is the process's).
inline bool pdl_supported() {
  static const bool disabled = [] {
    const char* e = std::getenv("VRAMFIT_NO_PDL");
    return e != nullptr && e[0] == '1';
  }();
  return !disabled && sm90_or_newer();
}

// A launch with launch attributes (cudaLaunchKernelEx): programmatic serialization, cluster dims, ….
template <class... Params, class... Args>
void launch_with(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream,
                 cudaLaunchAttribute* attrs, unsigned num_attrs, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cfg.attrs = attrs;
  cfg.numAttrs = num_attrs;
  CUDA_CHECK(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

template <class... Params, class... Args>
void launch_pdl(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t smem, cudaStream_t stream, Args&&... args) {
  if (!pdl_supported()) {
    kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
    CUDA_CHECK(cudaGetLastError());
    return;
  }
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  launch_with(kernel, grid, block, smem, stream, attr, 1, std::forward<Args>(args)...);
}

}  // namespace vramfit::cuda::kernels::detail
