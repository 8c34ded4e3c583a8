#include "core/dtype.h"

#include <array>

#include "core/error.h"

namespace vramfit {
namespace {

// GGUF block sizes from the GGUF spec / ggml type table:
//   q8_0: 32 elements, fp16 scale + 32 int8           = 34 bytes
//   q4_0: 32 elements, fp16 scale + 16 bytes of nibbles = 18 bytes
//   q4_k: 256 elements (super-block), 2 fp16 + 12 bytes scales + 128 bytes = 144 bytes
//   q6_k: 256 elements, 128 + 64 + 16 bytes + fp16 = 210 bytes
constexpr std::array<DTypeInfo, 11> kInfos = {{
    {DType::f32, "f32", 1, 4},
    {DType::f16, "f16", 1, 2},
    {DType::bf16, "bf16", 1, 2},
    {DType::fp8_e4m3, "fp8_e4m3", 1, 1},
    {DType::i8, "i8", 1, 1},
    {DType::i4, "i4", 2, 1},
    {DType::i32, "i32", 1, 4},
    {DType::q8_0, "q8_0", 32, 34},
    {DType::q4_0, "q4_0", 32, 18},
    {DType::q4_k, "q4_k", 256, 144},
    {DType::q6_k, "q6_k", 256, 210},
}};

constexpr std::array<std::string_view, 9> kPrecisionIds = {
    "fp32", "fp16", "bf16", "fp8", "int8", "int4", "q8_0", "q4_0", "q4_k_m"};

}  // namespace

const DTypeInfo& info(DType t) { return kInfos.at(static_cast<std::size_t>(t)); }
std::string_view to_string(DType t) { return info(t).name; }

const std::vector<DType>& all_dtypes() {
  static const std::vector<DType> all = [] {
    std::vector<DType> v;
    for (const auto& i : kInfos) v.push_back(i.dtype);
    return v;
  }();
  return all;
}

DType parse_dtype(std::string_view text) {
  for (const auto& i : kInfos)
    if (i.name == text) return i.dtype;
  std::string valid;
  for (const auto& i : kInfos) valid += (valid.empty() ? "" : ", ") + std::string(i.name);
  throw InvalidInput("unknown dtype '" + std::string(text) + "'; valid: " + valid);
}

std::uint64_t storage_bytes(DType t, std::uint64_t n) {
  const auto& i = info(t);
  const auto be = static_cast<std::uint64_t>(i.block_elems);
  return (n + be - 1) / be * static_cast<std::uint64_t>(i.block_bytes);
}

double bits_per_element(DType t) {
  const auto& i = info(t);
  return 8.0 * static_cast<double>(i.block_bytes) / static_cast<double>(i.block_elems);
}

bool is_float(DType t) {
  return t == DType::f32 || t == DType::f16 || t == DType::bf16 || t == DType::fp8_e4m3;
}

std::string_view to_string(Precision p) { return kPrecisionIds.at(static_cast<std::size_t>(p)); }

const std::vector<Precision>& all_precisions() {
  static const std::vector<Precision> all = {Precision::fp32, Precision::fp16, Precision::bf16,
                                             Precision::fp8,  Precision::int8, Precision::int4,
                                             Precision::q8_0, Precision::q4_0, Precision::q4_k_m};
  return all;
}

std::string precision_ids_joined() {
  std::string s;
  for (auto id : kPrecisionIds) s += (s.empty() ? "" : ", ") + std::string(id);
  return s;
}

Precision parse_precision(std::string_view text) {
  for (std::size_t i = 0; i < kPrecisionIds.size(); ++i)
    if (kPrecisionIds[i] == text) return static_cast<Precision>(i);
  throw InvalidInput("unknown precision '" + std::string(text) + "'; valid: " + precision_ids_joined());
}

DType weight_dtype(Precision p) {
  switch (p) {
    case Precision::fp32: return DType::f32;
    case Precision::fp16: return DType::f16;
    case Precision::bf16: return DType::bf16;
    case Precision::fp8: return DType::fp8_e4m3;
    case Precision::int8: return DType::i8;
    case Precision::int4: return DType::i4;
    case Precision::q8_0: return DType::q8_0;
    case Precision::q4_0: return DType::q4_0;
    case Precision::q4_k_m: return DType::q4_k;
  }
  return DType::f32;
}

DType activation_dtype(Precision p) {
  switch (p) {
    case Precision::fp32: return DType::f32;
    case Precision::bf16: return DType::bf16;
    default: return DType::f16;
  }
}

int min_compute_capability(Precision p) {
  switch (p) {
    case Precision::bf16: return 80;
    case Precision::fp8: return 89;
    default: return 0;
  }
}

}  // namespace vramfit
