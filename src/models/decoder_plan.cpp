// The LLM memory plan (decoder_plan.h explains the regions, the quantized tensors and the schedule).
#include "models/decoder_plan.h"

#include <algorithm>
#include <fmt/format.h>

#include "core/checked.h"
#include "core/error.h"
#include "weights/gguf.h"
#include "weights/gguf_quant.h"
#include "weights/quant_int.h"

namespace vramfit {

namespace {

std::uint64_t align_up(std::uint64_t x, std::uint64_t a = kLlmAlignment) { return (x + a - 1) / a * a; }
std::uint64_t u64(std::int64_t v) { return static_cast<std::uint64_t>(v); }

bool quantized(LlmWeightRole r) {
  return r == LlmWeightRole::Qkv || r == LlmWeightRole::O || r == LlmWeightRole::GateUp || r == LlmWeightRole::Down;
}

// A pass's buffers per sequence (bytes before the batch multiplies them) and lifetimes.
struct PassBuilder {
  std::vector<LlmBuffer> bufs;
  std::int32_t step = 0;
  void add(std::string name, std::uint64_t bytes_per_seq, std::int32_t first, std::int32_t last) {
    LlmBuffer b;
    b.name = std::move(name);
    b.range = LiveRange{align_up(bytes_per_seq), first, last};
    bufs.push_back(std::move(b));
  }
};

LlmPassPlan plan_pass(const DecoderConfig& c, DType act, std::int64_t n, bool prefill, std::int64_t batch) {
  const std::uint64_t s = storage_bytes(act, 1);
  const std::uint64_t H = u64(c.hidden_size), I = u64(c.intermediate_size), Q = u64(c.q_dim()), KV = u64(c.kv_dim());
  const std::uint64_t V = u64(c.vocab_size), tok = u64(n);
  // Steps of one layer (all layers identical), then the head. `end` is the last step.
  enum : std::int32_t {
    kEmbed = 0, kNorm1, kQkv, kRope, kAppend, kAttn, kOProj, kNorm2, kGateUp, kSiluMul, kDown,
    kLast, kFinalNorm, kLmHead, kArgmax, kEnd = kArgmax
  };
  PassBuilder p;
  p.add("ids", tok * 4, -1, kEnd);
  p.add("pos", tok * 4, -1, kEnd);
  p.add("seq", tok * 4, -1, kEnd);
  p.add("seq_lens", 4, -1, kEnd);
  p.add("x", tok * H * s, kEmbed, kEnd);
  p.add("h_attn", tok * H * s, kNorm1, kQkv);
  p.add("qkv", tok * (Q + 2 * KV) * s, kQkv, kAttn);
  p.add("attn", tok * Q * s, kAttn, kOProj);
  p.add("h_mlp", tok * H * s, kNorm2, kGateUp);
  p.add("gate_up", tok * 2 * I * s, kGateUp, kSiluMul);
  p.add("act", tok * I * s, kSiluMul, kDown);
  if (prefill) p.add("last", H * s, kLast, kLmHead);  // normed in place
  else p.add("last", 0, kLast, kLmHead);              // decode: the final norm writes h_final
  p.add("h_final", prefill ? 0 : tok * H * s, kFinalNorm, kLmHead);
  p.add("logits", V * s, kLmHead, kArgmax);

  std::vector<LiveRange> ranges;
  for (const auto& b : p.bufs) ranges.push_back(b.range);
  std::uint64_t per_seq = 0;
  const std::vector<std::uint64_t> off = assign_offsets(ranges, kLlmAlignment, &per_seq);
  LlmPassPlan out;
  out.tokens_per_sequence = n;
  const std::uint64_t B = u64(batch);
  for (std::size_t i = 0; i < p.bufs.size(); ++i) {
    LlmBuffer b = p.bufs[i];
    b.range.bytes *= B;
    b.offset = off[i] * B;
    out.buffers.push_back(std::move(b));
  }
  // Offsets and buffer sizes are at most the arena's: checking batch × arena per sequence covers them.
  out.arena_bytes = checked_mul(per_seq, B, fmt::format("activations of {} tokens at batch {}", n, batch));
  out.lower_bound_bytes = live_lower_bound(ranges) * B;
  return out;
}

}  // namespace

std::string_view to_string(LlmWeightRole r) {
  switch (r) {
    case LlmWeightRole::Embedding: return "embedding";
    case LlmWeightRole::AttnNorm: return "attn_norm";
    case LlmWeightRole::Qkv: return "qkv";
    case LlmWeightRole::QkvBias: return "qkv_bias";
    case LlmWeightRole::O: return "o";
    case LlmWeightRole::OBias: return "o_bias";
    case LlmWeightRole::MlpNorm: return "mlp_norm";
    case LlmWeightRole::GateUp: return "gate_up";
    case LlmWeightRole::Down: return "down";
    case LlmWeightRole::FinalNorm: return "final_norm";
    case LlmWeightRole::LmHead: return "lm_head";
    case LlmWeightRole::RopeTable: return "rope_inv_freq";
  }
  return "?";
}

const LlmBuffer& LlmPassPlan::buffer(std::string_view name) const {
  for (const auto& b : buffers)
    if (b.name == name) return b;
  throw InternalError(fmt::format("LLM pass plan has no buffer '{}'", name));
}

LlmWeight::Place LlmWeight::place(std::size_t source) const {
  VRAMFIT_CHECK(source < source_rows.size() && !segments.empty(), "LlmWeight::place: source of a GGUF-typed weight");
  std::int64_t row0 = 0;
  for (std::size_t i = 0; i < source; ++i) row0 += source_rows[i];
  for (const LlmSegment& g : segments)
    if (row0 >= g.row0 && row0 < g.row0 + g.rows) {
      const std::uint64_t row_bytes = storage_bytes(g.dtype, u64(cols));
      return Place{g.dtype, row0, source_rows[source], g.offset + u64(row0 - g.row0) * row_bytes,
                   u64(source_rows[source]) * row_bytes};
    }
  throw InternalError("LlmWeight::place: no segment holds row " + std::to_string(row0) + " of " + name);
}

const LlmWeight& LlmMemoryPlan::weight(std::string_view name) const {
  for (const auto& w : weights)
    if (w.name == name) return w;
  throw InternalError(fmt::format("LLM plan has no weight '{}'", name));
}

namespace {

// Quantized projections group their input columns: every input width must be a multiple of `group`.
std::optional<std::string> input_widths_reason(const DecoderConfig& c, std::int64_t group, const std::string& format) {
  const std::pair<const char*, std::int64_t> ks[] = {
      {"hidden_size (q/k/v, gate/up inputs)", c.hidden_size}, {"q heads·head_dim (o_proj input)", c.q_dim()},
      {"intermediate_size (down_proj input)", c.intermediate_size}};
  for (const auto& [what, k] : ks)
    if (k % group) return fmt::format("{} needs {} to be a multiple of {}; it is {}", format, what, group, k);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> llm_unsupported_reason(const DecoderConfig& c, Precision p) {
  switch (p) {
    case Precision::fp16:
    case Precision::bf16:
    case Precision::int8: break;
    case Precision::int4:
      if (auto why = input_widths_reason(c, kInt4GroupSize, fmt::format("int4 (W4A16, groups of {} along the input)", kInt4GroupSize)))
        return why;
      break;
    case Precision::q8_0:
    case Precision::q4_0:
    case Precision::q4_k_m:
      // Blocks run along the input: every projection's input width must hold whole 32-element blocks
      // (Q4_K/Q6_K rows that are not a multiple of 256 fall back to Q8_0, as llama.cpp does).
      if (auto why = input_widths_reason(c, 32, fmt::format("{} (GGUF blocks of 32 along the input)", to_string(p))))
        return why;
      break;
    case Precision::fp32:
      return std::string("decoder LLMs run in fp16, bf16, int8 (W8A16) or int4 (W4A16); fp32 is the CPU reference only");
    default:
      return fmt::format("precision {} is not implemented for decoder LLMs (fp16, bf16, int8, int4, q8_0, q4_0, q4_k_m)",
                         to_string(p));
  }
  return std::nullopt;
}

bool is_gguf_precision(Precision p) { return p == Precision::q8_0 || p == Precision::q4_0 || p == Precision::q4_k_m; }

namespace {

GgufRecipe recipe_of(Precision p) {
  switch (p) {
    case Precision::q8_0: return GgufRecipe::Q8_0;
    case Precision::q4_0: return GgufRecipe::Q4_0;
    default: return GgufRecipe::Q4_K_M;
  }
}

}  // namespace

DType llm_source_dtype(const DecoderConfig& c, Precision p, const std::string& hf_name, std::int64_t rows,
                       std::int64_t cols, const LlmPlanOptions& opt) {
  const DType act = llm_activation_dtype(p);
  const bool matrix = cols > 1;
  const bool embedding = hf_name == "model.embed_tokens.weight", head = hf_name == "lm_head.weight";
  const bool projection = matrix && !embedding && !head;
  if (!is_gguf_precision(p)) {
    if (!projection) return act;
    return llm_weight_dtype(p);
  }
  if (!matrix) return act;
  DType t = DType::f16;
  if (const auto it = opt.source_types.find(hf_name); it != opt.source_types.end()) {
    t = it->second;
  } else {
    // llama.cpp's recipe, by GGUF name; a tied embedding is the output projection too.
    std::string gname = hf_to_gguf_name(hf_name).value_or(hf_name);
    if (embedding && c.tie_word_embeddings) gname = "output.weight";
    const std::uint64_t ne[2] = {static_cast<std::uint64_t>(cols), static_cast<std::uint64_t>(rows)};
    t = to_dtype(gguf_recipe_type(recipe_of(p), gname, ne, c.num_layers)).value_or(DType::f16);
  }
  return is_float(t) ? act : t;
}

DType llm_activation_dtype(Precision p) {
  switch (p) {
    case Precision::fp16: case Precision::int8: case Precision::int4: return DType::f16;
    case Precision::q8_0: case Precision::q4_0: case Precision::q4_k_m: return DType::f16;
    case Precision::bf16: return DType::bf16;
    default: throw Unsupported(fmt::format("precision {} is not an LLM precision (fp16, bf16, int8, int4)", to_string(p)));
  }
}

DType llm_weight_dtype(Precision p) {
  switch (p) {
    case Precision::fp16: return DType::f16;
    case Precision::bf16: return DType::bf16;
    case Precision::int8: return DType::i8;
    case Precision::int4: return DType::i4;
    case Precision::q8_0: return DType::q8_0;
    case Precision::q4_0: return DType::q4_0;
    case Precision::q4_k_m: return DType::q4_k;
    default: throw Unsupported(fmt::format("precision {} is not an LLM precision (fp16, bf16, int8, int4)", to_string(p)));
  }
}

std::uint64_t llm_kv_bytes_per_token(const DecoderConfig& c) {
  const std::string what = c.name + ": KV bytes per token";
  return checked_mul(checked_mul(std::uint64_t{4} * u64(c.num_layers), u64(c.num_kv_heads), what), u64(c.head_dim), what);
}

std::vector<LlmWeight> plan_llm_weights(const DecoderConfig& c, Precision p, std::uint64_t* total_bytes,
                                        const LlmPlanOptions& opt) {
  if (const auto why = llm_unsupported_reason(c, p)) throw Unsupported(fmt::format("{} at {}: {}", c.name, to_string(p), *why));
  const DType act = llm_activation_dtype(p), wq = llm_weight_dtype(p);
  const std::int64_t H = c.hidden_size, I = c.intermediate_size, Q = c.q_dim(), KV = c.kv_dim();
  std::vector<LlmWeight> w;
  auto add = [&](std::string name, LlmWeightRole role, std::int32_t layer, std::vector<std::string> sources,
                 std::int64_t rows, std::int64_t cols) {
    LlmWeight t;
    t.name = std::move(name);
    t.role = role;
    t.layer = layer;
    t.sources = std::move(sources);
    t.rows = rows;
    t.cols = cols;
    // Rows of each source of a stacked weight: q (Q rows), k and v (KV rows each); gate and up (I each).
    for (const auto& src : t.sources) {
      std::int64_t r = rows / static_cast<std::int64_t>(t.sources.size());
      if (role == LlmWeightRole::Qkv || role == LlmWeightRole::QkvBias) r = src.find("q_proj") != std::string::npos ? Q : KV;
      t.source_rows.push_back(r);
    }
    std::vector<DType> types;  // GGUF precisions: per source
    bool gguf = false;
    if (is_gguf_precision(p) && cols > 1) {
      for (std::size_t i = 0; i < t.sources.size(); ++i) {
        const std::string& src = t.sources[i];
        types.push_back(llm_source_dtype(c, p, src, t.source_rows[i], cols, opt));
        gguf = gguf || !is_float(types.back());
      }
      if (gguf)
        for (std::size_t i = 0; i < types.size(); ++i)
          if (is_float(types[i]))
            throw Unsupported(fmt::format("{}: '{}' is {} while the other parts of {} are GGUF blocks (not implemented)",
                                          c.name, t.sources[i], to_string(types[i]), t.name));
    }
    if (role == LlmWeightRole::RopeTable) {
      t.dtype = DType::f32;
      t.data_bytes = u64(rows) * 4;
    } else if (gguf) {
      std::int64_t row0 = 0;
      for (std::size_t i = 0; i < types.size(); ++i) {
        const std::int64_t r = t.source_rows[i];
        if (!t.segments.empty() && t.segments.back().dtype == types[i]) {
          t.segments.back().rows += r;  // same type: the run goes on, no padding between the sources
          t.segments.back().bytes = storage_bytes(types[i], u64(t.segments.back().rows) * u64(cols));
        } else {
          LlmSegment seg;
          seg.dtype = types[i];
          seg.row0 = row0;
          seg.rows = r;
          seg.offset = t.segments.empty() ? 0 : align_up(t.segments.back().offset + t.segments.back().bytes);
          seg.bytes = storage_bytes(seg.dtype, u64(r) * u64(cols));
          t.segments.push_back(seg);
        }
        row0 += r;
      }
      VRAMFIT_CHECK(row0 == rows, "GGUF segments of " + t.name + " cover its rows");
      t.dtype = types.front();
      t.data_bytes = t.segments.back().offset + align_up(t.segments.back().bytes);
    } else if (!quantized(role) || wq == act || is_gguf_precision(p)) {
      t.dtype = act;
      t.data_bytes = storage_bytes(act, u64(rows * cols));
    } else if (wq == DType::i8) {
      t.dtype = DType::i8;
      t.data_bytes = u64(rows * cols);
      t.scale_bytes = 2 * u64(rows);
      VRAMFIT_CHECK(t.data_bytes + t.scale_bytes == int8_weight_bytes(rows, cols), "int8 byte count");
    } else {
      t.dtype = DType::i4;
      t.data_bytes = u64(rows * cols) / 2;
      t.scale_bytes = 2 * u64(rows) * u64(cols / kInt4GroupSize);
      VRAMFIT_CHECK(t.data_bytes + t.scale_bytes == int4_weight_bytes(rows, cols), "int4 byte count");
    }
    w.push_back(std::move(t));
  };
  add("embedding", LlmWeightRole::Embedding, -1, {"model.embed_tokens.weight"}, c.vocab_size, H);
  for (std::int64_t l = 0; l < c.num_layers; ++l) {
    const auto li = static_cast<std::int32_t>(l);
    const std::string hf = fmt::format("model.layers.{}.", l), ours = fmt::format("layers.{}.", l);
    add(ours + "attn_norm", LlmWeightRole::AttnNorm, li, {hf + "input_layernorm.weight"}, H, 1);
    add(ours + "qkv", LlmWeightRole::Qkv, li,
        {hf + "self_attn.q_proj.weight", hf + "self_attn.k_proj.weight", hf + "self_attn.v_proj.weight"}, Q + 2 * KV, H);
    if (c.attention_bias)
      add(ours + "qkv_bias", LlmWeightRole::QkvBias, li,
          {hf + "self_attn.q_proj.bias", hf + "self_attn.k_proj.bias", hf + "self_attn.v_proj.bias"}, Q + 2 * KV, 1);
    add(ours + "o", LlmWeightRole::O, li, {hf + "self_attn.o_proj.weight"}, H, Q);
    if (c.o_proj_bias) add(ours + "o_bias", LlmWeightRole::OBias, li, {hf + "self_attn.o_proj.bias"}, H, 1);
    add(ours + "mlp_norm", LlmWeightRole::MlpNorm, li, {hf + "post_attention_layernorm.weight"}, H, 1);
    add(ours + "gate_up", LlmWeightRole::GateUp, li, {hf + "mlp.gate_proj.weight", hf + "mlp.up_proj.weight"}, 2 * I, H);
    add(ours + "down", LlmWeightRole::Down, li, {hf + "mlp.down_proj.weight"}, H, I);
  }
  add("final_norm", LlmWeightRole::FinalNorm, -1, {"model.norm.weight"}, H, 1);
  if (!c.tie_word_embeddings) add("lm_head", LlmWeightRole::LmHead, -1, {"lm_head.weight"}, c.vocab_size, H);
  add("rope_inv_freq", LlmWeightRole::RopeTable, -1, {}, c.head_dim / 2, 1);
  std::uint64_t off = 0;
  for (auto& t : w) {
    t.data_offset = off;
    off += align_up(t.data_bytes);
    t.scale_offset = off;
    off += align_up(t.scale_bytes);
  }
  if (total_bytes) *total_bytes = off;
  return w;
}

std::int64_t dequant_tile_rows(std::int64_t n, std::int64_t k) {
  if (u64(n) * u64(k) * 2 <= kDequantTileBytes) return n;
  const std::int64_t fit = static_cast<std::int64_t>(kDequantTileBytes / (u64(k) * 2));
  return std::min(n, std::max<std::int64_t>(128, fit / 128 * 128));
}

std::uint64_t dequant_gemm_scratch_bytes(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t tile_rows,
                                         std::uint64_t workspace_limit) {
  std::uint64_t b = align_up(u64(tile_rows) * u64(k) * 2);
  if (tile_rows < n) b += align_up(checked_mul(u64(m), u64(tile_rows) * 2, fmt::format("dequantised product of {} rows", m)));
  return b + align_up(workspace_limit);
}

std::int64_t decode_attention_splits_bound(std::int64_t context) { return std::max<std::int64_t>(1, (context + 63) / 64); }

std::uint64_t decode_attention_scratch_bytes(const DecoderConfig& c, std::int64_t batch, std::int64_t splits) {
  if (splits <= 1) return 0;
  const std::string what = fmt::format("decode attention scratch at batch {}", batch);
  return checked_mul(checked_mul(u64(batch) * u64(c.num_heads), u64(splits), what), (u64(c.head_dim) + 2) * 4, what);
}

LlmMemoryPlan plan_llm_memory(const DecoderConfig& c, Precision p, std::int64_t context, std::int64_t batch,
                              const LlmPlanOptions& opt) {
  check_range(context, 1, limits::kMaxContext, "context (tokens)");
  check_range(batch, 1, limits::kMaxBatch, "batch");
  if (opt.prefill_chunk < 1) throw InvalidInput(fmt::format("prefill chunk must be ≥ 1 token, got {}", opt.prefill_chunk));
  LlmMemoryPlan plan;
  plan.model = c.name;
  plan.precision = p;
  plan.context = context;
  plan.batch = batch;
  plan.options = opt;
  plan.weights = plan_llm_weights(c, p, &plan.weights_bytes, opt);
  plan.act_dtype = llm_activation_dtype(p);
  plan.weight_dtype = llm_weight_dtype(p);
  plan.kv_bytes_per_token = llm_kv_bytes_per_token(c);
  plan.kv_bytes = align_up(checked_mul(checked_mul(plan.kv_bytes_per_token, u64(context), fmt::format("KV cache of context {}", context)),
                                       u64(batch), fmt::format("KV cache of context {} × batch {}", context, batch)));
  const std::int64_t chunk = std::min(opt.prefill_chunk, context);
  plan.prefill = plan_pass(c, plan.act_dtype, chunk, true, batch);
  plan.decode = plan_pass(c, plan.act_dtype, 1, false, batch);
  plan.activation_bytes = align_up(std::max(plan.prefill.arena_bytes, plan.decode.arena_bytes));

  // Scratch: one region, the largest need of any step.
  std::uint64_t scratch = align_up(opt.workspace_bytes);
  plan.decode_attention_splits = decode_attention_splits_bound(context);
  scratch = std::max(scratch, align_up(decode_attention_scratch_bytes(c, batch, plan.decode_attention_splits)));
  if (plan.weight_dtype == DType::i8 || plan.weight_dtype == DType::i4 || is_gguf_precision(p)) {
    for (const auto& w : plan.weights) {
      // Every layer has the same shapes; a GGUF lm_head is a dequantising product too (its m is the
      // batch: the last token of each sequence, at prefill and decode alike).
      if (w.gguf() && w.role == LlmWeightRole::LmHead) {
        if (batch > kLlmGemvMaxBatch) {
          const std::int64_t tile = dequant_tile_rows(w.rows, w.cols);
          plan.dequant_tile_rows_max = std::max(plan.dequant_tile_rows_max, tile);
          scratch = std::max(scratch, dequant_gemm_scratch_bytes(batch, w.rows, w.cols, tile, opt.workspace_bytes));
        }
        continue;
      }
      if (!quantized(w.role) || w.layer != 0 || (is_gguf_precision(p) && !w.gguf())) continue;
      const std::int64_t tile = dequant_tile_rows(w.rows, w.cols);
      plan.dequant_tile_rows_max = std::max(plan.dequant_tile_rows_max, tile);
      scratch = std::max(scratch, dequant_gemm_scratch_bytes(batch * chunk, w.rows, w.cols, tile, opt.workspace_bytes));
      if (batch > kLlmGemvMaxBatch)
        scratch = std::max(scratch, dequant_gemm_scratch_bytes(batch, w.rows, w.cols, tile, opt.workspace_bytes));
    }
  }
  plan.scratch_bytes = scratch;
  plan.carry_bytes = align_up(4 * u64(batch));
  return plan;
}

DecoderConfig tensor_parallel_shard(const DecoderConfig& c, std::int64_t ranks) {
  if (ranks < 1) throw InvalidInput(fmt::format("tensor parallel: {} ranks (need at least 1)", ranks));
  if (ranks == 1) return c;
  auto divides = [&](std::int64_t extent, const char* what) {
    if (extent % ranks != 0)
      throw InvalidInput(fmt::format("{}: {} {} is not divisible by {} GPUs (tensor parallelism splits it evenly)", c.name, what, extent, ranks));
    return extent / ranks;
  };
  DecoderConfig s = c;
  s.num_heads = divides(c.num_heads, "num_attention_heads");
  s.num_kv_heads = divides(c.num_kv_heads, "num_key_value_heads");
  s.intermediate_size = divides(c.intermediate_size, "intermediate_size");
  s.vocab_size = divides(c.vocab_size, "vocab_size");
  s.name = fmt::format("{} (1 of {} tensor-parallel ranks)", c.name, ranks);
  return s;
}

}  // namespace vramfit
