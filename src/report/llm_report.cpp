// Printers of `vramfit llm` (llm_report.h).
#include "report/llm_report.h"

#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text_escape.h"
#include "core/text.h"
#include "report/plan_report.h"

namespace vramfit {

namespace {

std::string tps(const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : std::string("-"); }

const LlmContextFit* fit_at(const LlmQuantRow& r, std::int64_t ctx) {
  for (const auto& f : r.max_batch)
    if (f.context == ctx) return &f;
  return nullptr;
}

std::vector<std::int64_t> contexts_of(const LlmReport& r) {
  std::vector<std::int64_t> out;
  for (const auto& row : r.rows)
    for (const auto& p : row.points)
      if (std::find(out.begin(), out.end(), p.context) == out.end()) out.push_back(p.context);
  return out;
}

}  // namespace

nlohmann::json to_json(const LlmQuantRow& r) {
  nlohmann::json j;
  j["precision"] = std::string(to_string(r.precision));
  j["status"] = fit_text(r.status);
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (r.status == Outcome::unsupported) return j;
  j["weights_bytes"] = r.weights_bytes;
  j["kv_bytes_per_token"] = r.kv_bytes_per_token;
  j["prefill_chunk_tokens"] = r.prefill_chunk;
  j["prefill_arena_bytes"] = r.prefill_arena_bytes;
  j["decode_arena_bytes"] = r.decode_arena_bytes;
  j["activation_arena_bytes"] = r.activation_bytes;
  j["scratch_bytes"] = r.scratch_bytes;
  j["points"] = nlohmann::json::array();
  for (const auto& p : r.points)
    j["points"].push_back({{"context", p.context}, {"batch", p.batch}, {"weights_bytes", p.weights_bytes},
                           {"kv_bytes", p.kv_bytes}, {"activation_bytes", p.activation_bytes},
                           {"scratch_bytes", p.scratch_bytes}, {"total_bytes", p.total_bytes}, {"fits", p.fits}});
  if (r.budget_bytes) {
    j["budget_bytes"] = *r.budget_bytes;
    j["max_context_batch1"] = r.max_context;
    j["max_context_is_model_limit"] = r.max_context_is_model_limit;
    j["max_batch"] = nlohmann::json::array();
    for (const auto& f : r.max_batch) {
      nlohmann::json m{{"context", f.context}, {"max_batch", f.max_batch}, {"bytes_at_max", f.bytes_at_max},
                       {"capped", f.capped}};
      if (!f.reason.empty()) m["reason"] = f.reason;
      j["max_batch"].push_back(m);
    }
  }
  return j;
}

nlohmann::json to_json(const LlmMeasured& m) {
  nlohmann::json j;
  auto opt = [&](const char* k, const std::optional<double>& v) { j[k] = v ? nlohmann::json(*v) : nlohmann::json(); };
  opt("prefill_tokens_per_s", m.prefill_tokens_per_s);
  j["prefill_tokens"] = m.prefill_tokens;
  opt("decode_tokens_per_s_batch1", m.decode_tokens_per_s_batch1);
  opt("decode_tokens_per_s_max_batch", m.decode_tokens_per_s_max_batch);
  j["decode_max_batch"] = m.decode_max_batch;
  j["decode_context"] = m.decode_context;
  j["arena_bytes"] = m.arena_bytes;
  j["process_vram_bytes"] = m.process_vram_bytes ? nlohmann::json(*m.process_vram_bytes) : nlohmann::json();
  j["predicted_process_bytes"] = m.predicted_process_bytes;
  j["confirmed_max_context"] = m.confirmed_max_context ? nlohmann::json(*m.confirmed_max_context) : nlohmann::json();
  j["confirmed_max_batch"] = nlohmann::json::array();
  for (const auto& [c, b] : m.confirmed_max_batch) j["confirmed_max_batch"].push_back({{"context", c}, {"max_batch", b}});
  j["probes"] = nlohmann::json::array();
  for (const auto& p : m.probes) {
    nlohmann::json q{{"context", p.context}, {"batch", p.batch}, {"status", p.status}};
    if (!p.reason.empty()) q["reason"] = p.reason;
    j["probes"].push_back(q);
  }
  if (!m.note.empty()) j["note"] = m.note;
  return j;
}

nlohmann::json to_json(const LlmReport& r) {
  nlohmann::json j;
  j["schema_version"] = kSchemaVersion;
  j["command"] = "llm";
  j["model"] = r.model;
  j["config_source"] = r.config_source;
  j["weights_source"] = r.weights_source;
  const DecoderConfig& c = r.config;
  j["config"] = {{"model_type", c.model_type}, {"hidden_size", c.hidden_size}, {"intermediate_size", c.intermediate_size},
                 {"num_hidden_layers", c.num_layers}, {"num_attention_heads", c.num_heads},
                 {"num_key_value_heads", c.num_kv_heads}, {"head_dim", c.head_dim}, {"vocab_size", c.vocab_size},
                 {"max_position_embeddings", c.max_position_embeddings}, {"rope_theta", c.rope_theta},
                 {"tie_word_embeddings", c.tie_word_embeddings}, {"attention_bias", c.attention_bias}};
  j["parameters"] = r.parameters;
  j["tensor_parallel_ranks"] = r.ranks;  // > 1: every row is one GPU's share
  if (!c.notes.empty()) j["notes"] = c.notes;
  j["budget_bytes"] = r.budget_bytes ? nlohmann::json(*r.budget_bytes) : nlohmann::json();
  if (!r.budget_note.empty()) j["budget_note"] = r.budget_note;
  j["device"] = r.device.empty() ? nlohmann::json() : nlohmann::json(r.device);
  j["speed_note"] = r.speed_note;
  if (!r.estimate_card.empty()) j["estimate"] = {{"card", r.estimate_card}, {"source", r.estimate_source}};
  j["memory_counts"] = "weights + KV cache + activation arena + scratch: the LLM session's one allocation "
                       "(the CUDA context and library handles are not counted)";
  j["rows"] = nlohmann::json::array();
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    nlohmann::json row = to_json(r.rows[i]);
    if (r.rank_parameters && r.rows[i].weights_bytes)
      row["bits_per_weight"] = 8.0 * static_cast<double>(r.rows[i].weights_bytes) / static_cast<double>(r.rank_parameters);
    if (i < r.measured.size() && r.measured[i]) row["measured"] = to_json(*r.measured[i]);
    if (i < r.estimated.size() && r.estimated[i]) {
      const LlmEstimated& e = *r.estimated[i];
      row["estimated"] = {{"context", e.context},
                          {"prefill_tokens_per_s", e.prefill_tokens_per_s > 0 ? nlohmann::json(e.prefill_tokens_per_s) : nlohmann::json()},
                          {"decode_tokens_per_s_batch1", e.decode_tokens_per_s_batch1},
                          {"decode_tokens_per_s_max_batch", e.decode_tokens_per_s_max_batch ? nlohmann::json(*e.decode_tokens_per_s_max_batch) : nlohmann::json()},
                          {"max_batch", e.max_batch},
                          {"source", e.source}};
    }
    j["rows"].push_back(row);
  }
  return j;
}

std::string llm_markdown(const LlmReport& r) {
  const DecoderConfig& c = r.config;
  std::string o = fmt::format("## {} — {:.2f} B parameters: {} layers, hidden {}, {} heads / {} KV heads (head dim {}), "
                              "MLP {}, vocab {}, max context {}\n\n",
                              md_text(r.model), static_cast<double>(r.parameters) / 1e9, c.num_layers, c.hidden_size, c.num_heads,
                              c.num_kv_heads, c.head_dim, c.intermediate_size, c.vocab_size, c.max_position_embeddings);
  // The model's name, sources and notes come from a config or GGUF file: escaped (core/text_escape.h).
  o += fmt::format("config: {}; weights: {}\n", md_text(r.config_source), md_text(r.weights_source));
  for (const auto& n : c.notes) o += "note: " + md_text(n) + "\n";
  if (r.budget_bytes) o += fmt::format("budget: {} ({})\n", format_bytes(*r.budget_bytes), md_text(r.budget_note));
  else o += "budget: none given (--vram-limit SIZE, or a GPU): memory per point only\n";
  o += fmt::format("device: {}\n", r.device.empty() ? std::string("none") : md_text(r.device));
  if (!r.speed_note.empty()) o += md_text(r.speed_note) + "\n";
  if (!r.estimate_card.empty())
    o += fmt::format("≈ columns: the time model's estimate for {} ({}); not measured\n", md_text(r.estimate_card), md_text(r.estimate_source));
  o += "\n";

  const auto ctxs = contexts_of(r);
  const bool measured = !r.device.empty();
  std::vector<std::string> header{"quant", "status", "weights", "bits/weight", "KV / token", "activations", "scratch"};
  if (r.budget_bytes) {
    header.push_back("max context (batch 1)");
    for (auto ctx : ctxs) header.push_back(fmt::format("max batch @{}", ctx));
  }
  if (measured) {
    header.push_back("prefill tok/s");
    header.push_back("decode tok/s b1");
    header.push_back("decode tok/s max batch");
  }
  const bool estimated = !r.estimate_card.empty();
  if (estimated) {
    header.push_back("≈ prefill tok/s");
    header.push_back("≈ decode tok/s b1");
    header.push_back("≈ decode tok/s max batch");
  }
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    const auto& q = r.rows[i];
    const LlmMeasured* m = i < r.measured.size() && r.measured[i] ? &*r.measured[i] : nullptr;
    std::vector<std::string> row{std::string(to_string(q.precision)), std::string(fit_text(q.status))};
    if (q.status == Outcome::unsupported) {
      rows.push_back(row);
      continue;
    }
    row.push_back(gib_text(q.weights_bytes));
    row.push_back(r.rank_parameters ? fmt::format("{:.2f}", 8.0 * static_cast<double>(q.weights_bytes) / static_cast<double>(r.rank_parameters))
                                    : std::string("-"));
    row.push_back(kib_text(q.kv_bytes_per_token));
    row.push_back(mib_text(q.activation_bytes));
    row.push_back(mib_text(q.scratch_bytes));
    if (r.budget_bytes) {
      std::string mc = std::to_string(q.max_context) + (q.max_context_is_model_limit ? " (model max)" : "");
      if (m && m->confirmed_max_context) mc += *m->confirmed_max_context == q.max_context ? " ✓" : fmt::format(" (ran {})", *m->confirmed_max_context);
      row.push_back(mc);
      for (auto ctx : ctxs) {
        const LlmContextFit* f = fit_at(q, ctx);
        std::string cell = f ? std::to_string(f->max_batch) + (f->capped ? "+" : "") : "-";
        if (m)
          for (const auto& [cc, bb] : m->confirmed_max_batch)
            if (cc == ctx) cell += bb == (f ? f->max_batch : -1) ? " ✓" : fmt::format(" (ran {})", bb);
        row.push_back(cell);
      }
    }
    if (measured) {
      row.push_back(m ? tps(m->prefill_tokens_per_s) : "-");
      row.push_back(m ? tps(m->decode_tokens_per_s_batch1) : "-");
      row.push_back(m && m->decode_tokens_per_s_max_batch ? fmt::format("{} (b{})", tps(m->decode_tokens_per_s_max_batch), m->decode_max_batch) : "-");
    }
    if (estimated) {
      const LlmEstimated* e = i < r.estimated.size() && r.estimated[i] ? &*r.estimated[i] : nullptr;
      row.push_back(e && e->prefill_tokens_per_s > 0 ? fmt::format("≈ {:.0f}", e->prefill_tokens_per_s) : "-");
      row.push_back(e ? fmt::format("≈ {:.0f}", e->decode_tokens_per_s_batch1) : "-");
      row.push_back(e && e->decode_tokens_per_s_max_batch ? fmt::format("≈ {:.0f} (b{})", *e->decode_tokens_per_s_max_batch, e->max_batch) : "-");
    }
    rows.push_back(row);
  }
  o += markdown_table(header, rows);

  // What does not fit, and why.
  std::string why;
  for (const auto& q : r.rows) {
    if (!q.reason.empty()) why += fmt::format("- {} {}: {}\n", to_string(q.precision), fit_text(q.status), md_text(q.reason));
    for (const auto& f : q.max_batch)
      if (f.max_batch == 0 && q.status == Outcome::ok)
        why += fmt::format("- {} at context {}: {}\n", to_string(q.precision), f.context, md_text(f.reason));
  }
  if (!why.empty()) o += "\n" + why;

  // The plan against the driver's count of this process (the first context, batch 1).
  std::string vram;
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    const LlmMeasured* m = i < r.measured.size() && r.measured[i] ? &*r.measured[i] : nullptr;
    if (!m || !m->process_vram_bytes || !m->predicted_process_bytes) continue;
    const double d = 100.0 * (static_cast<double>(*m->process_vram_bytes) - static_cast<double>(m->predicted_process_bytes)) /
                     static_cast<double>(m->predicted_process_bytes);
    vram += fmt::format("- {}: process VRAM (NVML) {} vs plan + CUDA context and handles {} ({:+.2f} %)\n",
                        to_string(r.rows[i].precision), format_bytes(*m->process_vram_bytes),
                        format_bytes(m->predicted_process_bytes), d);
  }
  if (!vram.empty()) o += "\nMemory as the driver counts it, at the first context and batch 1:\n" + vram;

  // Memory at every context × batch asked for.
  std::vector<std::vector<std::string>> pts;
  for (const auto& q : r.rows)
    for (const auto& p : q.points)
      pts.push_back({std::string(to_string(q.precision)), std::to_string(p.context), std::to_string(p.batch), gib_text(p.weights_bytes),
                     mib_text(p.kv_bytes), mib_text(p.activation_bytes), mib_text(p.scratch_bytes), gib_text(p.total_bytes),
                     r.budget_bytes ? (p.fits ? "yes" : "no") : "-"});
  if (!pts.empty()) {
    o += "\nMemory per point (weights + KV + activations + scratch = the session's one allocation; CUDA context not counted):\n\n";
    o += markdown_table({"quant", "context", "batch", "weights", "KV cache", "activations", "scratch", "total", "fits"}, pts);
  }
  for (std::size_t i = 0; i < r.measured.size(); ++i)
    if (r.measured[i] && !r.measured[i]->note.empty())
      o += fmt::format("\n{}: {}\n", to_string(r.rows[i].precision), md_text(r.measured[i]->note));
  return o;
}

std::string llm_csv(const LlmReport& r) {
  std::string o =
      "model,precision,status,context,batch,weights_bytes,kv_bytes,activation_bytes,scratch_bytes,total_bytes,fits,"
      "max_context_batch1,max_batch_at_context,prefill_tokens_per_s,decode_tokens_per_s_batch1,decode_tokens_per_s_max_batch,speed\n";
  auto num = [](const std::optional<double>& v) { return v ? fmt::format("{:.3f}", *v) : std::string(); };
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    const auto& q = r.rows[i];
    const LlmMeasured* m = i < r.measured.size() && r.measured[i] ? &*r.measured[i] : nullptr;
    const LlmEstimated* e = i < r.estimated.size() && r.estimated[i] ? &*r.estimated[i] : nullptr;
    const std::string speeds =
        m ? fmt::format("{},{},{},measured", num(m->prefill_tokens_per_s), num(m->decode_tokens_per_s_batch1), num(m->decode_tokens_per_s_max_batch))
        : e ? fmt::format("{},{},{},estimated", e->prefill_tokens_per_s > 0 ? num(e->prefill_tokens_per_s) : std::string(),
                          num(e->decode_tokens_per_s_batch1), num(e->decode_tokens_per_s_max_batch))
            : std::string(",,,");
    if (q.points.empty()) {
      o += fmt::format("{},{},{},,,,,,,,,,,{}\n", csv_field(r.model), to_string(q.precision), fit_text(q.status), speeds);
      continue;
    }
    for (const auto& p : q.points) {
      const LlmContextFit* f = fit_at(q, p.context);
      o += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", csv_field(r.model), to_string(q.precision), fit_text(q.status), p.context,
                       p.batch, p.weights_bytes, p.kv_bytes, p.activation_bytes, p.scratch_bytes, p.total_bytes,
                       r.budget_bytes ? (p.fits ? "true" : "false") : "", r.budget_bytes ? std::to_string(q.max_context) : "",
                       f ? std::to_string(f->max_batch) : "", speeds);
    }
  }
  return o;
}

}  // namespace vramfit
