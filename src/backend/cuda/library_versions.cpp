// backend/cuda/library_versions.cpp — run-time vs. build-time library versions (see library_versions.h).
#include "backend/cuda/library_versions.h"

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <dlfcn.h>
#include <link.h>

#include <fmt/format.h>

#include <climits>
#include <cstdlib>
#include <string_view>

namespace vramfit::cuda {

namespace {

std::string resolve(const char* path) {
  if (path == nullptr || path[0] == '\0') return {};
  char buf[PATH_MAX];
  if (realpath(path, buf) != nullptr) return buf;
  return path;
}

bool looks_like(const std::string& path, std::string_view stem) {
  const auto slash = path.find_last_of('/');
  const std::string_view file = std::string_view(path).substr(slash == std::string::npos ? 0 : slash + 1);
  return file.starts_with(stem);
}

// Path of an already-loaded library by its soname (dlopen with RTLD_NOLOAD never loads anything).
std::string loaded_by_soname(const char* soname) {
  void* h = dlopen(soname, RTLD_LAZY | RTLD_NOLOAD);
  if (h == nullptr) return {};
  std::string out;
  link_map* map = nullptr;
  if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr) out = resolve(map->l_name);
  dlclose(h);
  return out;
}

// dladdr on a function the library exports. In a non-PIE executable the address of an imported
// function can be its PLT stub inside the executable; then fall back to the soname lookup.
std::string library_path(const void* fn, std::string_view stem, const char* soname) {
  std::string p = shared_object_path(fn);
  if (!p.empty() && looks_like(p, stem)) return p;
  std::string q = loaded_by_soname(soname);
  return q.empty() ? p : q;
}

template <class F> const void* address_of(F* fn) { return reinterpret_cast<const void*>(fn); }

}  // namespace

std::string shared_object_path(const void* address) noexcept {
  try {
    Dl_info info{};
    if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return {};
    return resolve(info.dli_fname);
  } catch (...) {
    return {};
  }
}

LibraryVersions library_versions() noexcept {
  LibraryVersions v;
  try {
    v.cudnn_loaded = static_cast<std::int64_t>(cudnnGetVersion());
    v.cudnn_built = CUDNN_VERSION;
    v.cudnn_cudart = static_cast<std::int64_t>(cudnnGetCudartVersion());
    v.cublaslt_loaded = static_cast<std::int64_t>(cublasLtGetVersion());
    v.cublaslt_built = CUBLAS_VERSION;
    v.cuda_built = CUDART_VERSION;
    if (cudaRuntimeGetVersion(&v.cuda_runtime) != cudaSuccess) {
      v.cuda_runtime = 0;
      (void)cudaGetLastError();
    }
    // "If no driver is installed, then 0 is returned as the driver version" (CUDA Runtime API).
    if (cudaDriverGetVersion(&v.cuda_driver) != cudaSuccess) {
      v.cuda_driver = 0;
      (void)cudaGetLastError();
    }
    v.cudnn_path = library_path(address_of(&cudnnGetVersion), "libcudnn",
                                ("libcudnn.so." + std::to_string(CUDNN_MAJOR)).c_str());
    v.cublaslt_path = library_path(address_of(&cublasLtGetVersion), "libcublasLt",
                                   ("libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR)).c_str());
  } catch (...) {
    // Only string allocation can throw here; what was filled in stays.
  }
  return v;
}

std::string format_cudnn_version(std::int64_t v) {
  if (v <= 0) return "unknown";
  if (v >= 90000)  // cuDNN 9: 10000·major + 100·minor + patch
    return fmt::format("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100);
  return fmt::format("{}.{}.{}", v / 1000, (v % 1000) / 100, v % 100);  // cuDNN ≤ 8
}

std::string format_cublas_version(std::int64_t v) {
  if (v <= 0) return "unknown";
  return fmt::format("{}.{}.{}", v / 10000, (v % 10000) / 100, v % 100);
}

std::string format_cuda_version(int v) {
  if (v <= 0) return "none";
  return fmt::format("{}.{}", v / 1000, (v % 1000) / 10);
}

std::string cudnn_version_string(const LibraryVersions& v) {
  return fmt::format("cuDNN {} (built with {})", format_cudnn_version(v.cudnn_loaded), format_cudnn_version(v.cudnn_built));
}

std::string cublaslt_version_string(const LibraryVersions& v) {
  return fmt::format("cuBLASLt {} (built with {})", format_cublas_version(v.cublaslt_loaded),
                     format_cublas_version(v.cublaslt_built));
}

std::string cuda_version_string(const LibraryVersions& v) {
  return fmt::format("CUDA runtime {}, driver {} (built with {})", format_cuda_version(v.cuda_runtime),
                     format_cuda_version(v.cuda_driver), format_cuda_version(v.cuda_built));
}

std::string describe(const LibraryVersions& v) {
  return fmt::format("{}\n{}{}{}\n{}{}{}", cuda_version_string(v), cudnn_version_string(v),
                     v.cudnn_path.empty() ? "" : " from ", v.cudnn_path, cublaslt_version_string(v),
                     v.cublaslt_path.empty() ? "" : " from ", v.cublaslt_path);
}

}  // namespace vramfit::cuda
