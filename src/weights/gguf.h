// weights/gguf.h — GGUF files (llama.cpp's model format): read, map onto a Llama config, write.
//
// In: a GGUF v2 or v3 file (little-endian). Out: its metadata (every value type, nested arrays),
// its tensor infos (name, ggml type, extents, byte range) and the tensors' bytes, memory-mapped.
// weights/gguf_quant.h turns those bytes into floats (and floats into blocks).
//
// The format (ggml-org/ggml docs/gguf.md, "File Structure"), every integer little-endian:
//   u32 magic "GGUF" (bytes 47 47 55 46) · u32 version (2 or 3; v1 used 32-bit counts and is refused)
//   u64 tensor_count · u64 metadata_kv_count
//   metadata_kv_count × { string key · u32 value_type · value }
//       string = u64 length + UTF-8 bytes (no terminator)
//       value_type: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (1 byte, 0 or 1), 8 string,
//                   9 array = { u32 element type · u64 count · count values } (arrays may nest),
//                   10 u64, 11 i64, 12 f64
//   tensor_count × { string name (≤ 64 bytes) · u32 n_dims (≤ 4) · n_dims × u64 ne · u32 ggml_type ·
//                    u64 offset }
//   padding to `general.alignment` (u32 key, default 32) · the data section: each tensor at
//   data_start + offset, offset a multiple of the alignment.
// ne[0] is the innermost extent (the row length of a matrix): a PyTorch Linear weight [out, in] is
// stored with ne = {in, out}. GgufTensorInfo::shape() gives the PyTorch order (outermost first).
// v3 differs from v2 only in allowing big-endian files; those are refused (Unsupported) because
// their version field reads byte-swapped.
//
// Every read is bounds-checked. A truncated or hostile file (wrong magic, unsupported version,
// absurd counts or dims, strings past the end, offsets past the end, misaligned or overlapping
// tensors, unknown types, n_dims > 4, element-count overflow) is an InvalidInput naming the file,
// the field and its byte offset: "model.gguf: tensor 3 (\"blk.0.attn_q.weight\") ne[1] at byte 812:
// ...". The file is parsed once at open; nothing is read lazily, so later calls cannot fail on a
// bad file.
//
// The llama architecture (llama.cpp's src/llama-arch.cpp key and tensor names; the same layout is
// used by `mistral`, and by `qwen2` plus q/k/v biases): gguf_llama_config() reads
// {arch}.block_count, .embedding_length, .feed_forward_length, .context_length,
// .attention.head_count, .attention.head_count_kv, .attention.layer_norm_rms_epsilon,
// .rope.freq_base, .rope.dimension_count, .attention.key_length and the vocabulary size
// (tokenizer.ggml.tokens, else {arch}.vocab_size, else token_embd.weight's ne[1]).
//
// RoPE and the q/k rows. Hugging Face Llama rotates the pairs (i, i + d/2) of each head
// ("rotate_half"); ggml's RoPE for llama (LLAMA_ROPE_TYPE_NORM) rotates adjacent pairs (2i, 2i+1),
// Meta's original layout. llama.cpp's converter (convert_hf_to_gguf.py, LlamaModel.permute) therefore
// reorders the rows of attn_q (with n_head) and attn_k (with n_head_kv): viewing the [n·d, K] weight
// as [n, 2, d/2, K] it swaps the middle axes to [n, d/2, 2, K]. So GGUF row h·d + 2i + j holds HF row
// h·d + j·d/2 + i (h < n heads, i < d/2, j ∈ {0, 1}). Rows are whole quantization blocks (blocks run
// along ne[0]), so the inverse is a row permutation of the raw bytes: gguf_rope_rows_to_hf().
// A consumer either applies it and runs HF's rotate_half RoPE, or keeps the rows and rotates
// adjacent pairs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/shape.h"
#include "core/tensor.h"

namespace vramfit {

// ---------------------------------------------------------------------------------------------
// ggml tensor types (ggml.h `enum ggml_type`; ids 4, 5 and 31–33, 36–38 were removed upstream).
enum class GgmlType : std::uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9, Q2_K = 10, Q3_K = 11,
  Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15, IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19,
  IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41
};

struct GgmlTypeInfo {
  GgmlType type;
  std::string_view name;     // as ggml names it: "Q4_K"
  std::uint32_t block_elems;  // elements per block (1 for plain types)
  std::uint32_t block_bytes;  // bytes per block
};
// nullptr when `id` is not a ggml type this table knows.
const GgmlTypeInfo* ggml_type_info(std::uint32_t id);
const GgmlTypeInfo& ggml_type_info(GgmlType t);
std::string_view to_string(GgmlType t);
const std::vector<GgmlTypeInfo>& all_ggml_types();
// The types vramfit can dequantize and run: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K.
bool ggml_type_supported(GgmlType t);
// Our DType for a supported type; nullopt otherwise.
std::optional<DType> to_dtype(GgmlType t);
// The inverse, for the types above; nullopt for other dtypes.
std::optional<GgmlType> to_ggml_type(DType t);
// Bytes of a tensor with these extents (ne[0] a multiple of the block); InvalidInput otherwise.
std::uint64_t ggml_nbytes(GgmlType t, std::span<const std::uint64_t> ne);

// ---------------------------------------------------------------------------------------------
// Metadata values.
enum class GgufValueType : std::uint32_t {
  UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
  String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12
};
std::string_view to_string(GgufValueType t);

// One value: a scalar, a string, or an array (of scalars, strings, or arrays). Arrays of numbers
// keep their elements' bytes as in the file (so a large array costs its size, not 50× that);
// at(i) returns element i as a value of its own.
class GgufValue {
 public:
  GgufValue() = default;
  static GgufValue u8(std::uint8_t v);
  static GgufValue i8(std::int8_t v);
  static GgufValue u16(std::uint16_t v);
  static GgufValue i16(std::int16_t v);
  static GgufValue u32(std::uint32_t v);
  static GgufValue i32(std::int32_t v);
  static GgufValue u64(std::uint64_t v);
  static GgufValue i64(std::int64_t v);
  static GgufValue f32(float v);
  static GgufValue f64(double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string v);
  // An array of `elem` values; every item must have type `elem` (InvalidInput otherwise).
  static GgufValue array(GgufValueType elem, const std::vector<GgufValue>& items);
  static GgufValue string_array(std::vector<std::string> items);
  static GgufValue f32_array(std::span<const float> items);
  static GgufValue i32_array(std::span<const std::int32_t> items);

  GgufValueType type() const { return type_; }
  bool is_array() const { return type_ == GgufValueType::Array; }
  bool is_integer() const;  // u8 … i64 (not bool)
  bool is_float() const;    // f32, f64

  // Scalars. as_int: any integer type (u64 above INT64_MAX → nullopt); as_float: any float or
  // integer type; as_bool: bool; as_string: string. nullopt when the type does not fit.
  std::optional<std::int64_t> as_int() const;
  std::optional<std::uint64_t> as_uint() const;
  std::optional<double> as_float() const;
  std::optional<bool> as_bool() const;
  const std::string* as_string() const;

  // Arrays.
  GgufValueType element_type() const { return elem_; }
  std::uint64_t size() const;         // element count (0 for scalars)
  GgufValue at(std::uint64_t i) const;  // InvalidInput when out of range or not an array
  const std::vector<std::string>& strings() const { return strings_; }  // element_type String
  const std::vector<GgufValue>& arrays() const { return arrays_; }      // element_type Array
  std::span<const std::uint8_t> raw() const { return raw_; }            // numeric elements, LE

  // A short human form for messages and tests: 3, -1.5, "text", [1, 2, …] (at most 8 items).
  std::string to_string() const;

  // Serialized size in bytes (type tag excluded) — what the writer emits.
  std::uint64_t encoded_bytes() const;
  void encode(std::vector<std::uint8_t>& out) const;  // value only, no type tag

 private:
  friend class GgufParser;
  GgufValueType type_ = GgufValueType::UInt8;
  std::uint64_t bits_ = 0;   // scalar payload, little-endian bits of the value as stored
  std::string str_;
  GgufValueType elem_ = GgufValueType::UInt8;
  std::uint64_t count_ = 0;
  std::vector<std::uint8_t> raw_;
  std::vector<std::string> strings_;
  std::vector<GgufValue> arrays_;
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
  std::uint64_t file_offset = 0;  // where the key's string starts
};

// ---------------------------------------------------------------------------------------------
// Tensor infos.
struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<std::uint64_t> ne;  // as in the file: ne[0] innermost
  std::uint64_t offset = 0;       // relative to the data section (as in the file)
  std::uint64_t file_offset = 0;  // absolute: data_offset() + offset
  std::uint64_t nbytes = 0;
  std::uint64_t info_offset = 0;  // where this tensor's info starts in the file (for messages)

  std::uint64_t numel() const;
  std::uint64_t row_elems() const { return ne.empty() ? 1 : ne[0]; }
  std::uint64_t rows() const;  // numel / ne[0]
  Shape shape() const;         // PyTorch order: {ne[n-1], …, ne[0]}
};

// ---------------------------------------------------------------------------------------------
// An opened (memory-mapped) file, or a buffer parsed in memory. Movable, not copyable; the bytes
// spans it hands out live as long as it does.
class GgufParser;  // gguf.cpp: bounds-checked reads that name the byte and the field

class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  // Parse from memory (fuzzing, tests); `label` names the buffer in errors.
  static GgufFile from_bytes(std::vector<std::uint8_t> bytes, std::string label);

  const std::string& path() const { return path_; }
  std::uint32_t version() const { return version_; }
  std::uint64_t alignment() const { return alignment_; }
  std::uint64_t data_offset() const { return data_offset_; }
  std::uint64_t file_size() const;

  const std::vector<GgufKeyValue>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  std::span<const std::uint8_t> bytes(const GgufTensorInfo& t) const;

  // The tensor dequantized to fp32, shape() order. Unsupported names the type and the tensor.
  Tensor read_f32(std::string_view name) const;

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

 private:
  GgufFile() = default;
  void parse();  // the header, then the three below
  void parse_metadata(GgufParser& p, std::uint64_t n_kv);
  void parse_tensor_infos(GgufParser& p, std::uint64_t n_tensors);
  void place_tensor_data(GgufParser& p);
  struct Mapping;
  std::string path_;
  std::unique_ptr<Mapping> map_;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::vector<std::size_t> kv_by_key_, tensors_by_name_;  // indices sorted by key / name
};

// ---------------------------------------------------------------------------------------------
// Writing (version 3, little-endian). Metadata in the order added, then tensors in the order
// added, each at the next multiple of the alignment. `general.alignment` is written when the
// alignment is not the default 32. The whole file is assembled in memory and written atomically
// (core/atomic_file.h): fine for tests and small models; a 7B Q4_K_M needs ~4 GB of host memory.
class GgufWriter {
 public:
  explicit GgufWriter(std::uint64_t alignment = 32);
  void add(std::string key, GgufValue value);  // duplicate key → InvalidInput
  // `bytes` must be exactly ggml_nbytes(type, ne); names ≤ 64 bytes, unique; 1 ≤ ne.size() ≤ 4.
  void add_tensor(std::string name, GgmlType type, std::vector<std::uint64_t> ne, std::vector<std::uint8_t> bytes);
  std::vector<std::uint8_t> to_bytes() const;
  void write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<std::uint64_t> ne;
    std::vector<std::uint8_t> bytes;
  };
  std::uint64_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<PendingTensor> tensors_;
};

// ---------------------------------------------------------------------------------------------
// The llama architecture.
struct GgufLlamaConfig {
  std::string architecture;  // general.architecture: llama, mistral or qwen2
  std::string name;          // general.name ("" when absent)
  std::int64_t block_count = 0;           // {arch}.block_count
  std::int64_t embedding_length = 0;      // {arch}.embedding_length (hidden size)
  std::int64_t feed_forward_length = 0;   // {arch}.feed_forward_length (intermediate size)
  std::int64_t head_count = 0;            // {arch}.attention.head_count
  std::int64_t head_count_kv = 0;         // {arch}.attention.head_count_kv (= head_count when absent)
  std::int64_t head_dim = 0;              // {arch}.attention.key_length, else embedding / heads
  std::int64_t context_length = 0;        // {arch}.context_length
  std::int64_t rope_dimension_count = 0;  // {arch}.rope.dimension_count (= head_dim when absent)
  std::int64_t vocab_size = 0;            // tokenizer.ggml.tokens size, {arch}.vocab_size or token_embd ne[1]
  double rope_freq_base = 10000.0;        // {arch}.rope.freq_base
  double rms_norm_eps = 1e-5;             // {arch}.attention.layer_norm_rms_epsilon (required)
  std::string rope_scaling_type;          // {arch}.rope.scaling.type ("" when absent: none)
  double rope_scaling_factor = 1.0;       // {arch}.rope.scaling.factor
  bool tied_embeddings = false;           // no output.weight: the lm head is token_embd.weight
  bool qkv_bias = false;                  // attn_q.bias present (qwen2)
  std::optional<std::uint32_t> file_type; // general.file_type (llama_ftype: 15 = MOSTLY_Q4_K_M)
};

// Reads and checks the config: missing or mistyped keys and non-positive extents are InvalidInput
// naming the file and the key. Unknown architectures are Unsupported naming it.
GgufLlamaConfig gguf_llama_config(const GgufFile& f);

// A tensor of the model under its Hugging Face name, ready for a consumer: type, PyTorch-order
// shape, the bytes in the file (still GGUF-ordered: see rope_rows_permuted).
struct GgufModelTensor {
  std::string hf_name;  // model.layers.3.self_attn.q_proj.weight
  const GgufTensorInfo* info = nullptr;
  GgmlType type = GgmlType::F32;
  Shape shape;                          // PyTorch order, e.g. q_proj [n_head·d, hidden]
  std::span<const std::uint8_t> bytes;  // in the mapped file
  bool rope_rows_permuted = false;      // attn_q / attn_k (and their biases): GGUF row order
  std::int64_t rope_heads = 0;          // heads of that permutation (n_head for q, n_head_kv for k)
};

// The config plus every tensor a Llama decoder needs, each checked for presence and shape against
// the config (InvalidInput naming the tensor, its shape and the expected one). Tensors the file has
// beyond those (rope_freqs.weight, …) are ignored. `f` must outlive the result.
struct GgufLlamaModel {
  GgufLlamaConfig config;
  std::vector<GgufModelTensor> tensors;  // HF checkpoint order: embed, layers, norm, lm_head
  const GgufModelTensor* find(std::string_view hf_name) const;
};
GgufLlamaModel gguf_llama_model(const GgufFile& f);

// Tensor names: GGUF ↔ Hugging Face (llama.cpp's LLM_TENSOR_NAMES for LLM_ARCH_LLAMA, and
// transformers' LlamaForCausalLM state dict). nullopt for a name outside the table.
//   token_embd.weight ↔ model.embed_tokens.weight      output_norm.weight ↔ model.norm.weight
//   output.weight ↔ lm_head.weight
//   blk.N.attn_norm ↔ model.layers.N.input_layernorm   blk.N.ffn_norm ↔ …post_attention_layernorm
//   blk.N.attn_q/k/v ↔ …self_attn.q_proj/k_proj/v_proj blk.N.attn_output ↔ …self_attn.o_proj
//   blk.N.ffn_gate/up/down ↔ …mlp.gate_proj/up_proj/down_proj        (.weight and .bias alike)
std::optional<std::string> gguf_to_hf_name(std::string_view gguf_name);
std::optional<std::string> hf_to_gguf_name(std::string_view hf_name);

// The RoPE row reordering (see the top of this file). For a tensor of n_heads·head_dim rows:
// hf_row_of_gguf_row(r) is the HF row that GGUF row r holds.
std::int64_t hf_row_of_gguf_row(std::int64_t r, std::int64_t n_heads, std::int64_t head_dim);
// Reorder rows of `row_bytes` bytes each: GGUF → HF (what a rotate_half consumer needs) and back.
// src and dst must not overlap; rows % n_heads == 0 and head_dim = rows / n_heads even.
void gguf_rope_rows_to_hf(std::span<const std::uint8_t> src, std::span<std::uint8_t> dst, std::int64_t rows,
                          std::int64_t n_heads);
void hf_rope_rows_to_gguf(std::span<const std::uint8_t> src, std::span<std::uint8_t> dst, std::int64_t rows,
                          std::int64_t n_heads);

}  // namespace vramfit
