// backend/cuda/check.h — the one check-macro family of the CUDA backend.
//
// CUDA_CHECK(expr), CUDNN_CHECK(expr), CUBLAS_CHECK(expr) evaluate `expr` once; on failure they throw a
// typed vramfit error (core/error.h) — library code never prints or exits (STYLE.md, "Errors and
// resources"). The message carries the statement text, the library's error name and string, the function,
// and file:line:
//   "cudaMalloc(&ptr, bytes) failed: cudaErrorMemoryAllocation (out of memory) in DeviceArena at arena.cpp:40"
//
// Which error type, and why:
//   OutOfMemory  cudaErrorMemoryAllocation, CUBLAS_STATUS_ALLOC_FAILED, cuDNN's host/device allocation
//                failures (CUDNN_STATUS_ALLOC_FAILED is, since cuDNN 9, an alias of
//                CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED; cudnn_graph.h) — a result, not a crash.
//   CudaFatal    sticky errors: the context is corrupted and every later call fails (CUDA Runtime API,
//                cudaError enum: "the process must be terminated and relaunched"), e.g.
//                cudaErrorIllegalAddress, cudaErrorLaunchFailure, ...; also library "execution failed".
//                The process must not be reused (DESIGN rule 5: profile runs each config in a worker).
//   Unsupported  this build or GPU cannot do it: CUDNN_STATUS_NOT_SUPPORTED* (category 3000),
//                CUBLAS_STATUS_NOT_SUPPORTED / ARCH_MISMATCH, no device / driver too old / no kernel image.
//   InternalError anything else (a bad parameter is our bug: inputs are validated before the call).
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <string>

#include "core/error.h"

namespace vramfit::cuda {

// True for errors after which the CUDA context is unusable (the runtime documents these as requiring a
// process restart).
constexpr bool is_sticky(cudaError_t e) {
  switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorHardwareStackError:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorNvlinkUncorrectable:
    case cudaErrorContained:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorExternalDevice:
    case cudaErrorUnknown:
      return true;
    default:
      return false;
  }
}

namespace detail {

inline std::string where(const char* func, const char* file, int line) {
  std::string f(file);
  const auto slash = f.find_last_of('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  return std::string(" in ") + func + " at " + f + ":" + std::to_string(line);
}

[[noreturn]] inline void throw_cuda(cudaError_t e, const char* stmt, const char* func, const char* file, int line) {
  // Clear the runtime's "last error" for non-sticky errors so a later cudaGetLastError() does not
  // report this one again (sticky errors cannot be cleared).
  if (!is_sticky(e)) (void)cudaGetLastError();
  const std::string msg = std::string(stmt) + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")" +
                          where(func, file, line);
  if (e == cudaErrorMemoryAllocation) throw OutOfMemory(msg);
  if (is_sticky(e)) throw CudaFatal(msg);
  switch (e) {
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorUnsupportedPtxVersion:
    case cudaErrorNotSupported:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorDevicesUnavailable:
      throw Unsupported(msg);
    default:
      throw InternalError(msg);
  }
}

[[noreturn]] inline void throw_cudnn(cudnnStatus_t s, const char* stmt, const char* func, const char* file,
                                     int line) {
  // cudnnGetLastErrorString (cuDNN 9) holds the library's detailed reason for the last failure.
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof(detail));
  std::string msg = std::string(stmt) + " failed: " + cudnnGetErrorString(s) + " (" + std::to_string(static_cast<int>(s)) +
                    ")";
  if (detail[0] != '\0') msg += std::string(": ") + detail;
  msg += where(func, file, line);
  const int code = static_cast<int>(s);
  if (code == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED ||
      code == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    throw OutOfMemory(msg);
  switch (CUDNN_STATUS_CATEGORY(code)) {  // cuDNN 9 status codes are grouped by thousands (cudnn_graph.h)
    case CUDNN_STATUS_NOT_SUPPORTED:
      throw Unsupported(msg);
    case CUDNN_STATUS_EXECUTION_FAILED:
      throw CudaFatal(msg);
    default:
      throw InternalError(msg);
  }
}

[[noreturn]] inline void throw_cublas(cublasStatus_t s, const char* stmt, const char* func, const char* file,
                                      int line) {
  const std::string msg = std::string(stmt) + " failed: " + cublasLtGetStatusName(s) + " (" +
                          cublasLtGetStatusString(s) + ")" + where(func, file, line);
  switch (s) {
    case CUBLAS_STATUS_ALLOC_FAILED:
      throw OutOfMemory(msg);
    case CUBLAS_STATUS_NOT_SUPPORTED:
    case CUBLAS_STATUS_ARCH_MISMATCH:
      throw Unsupported(msg);
    case CUBLAS_STATUS_EXECUTION_FAILED:
      throw CudaFatal(msg);
    default:
      throw InternalError(msg);
  }
}

}  // namespace detail
}  // namespace vramfit::cuda

#define CUDA_CHECK(expr)                                                                         \
  do {                                                                                           \
    const cudaError_t vramfit_cuda_status_ = (expr);                                             \
    if (vramfit_cuda_status_ != cudaSuccess)                                                     \
      ::vramfit::cuda::detail::throw_cuda(vramfit_cuda_status_, #expr, __func__, __FILE__, __LINE__); \
  } while (0)

#define CUDNN_CHECK(expr)                                                                          \
  do {                                                                                             \
    const cudnnStatus_t vramfit_cudnn_status_ = (expr);                                            \
    if (vramfit_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                             \
      ::vramfit::cuda::detail::throw_cudnn(vramfit_cudnn_status_, #expr, __func__, __FILE__, __LINE__); \
  } while (0)

#define CUBLAS_CHECK(expr)                                                                           \
  do {                                                                                               \
    const cublasStatus_t vramfit_cublas_status_ = (expr);                                            \
    if (vramfit_cublas_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::vramfit::cuda::detail::throw_cublas(vramfit_cublas_status_, #expr, __func__, __FILE__, __LINE__); \
  } while (0)
