// backend/cuda/arch.h — the compute capability vramfit's own gates and kernels act on.
//
// The card's, capped twice, so that the code paths of older cards (sm_86, sm_89: no programmatic
// dependent launch, no thread-block clusters, no sm_90 instruction) can run on the Hopper card at hand:
//   * at build time: a build whose highest CUDA architecture is below 90 (e.g. the PTX-only
//     compute_86 build, CMAKE_CUDA_ARCHITECTURES=86-virtual, which the driver JIT-compiles on an H100)
//     holds no sm_90 code, so the host must not launch as if it did: VRAMFIT_BUILD_MAX_SM (CMake sets
//     it from CMAKE_CUDA_ARCHITECTURES) caps the answer;
//   * at run time: VRAMFIT_ASSUME_SM=86 (any of 75, 80, 86, 89, 90, 100, 120) makes the host take the
//     decisions of that architecture — the gates (bf16 needs 80, LLM attention 80, cuDNN SDPA's head
//     dimension limit), PDL and clusters — while the device code stays what the build holds.
// cuBLASLt and cuDNN choose their own kernels for the real card; only vramfit's choices move.
// `vramfit devices` shows the real card and the assumed architecture.
#pragma once

#include <cstdlib>
#include <cuda_runtime.h>
#include <string>

namespace vramfit::cuda {

#ifndef VRAMFIT_BUILD_MAX_SM
#define VRAMFIT_BUILD_MAX_SM 1000
#endif

// VRAMFIT_ASSUME_SM as a compute capability (major·10 + minor), 0 when unset. Read once; a value that
// is not a known architecture is ignored (the device's own is used) and reported by assumed_sm_note().
inline int assumed_sm() {
  static const int v = [] {
    const char* e = std::getenv("VRAMFIT_ASSUME_SM");
    if (!e || !*e) return 0;
    const int n = std::atoi(e);
    for (int known : {75, 80, 86, 87, 89, 90, 100, 120})
      if (n == known) return n;
    return -1;
  }();
  return v;
}

// The capability the gates and launches use for a device whose own is `device_cc`.
inline int effective_cc(int device_cc) {
  int cc = device_cc < VRAMFIT_BUILD_MAX_SM ? device_cc : VRAMFIT_BUILD_MAX_SM;
  if (assumed_sm() > 0 && assumed_sm() < cc) cc = assumed_sm();
  return cc;
}

// The effective capability of a device ordinal (the current one by default).
inline int device_cc(int device = -1) {
  if (device < 0 && cudaGetDevice(&device) != cudaSuccess) return 0;
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess)
    return 0;
  return effective_cc(major * 10 + minor);
}

// "" when nothing is capped, else why ("treated as sm_86 (VRAMFIT_ASSUME_SM=86)").
inline std::string assumed_sm_note(int device_cc) {
  if (assumed_sm() < 0) return "VRAMFIT_ASSUME_SM ignored: not one of 75, 80, 86, 87, 89, 90, 100, 120";
  const int cc = effective_cc(device_cc);
  if (cc == device_cc) return "";
  return "treated as sm_" + std::to_string(cc) +
         (assumed_sm() == cc ? " (VRAMFIT_ASSUME_SM=" + std::to_string(cc) + ")" : " (this build's highest architecture)");
}

}  // namespace vramfit::cuda
