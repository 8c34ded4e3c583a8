// core/dtype.h — element types of tensors, and the precisions a user asks for.
//
// A DType is how one tensor is stored. Block types (GGUF q8_0, q4_0, q4_k, q6_k) store a block of
// elements in a fixed number of bytes (GGUF spec, "ggml types"); int4 is packed two per byte.
// A Precision is a user-facing recipe (DESIGN.md "Precision semantics") that maps to dtypes for
// weights and activations.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vramfit {

enum class DType : std::uint8_t { f32, f16, bf16, fp8_e4m3, i8, i4, i32, q8_0, q4_0, q4_k, q6_k };

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  std::int64_t block_elems;  // elements per block (1 for plain types, 2 for packed int4)
  std::int64_t block_bytes;  // bytes per block
};

const DTypeInfo& info(DType t);
std::string_view to_string(DType t);
DType parse_dtype(std::string_view text);  // throws InvalidInput listing the valid names
const std::vector<DType>& all_dtypes();

// Columns per fp16 scale of vramfit's int4 weights (W4A16: weights/quant_int.h has the format, the CUDA
// kernels read the same groups). A storage constant like the block sizes above, kept here so that the
// backend needs nothing from weights/.
inline constexpr std::int64_t kInt4GroupSize = 128;

// Bytes needed to store n elements (rounded up to whole blocks).
std::uint64_t storage_bytes(DType t, std::uint64_t n_elements);
// Bits per element (e.g. 4.5 for q4_0: 18 bytes per 32 elements).
double bits_per_element(DType t);
bool is_float(DType t);

enum class Precision : std::uint8_t { fp32, fp16, bf16, fp8, int8, int4, q8_0, q4_0, q4_k_m };

std::string_view to_string(Precision p);
// Accepts the ids of DESIGN.md; throws InvalidInput naming the text and listing valid ids.
Precision parse_precision(std::string_view text);
const std::vector<Precision>& all_precisions();
std::string precision_ids_joined();  // "fp32, fp16, …" for help and error text

// Storage of the model's weights and activations under a precision (vision and LLM alike;
// bias and norm parameters follow activation_dtype).
DType weight_dtype(Precision p);
DType activation_dtype(Precision p);
// Smallest compute capability (major*10+minor) with native support; 0 if any.
int min_compute_capability(Precision p);

}  // namespace vramfit
