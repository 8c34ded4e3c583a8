// tests/predict/test_files.h — temporary TOML/JSON files for the predict tests, removed at the end.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace vramfit::test {

inline std::filesystem::path source_dir() { return VRAMFIT_SOURCE_DIR; }
inline std::filesystem::path gpus_toml() { return source_dir() / "data" / "gpus.toml"; }
inline std::filesystem::path h200_run_json() {
  return source_dir() / "bench" / "results" / "2026-11-28-h200" / "vramfit-run.json";
}

// A file under a per-process temporary folder; the folder is removed when the TempDir goes.
class TempDir {
 public:
  TempDir()
      : dir_(std::filesystem::temp_directory_path() /
             ("vramfit_predict_test_" + std::to_string(::getpid()) + "_" + std::to_string(next_id()++))) {
    std::filesystem::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const auto p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  const std::filesystem::path& path() const { return dir_; }

 private:
  static int& next_id() {
    static int id = 0;  // several TempDirs may be alive at once (nested in one test)
    return id;
  }
  std::filesystem::path dir_;
};

// A complete, valid [[gpu]] entry (sm_86: bf16, no fp8) to mutate in error tests.
inline std::string valid_gpu_entry(const std::string& name = "Test Card") {
  return "[[gpu]]\nname = \"" + name + "\"\naliases = [\"TC-1\"]\narchitecture = \"ampere\"\ncompute_capability = \"8.6\"\n"
         "vram = \"8GiB\"\nmemory_bandwidth_gbs = 448.0\nsms = 46\nfp32_tflops = 20.3\nfp16_tflops = 40.6\n"
         "bf16_tflops = 40.6\nint8_tops = 162.6\nsource = \"test\"\n";
}

}  // namespace vramfit::test
