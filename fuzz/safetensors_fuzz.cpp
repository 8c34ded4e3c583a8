// fuzz/safetensors_fuzz.cpp — libFuzzer target for the safetensors reader (weights/safetensors.h),
// built with AddressSanitizer and UndefinedBehaviorSanitizer by scripts/fuzz. A parsed file has
// every F32/F16/BF16 tensor converted; only InvalidInput (bad file) and Unsupported (a dtype that
// cannot be read as fp32) may leave the reader.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "weights/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace vramfit;
  try {
    const SafetensorsFile f = SafetensorsFile::from_bytes(std::vector<std::uint8_t>(data, data + size), "fuzz.safetensors");
    for (const auto& [k, v] : f.metadata()) (void)k.size(), (void)v.size();
    for (const auto& e : f.entries()) {
      (void)f.raw(e);
      if (e.dtype == "F32" || e.dtype == "F16" || e.dtype == "BF16") (void)f.read_f32(e.name);
    }
  } catch (const InvalidInput&) {
  } catch (const Unsupported&) {
  }
  return 0;
}
