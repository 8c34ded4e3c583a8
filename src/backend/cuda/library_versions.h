// backend/cuda/library_versions.h — which cuDNN, cuBLASLt and CUDA this process runs on.
//
// A measurement is only worth keeping with the software it was measured on (STYLE.md, "Print the
// device first"), and the library loaded at run time can differ from the headers we were built with
// (a GPU host with cuDNN 9.14 running a binary built against 9.19). So this reports both, and the path
// of the shared object actually loaded (dladdr on one of its functions), so `vramfit devices` can say
// "cuDNN 9.14.0 (built with 9.19.0) from /usr/lib/x86_64-linux-gnu/libcudnn.so.9.14.0".
//
// In: nothing (no GPU needed). Out: LibraryVersions. Never throws.
#pragma once

#include <cstdint>
#include <string>

namespace vramfit::cuda {

struct LibraryVersions {
  // cuDNN: cudnnGetVersion() at run time vs. CUDNN_VERSION of the headers. Encoding since cuDNN 9:
  // 10000·major + 100·minor + patch (cudnn_version.h); cuDNN 8 used 1000·major + 100·minor + patch.
  std::int64_t cudnn_loaded = 0;
  std::int64_t cudnn_built = 0;
  std::int64_t cudnn_cudart = 0;  // the CUDA runtime cuDNN was built for (cudnnGetCudartVersion)
  // cuBLASLt: cublasLtGetVersion() vs. CUBLAS_VERSION (10000·major + 100·minor + patch).
  std::int64_t cublaslt_loaded = 0;
  std::int64_t cublaslt_built = 0;
  // CUDA: 1000·major + 10·minor. runtime is the (statically linked) cudart; driver 0 when no driver.
  int cuda_runtime = 0;
  int cuda_driver = 0;
  int cuda_built = 0;  // CUDART_VERSION of the headers
  std::string cudnn_path;     // the libcudnn shared object loaded, symlinks resolved; "" if unknown
  std::string cublaslt_path;  // likewise for libcublasLt
};

LibraryVersions library_versions() noexcept;

std::string format_cudnn_version(std::int64_t v);    // 91400 → "9.14.0"
std::string format_cublas_version(std::int64_t v);   // 130100 → "13.1.0"
std::string format_cuda_version(int v);              // 13000 → "13.0"

std::string cudnn_version_string(const LibraryVersions& v);     // "cuDNN 9.14.0 (built with 9.19.0)"
std::string cublaslt_version_string(const LibraryVersions& v);  // "cuBLASLt 13.1.0 (built with 13.1.0)"
std::string cuda_version_string(const LibraryVersions& v);      // "CUDA runtime 13.0, driver 13.0 (built with 13.0)"
// All of the above with the library paths, one line each, for the head of every report.
std::string describe(const LibraryVersions& v);

// Path of the shared object that defines the function at `address`, symlinks resolved; "" if the
// address is not in a shared object.
std::string shared_object_path(const void* address) noexcept;

}  // namespace vramfit::cuda
