// weights/gguf_quant.h — GGUF block types on the CPU: dequantize (the reference every GPU kernel is
// checked against), quantize, the Q4_K_M mix of llama.cpp, and model size / bits per weight.
//
// Block layouts (ggml's ggml-common.h block_* structs as described in the GGUF spec; all fp16 are
// IEEE half, little-endian). A tensor is a sequence of rows of ne[0] elements; each row is a whole
// number of blocks, so element e of a row lives in block e / QK at position e % QK:
//   Q8_0  32 elements, 34 bytes: fp16 d · int8 q[32]                      x = d·q
//   Q4_0  32 elements, 18 bytes: fp16 d · u8 qs[16]                       x = d·(nibble − 8)
//         element j < 16 is the low nibble of qs[j], element j + 16 its high nibble
//   Q4_K  256 elements, 144 bytes: fp16 d · fp16 dmin · u8 scales[12] · u8 qs[128]
//         8 sub-blocks of 32 with 6-bit scale sc[s] and min m[s], packed in scales[12]:
//           s < 4: sc = scales[s] & 63, m = scales[s+4] & 63
//           s ≥ 4: sc = (scales[s+4] & 15) | (scales[s−4] >> 6) << 4,
//                  m  = (scales[s+4] >> 4) | (scales[s]   >> 6) << 4
//         element 64c + l (c < 4, l < 32) is the low nibble of qs[32c + l] in sub-block 2c,
//         element 64c + 32 + l its high nibble in sub-block 2c + 1;  x = d·sc·q − dmin·m
//   Q6_K  256 elements, 210 bytes: u8 ql[128] · u8 qh[64] · int8 scales[16] · fp16 d
//         for half h < 2 and l < 32, with ql' = ql + 64h, qh' = qh + 32h, base = 128h:
//           q(base + l)      = (ql'[l] & 15)      | ((qh'[l] >> 0) & 3) << 4
//           q(base + l + 32) = (ql'[l + 32] & 15) | ((qh'[l] >> 2) & 3) << 4
//           q(base + l + 64) = (ql'[l] >> 4)      | ((qh'[l] >> 4) & 3) << 4
//           q(base + l + 96) = (ql'[l + 32] >> 4) | ((qh'[l] >> 6) & 3) << 4
//         x(e) = d·scales[e / 16]·(q(e) − 32)
// F32, F16 and BF16 are plain little-endian arrays.
//
// Quantizers: Q8_0 and Q4_0 are the ggml reference quantizers' arithmetic (round to nearest with
// the block's absolute maximum; Q4_0 maps the signed extreme to −8), so they agree bit for bit with
// the gguf Python package's numpy ports. Q4_K and Q6_K are our own searches (see gguf_quant.cpp):
// least-squares scale (and min) per sub-block over a grid of candidates, then 6-bit (Q4_K) or 8-bit
// (Q6_K) scales relative to the super-block's fp16 scale.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor_map.h"
#include "weights/gguf.h"

namespace vramfit {

// Dequantize: src holds dst.size() elements of type t (dst.size() a multiple of the block).
// Unsupported names the type for a type outside F32/F16/BF16/Q8_0/Q4_0/Q4_K/Q6_K; InvalidInput
// when the sizes disagree.
void gguf_dequantize(GgmlType t, std::span<const std::uint8_t> src, std::span<float> dst);
std::vector<float> gguf_dequantize(GgmlType t, std::span<const std::uint8_t> src, std::uint64_t n_elements);

// Quantize n elements (a multiple of the block) to type t. Rows are independent, so a matrix is
// quantized by passing it whole.
std::vector<std::uint8_t> gguf_quantize(GgmlType t, std::span<const float> src);

// ---------------------------------------------------------------------------------------------
// Recipes: which type each tensor of a Llama model gets.
//   F16, Q8_0, Q4_0: every matrix in that type (llama.cpp LLAMA_FTYPE_MOSTLY_*: "except 1d
//   tensors"), except output.weight, which llama.cpp keeps at Q6_K for the k-quant and legacy
//   low-bit mixes alike (llama_tensor_get_type: output gets Q6_K unless the base type is ≥ 6 bits):
//   so Q4_0 files carry output.weight in Q6_K, Q8_0 and F16 files in their own type.
//   Q4_K_M (LLAMA_FTYPE_MOSTLY_Q4_K_M, llama.cpp src/llama-quant.cpp llama_tensor_get_type): Q4_K,
//   except output.weight → Q6_K, and attn_v.weight and ffn_down.weight → Q6_K in the layers where
//   use_more_bits(i, n) holds: i < n/8, or i ≥ 7n/8, or (i − n/8) % 3 == 2 — half the layers
//   (16 of 32 for Llama-2-7B: 0–3, 6, 9, …, 27, 28–31). token_embd.weight stays Q4_K.
//   Not modelled: llama.cpp's extra upgrades for 70B / many-expert models (attn_v → Q5_K/Q8_0) and
//   its Q5_0 fallback for rows not a multiple of 256 (we fall back to Q8_0, then F16).
// 1-D tensors (norms, biases) are F32 in every recipe, as llama.cpp keeps them.
enum class GgufRecipe : std::uint8_t { F16, Q8_0, Q4_0, Q4_K_M };
std::string_view to_string(GgufRecipe r);
GgufRecipe parse_gguf_recipe(std::string_view text);  // f16, q8_0, q4_0, q4_k_m; InvalidInput otherwise

// llama.cpp's use_more_bits(i_layer, n_layers).
bool gguf_use_more_bits(std::int64_t layer, std::int64_t n_layers);
// The type `recipe` gives the GGUF tensor `gguf_name` with extents `ne` (GGUF order) in a model of
// n_layers blocks.
GgmlType gguf_recipe_type(GgufRecipe recipe, std::string_view gguf_name, std::span<const std::uint64_t> ne,
                          std::int64_t n_layers);
// llama_ftype id written to general.file_type (llama.h: 1 MOSTLY_F16, 7 MOSTLY_Q8_0, 2 MOSTLY_Q4_0,
// 15 MOSTLY_Q4_K_M).
std::uint32_t gguf_recipe_file_type(GgufRecipe r);

// ---------------------------------------------------------------------------------------------
// Model size.
struct GgufTensorShape {
  std::string name;               // GGUF name
  std::vector<std::uint64_t> ne;  // GGUF order
};
// Every tensor of a Llama model in GGUF names (llama.cpp's order): token_embd, per block attn_norm,
// attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down; output_norm; output
// (absent when tied).
std::vector<GgufTensorShape> gguf_llama_tensor_shapes(const GgufLlamaConfig& c);

struct GgufSizeReport {
  std::uint64_t bytes = 0;       // tensor data (headers and padding excluded, as llama.cpp reports)
  std::uint64_t parameters = 0;  // elements
  std::map<GgmlType, std::uint64_t> bytes_by_type;
  std::map<GgmlType, std::uint64_t> tensors_by_type;
  double gib() const { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }
  double bits_per_weight() const { return parameters ? 8.0 * static_cast<double>(bytes) / static_cast<double>(parameters) : 0.0; }
};
GgufSizeReport gguf_model_size(const std::vector<GgufTensorShape>& tensors, GgufRecipe recipe, std::int64_t n_layers);
// The same for a file as it is (each tensor in its own type).
GgufSizeReport gguf_model_size(const GgufFile& f);

// Write a Llama model as GGUF: HF-named fp32 weights (model.embed_tokens.weight, …; every tensor of
// gguf_llama_tensor_shapes(c) under its HF name) are renamed, q_proj/k_proj rows reordered for
// ggml's RoPE (gguf.h), quantized by `recipe`, and written with the llama metadata of `c`. A
// missing or misshapen tensor is InvalidInput naming it.
void write_llama_gguf(const std::string& path, const GgufLlamaConfig& c, const TensorMap& hf_weights, GgufRecipe recipe);

}  // namespace vramfit
