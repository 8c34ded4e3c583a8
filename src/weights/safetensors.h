// weights/safetensors.h — a reader for the safetensors format (huggingface/safetensors, "format"):
// 8-byte little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[b,e]},
// "__metadata__": {str: str}}, then the data; offsets are relative to the end of the header.
//
// The file is memory-mapped; every field is checked (header length within the file, JSON valid,
// known dtype, shape × dtype size == e − b, offsets inside the data area, no overlapping tensors).
// A bad file is an InvalidInput error naming the file, the tensor or field, and the byte offset.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/shape.h"
#include "core/tensor.h"

namespace vramfit {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as in the file: F32, F16, BF16, I8, …
  Shape shape;
  std::uint64_t begin = 0, end = 0;  // absolute file offsets
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // Parse from memory (for fuzzing and tests); `label` names the buffer in errors.
  static SafetensorsFile from_bytes(std::vector<std::uint8_t> bytes, std::string label);

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(std::string_view name) const;
  std::span<const std::uint8_t> raw(const SafetensorsEntry& e) const;
  // F32, F16 and BF16 converted to fp32; other dtypes → Unsupported naming the tensor.
  Tensor read_f32(std::string_view name) const;

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  ~SafetensorsFile();

 private:
  SafetensorsFile() = default;
  void parse();
  struct Mapping;
  std::string path_;
  std::unique_ptr<Mapping> map_;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Write tensors as F32 (tests and tools; tensors in map order).
void write_safetensors_f32(const std::string& path, const std::map<std::string, Tensor, std::less<>>& tensors,
                           const std::map<std::string, std::string>& metadata = {});

}  // namespace vramfit
