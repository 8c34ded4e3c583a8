// GGUF tensor types: ggml's block sizes and how vramfit's dtypes map to them (weights/gguf.h; the
// metadata values and the parser are in gguf.cpp).
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "weights/gguf.h"

namespace vramfit {

// ---------------------------------------------------------------------------------------------
// Types. Block sizes: ggml's type_traits table (ggml.c) as listed in the GGUF spec and in the gguf
// Python package's GGML_QUANT_SIZES (tests/weights/gguf_python_test checks this table against it).
// Q8_1 is ggml's block_q8_1 {half d, half s, int8 qs[32]} = 36 bytes (ggml-common.h static_assert);
// gguf-py 0.19 lists 40 (an older float d, float s layout) — Q8_1 is an activation type that files
// do not hold, so the difference is moot; the test exempts it.
namespace {

const std::vector<GgmlTypeInfo>& type_table() {
  static const std::vector<GgmlTypeInfo> t = {
      {GgmlType::F32, "F32", 1, 4},           {GgmlType::F16, "F16", 1, 2},
      {GgmlType::Q4_0, "Q4_0", 32, 18},       {GgmlType::Q4_1, "Q4_1", 32, 20},
      {GgmlType::Q5_0, "Q5_0", 32, 22},       {GgmlType::Q5_1, "Q5_1", 32, 24},
      {GgmlType::Q8_0, "Q8_0", 32, 34},       {GgmlType::Q8_1, "Q8_1", 32, 36},
      {GgmlType::Q2_K, "Q2_K", 256, 84},      {GgmlType::Q3_K, "Q3_K", 256, 110},
      {GgmlType::Q4_K, "Q4_K", 256, 144},     {GgmlType::Q5_K, "Q5_K", 256, 176},
      {GgmlType::Q6_K, "Q6_K", 256, 210},     {GgmlType::Q8_K, "Q8_K", 256, 292},
      {GgmlType::IQ2_XXS, "IQ2_XXS", 256, 66}, {GgmlType::IQ2_XS, "IQ2_XS", 256, 74},
      {GgmlType::IQ3_XXS, "IQ3_XXS", 256, 98}, {GgmlType::IQ1_S, "IQ1_S", 256, 50},
      {GgmlType::IQ4_NL, "IQ4_NL", 32, 18},   {GgmlType::IQ3_S, "IQ3_S", 256, 110},
      {GgmlType::IQ2_S, "IQ2_S", 256, 82},    {GgmlType::IQ4_XS, "IQ4_XS", 256, 136},
      {GgmlType::I8, "I8", 1, 1},             {GgmlType::I16, "I16", 1, 2},
      {GgmlType::I32, "I32", 1, 4},           {GgmlType::I64, "I64", 1, 8},
      {GgmlType::F64, "F64", 1, 8},           {GgmlType::IQ1_M, "IQ1_M", 256, 56},
      {GgmlType::BF16, "BF16", 1, 2},         {GgmlType::TQ1_0, "TQ1_0", 256, 54},
      {GgmlType::TQ2_0, "TQ2_0", 256, 66},    {GgmlType::MXFP4, "MXFP4", 32, 17},
      {GgmlType::NVFP4, "NVFP4", 64, 36},     {GgmlType::Q1_0, "Q1_0", 128, 18},
  };
  return t;
}

}  // namespace

const std::vector<GgmlTypeInfo>& all_ggml_types() { return type_table(); }

const GgmlTypeInfo* ggml_type_info(std::uint32_t id) {
  for (const auto& i : type_table())
    if (static_cast<std::uint32_t>(i.type) == id) return &i;
  return nullptr;
}
const GgmlTypeInfo& ggml_type_info(GgmlType t) {
  const GgmlTypeInfo* i = ggml_type_info(static_cast<std::uint32_t>(t));
  VRAMFIT_CHECK(i != nullptr, "GgmlType value is in the table");
  return *i;
}
std::string_view to_string(GgmlType t) {
  const GgmlTypeInfo* i = ggml_type_info(static_cast<std::uint32_t>(t));
  return i ? i->name : std::string_view("unknown");
}

std::optional<DType> to_dtype(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return DType::f32;
    case GgmlType::F16: return DType::f16;
    case GgmlType::BF16: return DType::bf16;
    case GgmlType::Q8_0: return DType::q8_0;
    case GgmlType::Q4_0: return DType::q4_0;
    case GgmlType::Q4_K: return DType::q4_k;
    case GgmlType::Q6_K: return DType::q6_k;
    default: return std::nullopt;
  }
}
std::optional<GgmlType> to_ggml_type(DType t) {
  switch (t) {
    case DType::f32: return GgmlType::F32;
    case DType::f16: return GgmlType::F16;
    case DType::bf16: return GgmlType::BF16;
    case DType::q8_0: return GgmlType::Q8_0;
    case DType::q4_0: return GgmlType::Q4_0;
    case DType::q4_k: return GgmlType::Q4_K;
    case DType::q6_k: return GgmlType::Q6_K;
    default: return std::nullopt;
  }
}
bool ggml_type_supported(GgmlType t) { return to_dtype(t).has_value(); }

std::uint64_t ggml_nbytes(GgmlType t, std::span<const std::uint64_t> ne) {
  const GgmlTypeInfo& ti = ggml_type_info(t);
  std::uint64_t numel = 1;
  bool zero = false;
  for (auto d : ne) {
    if (d == 0) zero = true;
    else if (numel > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / d)
      throw InvalidInput(fmt::format("{} tensor: element count overflows 63 bits", ti.name));
    else numel *= d;
  }
  if (zero) return 0;
  if (!ne.empty() && ne[0] % ti.block_elems != 0)
    throw InvalidInput(fmt::format("{} tensor: row length ne[0] = {} is not a multiple of the block size {}", ti.name,
                                   ne[0], ti.block_elems));
  const std::uint64_t blocks = numel / ti.block_elems;
  // F64 or I64 with 2^61 elements is 2^64 bytes: the byte count itself must not wrap.
  if (blocks > std::numeric_limits<std::uint64_t>::max() / ti.block_bytes)
    throw InvalidInput(fmt::format("{} tensor: {} elements need more than 2^64 bytes", ti.name, numel));
  return numel / ti.block_elems * ti.block_bytes;
}

}  // namespace vramfit
