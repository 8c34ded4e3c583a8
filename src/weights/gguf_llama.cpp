// GGUF writer, the llama architecture's config and tensors, tensor names and the RoPE row order
// (weights/gguf.h). Key and tensor names: llama.cpp src/llama-arch.cpp (LLM_KV_NAMES,
// LLM_TENSOR_NAMES) and gguf-py's constants.py; the row order: convert_hf_to_gguf.py's
// LlamaModel.permute (described, not copied, in gguf.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "core/atomic_file.h"
#include "core/checked.h"
#include "core/error.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"

namespace vramfit {

// ---------------------------------------------------------------------------------------------
// Writer.
GgufWriter::GgufWriter(std::uint64_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 0xffffffffu)
    throw InvalidInput(fmt::format("GGUF alignment {} must be a power of two that fits in 32 bits", alignment));
  if (alignment != 32) add("general.alignment", GgufValue::u32(static_cast<std::uint32_t>(alignment)));
}

void GgufWriter::add(std::string key, GgufValue value) {
  for (const auto& [k, v] : kv_)
    if (k == key) throw InvalidInput(fmt::format("GGUF writer: metadata key \"{}\" added twice", key));
  if (key.empty() || key.size() > 65535) throw InvalidInput("GGUF writer: a metadata key must be 1 to 65535 bytes");
  kv_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<std::uint64_t> ne, std::vector<std::uint8_t> bytes) {
  if (name.empty() || name.size() > 64)
    throw InvalidInput(fmt::format("GGUF writer: tensor name \"{}\" must be 1 to 64 bytes", name));
  for (const auto& t : tensors_)
    if (t.name == name) throw InvalidInput(fmt::format("GGUF writer: tensor \"{}\" added twice", name));
  if (ne.empty() || ne.size() > 4) throw InvalidInput(fmt::format("GGUF writer: tensor \"{}\" needs 1 to 4 extents", name));
  const std::uint64_t want = ggml_nbytes(type, ne);
  if (bytes.size() != want)
    throw InvalidInput(fmt::format("GGUF writer: tensor \"{}\" ({}) needs {} bytes, got {}", name, to_string(type), want,
                                   bytes.size()));
  tensors_.push_back({std::move(name), type, std::move(ne), std::move(bytes)});
}

namespace {
void put(std::vector<std::uint8_t>& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void put_str(std::vector<std::uint8_t>& out, std::string_view s) {
  put(out, s.size(), 8);
  out.insert(out.end(), s.begin(), s.end());
}
std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }
}  // namespace

std::vector<std::uint8_t> GgufWriter::to_bytes() const {
  std::vector<std::uint8_t> out = {'G', 'G', 'U', 'F'};
  put(out, 3, 4);
  put(out, tensors_.size(), 8);
  put(out, kv_.size(), 8);
  for (const auto& [k, v] : kv_) {
    put_str(out, k);
    put(out, static_cast<std::uint32_t>(v.type()), 4);
    v.encode(out);
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_str(out, t.name);
    put(out, t.ne.size(), 4);
    for (auto d : t.ne) put(out, d, 8);
    put(out, static_cast<std::uint32_t>(t.type), 4);
    put(out, offset, 8);
    offset = align_up(offset + t.bytes.size(), alignment_);
  }
  out.resize(static_cast<std::size_t>(align_up(out.size(), alignment_)), 0);
  for (const auto& t : tensors_) {
    out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    out.resize(static_cast<std::size_t>(align_up(out.size(), alignment_)), 0);
  }
  return out;
}

void GgufWriter::write(const std::string& path) const { write_file_atomic(path, to_bytes()); }

// ---------------------------------------------------------------------------------------------
// Names.
namespace {

struct NamePair {
  std::string_view gguf, hf;
};
// Per-block names (after "blk.N." / "model.layers.N.").
constexpr NamePair kBlockNames[] = {
    {"attn_norm", "input_layernorm"},     {"ffn_norm", "post_attention_layernorm"},
    {"attn_q", "self_attn.q_proj"},       {"attn_k", "self_attn.k_proj"},
    {"attn_v", "self_attn.v_proj"},       {"attn_output", "self_attn.o_proj"},
    {"ffn_gate", "mlp.gate_proj"},        {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
};
constexpr NamePair kGlobalNames[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

// "<prefix><digits>.<rest>" → layer and rest.
bool split_layer(std::string_view name, std::string_view prefix, std::string& layer, std::string_view& rest) {
  if (!name.starts_with(prefix)) return false;
  std::size_t i = prefix.size();
  const std::size_t start = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
  if (i == start || i - start > 9 || i >= name.size() || name[i] != '.') return false;
  if (name[start] == '0' && i - start > 1) return false;  // no leading zeros: one spelling per layer
  layer = std::string(name.substr(start, i - start));
  rest = name.substr(i + 1);
  return true;
}

std::optional<std::string> map_block(std::string_view rest, bool to_hf) {
  for (const auto& p : kBlockNames) {
    const std::string_view from = to_hf ? p.gguf : p.hf;
    const std::string_view to = to_hf ? p.hf : p.gguf;
    for (std::string_view suffix : {".weight", ".bias"})
      if (rest.size() == from.size() + suffix.size() && rest.starts_with(from) && rest.ends_with(suffix))
        return std::string(to) + std::string(suffix);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> gguf_to_hf_name(std::string_view n) {
  for (const auto& p : kGlobalNames)
    if (n == p.gguf) return std::string(p.hf);
  std::string layer;
  std::string_view rest;
  if (!split_layer(n, "blk.", layer, rest)) return std::nullopt;
  const auto m = map_block(rest, true);
  if (!m) return std::nullopt;
  return "model.layers." + layer + "." + *m;
}

std::optional<std::string> hf_to_gguf_name(std::string_view n) {
  for (const auto& p : kGlobalNames)
    if (n == p.hf) return std::string(p.gguf);
  std::string layer;
  std::string_view rest;
  if (!split_layer(n, "model.layers.", layer, rest)) return std::nullopt;
  const auto m = map_block(rest, false);
  if (!m) return std::nullopt;
  return "blk." + layer + "." + *m;
}

// ---------------------------------------------------------------------------------------------
// RoPE rows. GGUF row h·d + 2i + j holds HF row h·d + j·d/2 + i.
std::int64_t hf_row_of_gguf_row(std::int64_t r, std::int64_t n_heads, std::int64_t head_dim) {
  VRAMFIT_CHECK(n_heads > 0 && head_dim > 0 && head_dim % 2 == 0 && r >= 0 && r < n_heads * head_dim, "rope row in range");
  const std::int64_t h = r / head_dim, w = r % head_dim;
  const std::int64_t i = w / 2, j = w % 2;
  return h * head_dim + j * (head_dim / 2) + i;
}

namespace {
void permute_rows(std::span<const std::uint8_t> src, std::span<std::uint8_t> dst, std::int64_t rows, std::int64_t n_heads,
                  bool gguf_to_hf) {
  if (rows <= 0 || n_heads <= 0 || rows % n_heads != 0 || (rows / n_heads) % 2 != 0)
    throw InvalidInput(fmt::format("RoPE row permutation: {} rows cannot be split into {} heads of an even size", rows, n_heads));
  if (src.size() != dst.size() || src.size() % static_cast<std::uint64_t>(rows) != 0)
    throw InvalidInput(fmt::format("RoPE row permutation: {} source bytes, {} destination bytes, {} rows", src.size(),
                                   dst.size(), rows));
  const std::size_t rb = src.size() / static_cast<std::size_t>(rows);
  const std::int64_t hd = rows / n_heads;
  for (std::int64_t g = 0; g < rows; ++g) {
    const std::int64_t h = hf_row_of_gguf_row(g, n_heads, hd);
    const std::int64_t from = gguf_to_hf ? g : h, to = gguf_to_hf ? h : g;
    std::memcpy(dst.data() + static_cast<std::size_t>(to) * rb, src.data() + static_cast<std::size_t>(from) * rb, rb);
  }
}
}  // namespace

void gguf_rope_rows_to_hf(std::span<const std::uint8_t> src, std::span<std::uint8_t> dst, std::int64_t rows,
                          std::int64_t n_heads) {
  permute_rows(src, dst, rows, n_heads, true);
}
void hf_rope_rows_to_gguf(std::span<const std::uint8_t> src, std::span<std::uint8_t> dst, std::int64_t rows,
                          std::int64_t n_heads) {
  permute_rows(src, dst, rows, n_heads, false);
}

// ---------------------------------------------------------------------------------------------
// Config.
namespace {

const std::set<std::string, std::less<>>& llama_like() {
  static const std::set<std::string, std::less<>> s = {"llama", "mistral", "qwen2"};
  return s;
}

// A positive integer no larger than `max` (core/checked.h's limits: far beyond any real model, so a
// hostile value is refused here, naming the key, before any size is computed from it).
std::int64_t get_int(const GgufFile& f, const std::string& key, std::optional<std::int64_t> fallback, std::int64_t max) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (fallback) return *fallback;
    throw InvalidInput(fmt::format("{}: metadata \"{}\" is missing (needed for the model config)", f.path(), key));
  }
  const auto i = v->as_int();
  if (!i || *i <= 0)
    throw InvalidInput(fmt::format("{}: metadata \"{}\" must be a positive integer, got {} ({})", f.path(), key,
                                   v->to_string(), to_string(v->type())));
  if (*i > max)
    throw InvalidInput(fmt::format("{}: metadata \"{}\" is {}, more than the {} vramfit accepts (no real model comes close)",
                                   f.path(), key, *i, max));
  return *i;
}

double get_float(const GgufFile& f, const std::string& key, std::optional<double> fallback) {
  const GgufValue* v = f.find(key);
  if (!v) {
    if (fallback) return *fallback;
    throw InvalidInput(fmt::format("{}: metadata \"{}\" is missing (needed for the model config)", f.path(), key));
  }
  const auto d = v->as_float();
  if (!d || !(*d > 0) || !std::isfinite(*d))
    throw InvalidInput(fmt::format("{}: metadata \"{}\" must be a positive number, got {} ({})", f.path(), key,
                                   v->to_string(), to_string(v->type())));
  return *d;
}

}  // namespace

GgufLlamaConfig gguf_llama_config(const GgufFile& f) {
  GgufLlamaConfig c;
  const GgufValue* arch = f.find("general.architecture");
  if (!arch || !arch->as_string())
    throw InvalidInput(fmt::format("{}: metadata \"general.architecture\" is missing or not a string", f.path()));
  c.architecture = *arch->as_string();
  if (!llama_like().contains(c.architecture))
    throw Unsupported(fmt::format("{}: architecture \"{}\" is not supported (llama, mistral, qwen2 are)", f.path(),
                                  c.architecture));
  const std::string a = c.architecture + ".";
  if (const GgufValue* n = f.find("general.name"); n && n->as_string()) c.name = *n->as_string();
  if (const GgufValue* ft = f.find("general.file_type"); ft && ft->as_uint() && *ft->as_uint() <= 0xffffffffu)
    c.file_type = static_cast<std::uint32_t>(*ft->as_uint());

  c.block_count = get_int(f, a + "block_count", std::nullopt, limits::kMaxLayers);
  c.embedding_length = get_int(f, a + "embedding_length", std::nullopt, limits::kMaxHidden);
  c.feed_forward_length = get_int(f, a + "feed_forward_length", std::nullopt, limits::kMaxIntermediate);
  c.head_count = get_int(f, a + "attention.head_count", std::nullopt, limits::kMaxHeads);
  c.head_count_kv = get_int(f, a + "attention.head_count_kv", c.head_count, limits::kMaxHeads);
  c.context_length = get_int(f, a + "context_length", std::nullopt, limits::kMaxContext);
  if (c.embedding_length % c.head_count != 0 && !f.find(a + "attention.key_length"))
    throw InvalidInput(fmt::format("{}: {}embedding_length {} is not a multiple of attention.head_count {} and there is "
                                   "no attention.key_length",
                                   f.path(), a, c.embedding_length, c.head_count));
  c.head_dim = get_int(f, a + "attention.key_length", c.embedding_length / c.head_count, limits::kMaxHeadDim);
  if (c.head_count % c.head_count_kv != 0)
    throw InvalidInput(fmt::format("{}: {}attention.head_count {} is not a multiple of head_count_kv {}", f.path(), a,
                                   c.head_count, c.head_count_kv));
  if (c.head_dim % 2 != 0)
    throw InvalidInput(fmt::format("{}: head dimension {} is odd (RoPE rotates pairs)", f.path(), c.head_dim));
  c.rope_dimension_count = get_int(f, a + "rope.dimension_count", c.head_dim, limits::kMaxHeadDim);
  c.rope_freq_base = get_float(f, a + "rope.freq_base", 10000.0);
  c.rms_norm_eps = get_float(f, a + "attention.layer_norm_rms_epsilon", std::nullopt);
  if (const GgufValue* st = f.find(a + "rope.scaling.type"); st && st->as_string() && *st->as_string() != "none") {
    c.rope_scaling_type = *st->as_string();
    c.rope_scaling_factor = get_float(f, a + "rope.scaling.factor", 1.0);
  }

  // Vocabulary: the tokenizer's token list, else {arch}.vocab_size, else the embedding's rows.
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (const GgufValue* toks = f.find("tokenizer.ggml.tokens"); toks && toks->is_array() && toks->size() > 0) {
    if (toks->size() > static_cast<std::uint64_t>(limits::kMaxVocab))
      throw InvalidInput(fmt::format("{}: metadata \"tokenizer.ggml.tokens\" has {} tokens, more than the {} vramfit accepts",
                                     f.path(), toks->size(), limits::kMaxVocab));
    c.vocab_size = static_cast<std::int64_t>(toks->size());
  } else if (f.find(a + "vocab_size")) {
    c.vocab_size = get_int(f, a + "vocab_size", std::nullopt, limits::kMaxVocab);
  } else if (embd && embd->ne.size() == 2 && embd->ne[1] > 0) {
    if (embd->ne[1] > static_cast<std::uint64_t>(limits::kMaxVocab))
      throw InvalidInput(fmt::format("{}: tensor \"token_embd.weight\" has {} rows (the vocabulary), more than the {} vramfit "
                                     "accepts",
                                     f.path(), embd->ne[1], limits::kMaxVocab));
    c.vocab_size = static_cast<std::int64_t>(embd->ne[1]);
  } else {
    throw InvalidInput(fmt::format("{}: cannot tell the vocabulary size (no tokenizer.ggml.tokens, no {}vocab_size, no "
                                   "2-D token_embd.weight)",
                                   f.path(), a));
  }
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;
  return c;
}

const GgufModelTensor* GgufLlamaModel::find(std::string_view hf_name) const {
  for (const auto& t : tensors)
    if (t.hf_name == hf_name) return &t;
  return nullptr;
}

GgufLlamaModel gguf_llama_model(const GgufFile& f) {
  GgufLlamaModel m;
  m.config = gguf_llama_config(f);
  const auto& c = m.config;
  // Each block has at least 9 tensors: a block count the file cannot hold is refused before the
  // expected-tensor list is built (a hostile block_count of 2^31 would otherwise allocate it;
  // found by fuzz/gguf_fuzz).
  if (static_cast<std::uint64_t>(c.block_count) > f.tensors().size() / 9)
    throw InvalidInput(fmt::format("{}: metadata \"{}.block_count\" is {} but the file has only {} tensors (a block "
                                   "has 9)",
                                   f.path(), c.architecture, c.block_count, f.tensors().size()));
  for (const auto& want : gguf_llama_tensor_shapes(c)) {
    const GgufTensorInfo* t = f.find_tensor(want.name);
    if (!t) throw InvalidInput(fmt::format("{}: tensor \"{}\" is missing (a {} model of {} blocks needs it)", f.path(),
                                           want.name, c.architecture, c.block_count));
    // Trailing extents of 1 are how ggml pads; compare the extents without them.
    auto strip = [](std::vector<std::uint64_t> v) {
      while (v.size() > 1 && v.back() == 1) v.pop_back();
      return v;
    };
    if (strip(t->ne) != strip(want.ne)) {
      const Shape ws(std::vector<std::int64_t>(want.ne.rbegin(), want.ne.rend()));
      throw InvalidInput(fmt::format("{}: tensor \"{}\" has shape {} but the config needs {}", f.path(), want.name,
                                     t->shape().to_string(), ws.to_string()));
    }
    if (!ggml_type_supported(t->type))
      throw Unsupported(fmt::format("{}: tensor \"{}\" has type {}, which vramfit cannot run (supported: F32, F16, BF16, "
                                    "Q8_0, Q4_0, Q4_K, Q6_K)",
                                    f.path(), want.name, to_string(t->type)));
    GgufModelTensor mt;
    mt.hf_name = *gguf_to_hf_name(want.name);
    mt.info = t;
    mt.type = t->type;
    mt.shape = Shape(std::vector<std::int64_t>(want.ne.rbegin(), want.ne.rend()));
    mt.bytes = f.bytes(*t);
    const bool q = want.name.ends_with(".attn_q.weight") || want.name.ends_with(".attn_q.bias");
    const bool k = want.name.ends_with(".attn_k.weight") || want.name.ends_with(".attn_k.bias");
    mt.rope_rows_permuted = q || k;
    mt.rope_heads = q ? c.head_count : (k ? c.head_count_kv : 0);
    m.tensors.push_back(std::move(mt));
  }
  // HF checkpoint order: embedding, the blocks, final norm, lm_head (the GGUF list's order already).
  return m;
}

}  // namespace vramfit
