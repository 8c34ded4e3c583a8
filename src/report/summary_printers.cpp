// report/summary_printers.cpp — Summary → Markdown, JSON, CSV. (HTML: summary_html.cpp.)
#include "report/summary_printers.h"

#include <algorithm>
#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text_escape.h"
#include "report/plan_report.h"
#include "report/summary_format.h"

namespace vramfit {

namespace sf = summary_format;

namespace {

std::string note_cell(const SummaryCell& c) {
  std::string s(to_string(c.mark));
  if (!c.mark_note.empty()) s += " " + c.mark_note;
  else if (c.status == Outcome::ok && !c.reason.empty()) s += " (" + c.reason + ")";
  return s;  // a table cell: markdown_table escapes it
}

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
nlohmann::json opt(const std::optional<std::uint64_t>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }
nlohmann::json opt_str(const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); }

nlohmann::json to_json(const PredictionCheck& k) {
  return {{"budget_bytes", k.budget_bytes},         {"workspace_bytes", k.workspace_bytes}, {"ceiling", k.ceiling},
          {"planner_max_batch", k.planner_max_batch}, {"profile_predicted", k.profile_predicted}, {"gpu_max_batch", k.gpu_max_batch},
          {"agrees", k.agrees},                     {"note", k.note}};
}

// What every cell, vision or LLM, says of itself.
template <class Cell> void put_cell_identity(nlohmann::json& j, const Cell& c) {
  j["model"] = c.model;
  j["precision"] = c.precision;
  j["source"] = to_string(c.source);
  j["profile"] = opt_str(c.profile_path);
  j["date"] = opt_str(c.date);
  j["status"] = status_text(c);
  j["reason"] = c.reason;
}

nlohmann::json to_json(const SummaryCell& c) {
  nlohmann::json j;
  put_cell_identity(j, c);
  j["max_batch"] = c.max_batch;
  j["capped"] = c.capped;
  j["limited_by"] = opt_str(c.limited_by);
  j["vram_at_max_batch_bytes"] = opt(c.vram_at_max_bytes);
  j["vram_at_batch1_bytes"] = opt(c.vram_at_batch1_bytes);
  j["latency_ms_batch1"] = opt(c.latency_ms_batch1);
  j["latency_ms_max_batch"] = opt(c.latency_ms_max);
  j["latency_measured"] = c.latency_measured;
  j["latency_source"] = c.latency_source;
  j["items_per_s_max_batch"] = opt(sf::throughput(c));
  j["relative_l2"] = opt(c.relative_l2);
  j["top1_agreement"] = opt(c.top1_agreement);
  j["mark"] = to_string(c.mark);
  j["mark_note"] = c.mark_note;
  j["prediction_check"] = c.check ? to_json(*c.check) : nlohmann::json(nullptr);
  j["vram_curve"] = nlohmann::json::array();
  for (const auto& p : c.vram_curve) j["vram_curve"].push_back({{"batch", p.batch}, {"bytes", p.bytes}});
  return j;
}

nlohmann::json to_json(const LlmSummaryCell& c, const std::string& system_id) {
  nlohmann::json j;
  j["system_id"] = system_id;
  put_cell_identity(j, c);
  j["context"] = c.context;
  j["weights_bytes"] = c.weights_bytes;
  j["kv_bytes_per_token"] = c.kv_bytes_per_token;
  j["max_context_batch1"] = c.max_context;
  j["max_context_is_model_limit"] = c.max_context_is_model_limit;
  j["max_context_confirmed"] = c.max_context_confirmed;
  j["vram_at_context_bytes"] = opt(c.vram_at_context_bytes);
  j["prefill_tokens_per_s"] = opt(c.prefill_tokens_per_s);
  j["decode_tokens_per_s"] = opt(c.decode_tokens_per_s);
  j["decode_tokens_per_s_max_context"] = opt(c.decode_tokens_per_s_max_context);
  j["speed_measured"] = c.speed_measured;
  j["speed_source"] = c.speed_source;
  j["mark"] = to_string(c.mark);
  j["mark_note"] = c.mark_note;
  return j;
}


// Shell commands as a Markdown block. A ```sh fence shows them as they are, but nothing inside a fence
// can be escaped: a quoted id with '<', '&' or a newline (shell_quote keeps it) would reach the page raw
// or break the fence. Such commands go in an HTML <pre> block instead, whose entities (&#10; for a
// newline) the viewer turns back into the exact command.
std::string shell_block(const std::vector<std::string>& commands) {
  bool fence = true;
  for (const auto& c : commands)
    for (char ch : c)
      if (ch == '<' || ch == '>' || ch == '&' || ch == '`' || static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) fence = false;
  std::string o = fence ? "```sh\n" : "<pre><code>";
  for (const auto& c : commands) {
    if (fence) {
      o += c + "\n";
      continue;
    }
    for (char ch : html_escape(c)) o += ch == '\n' ? std::string("&#10;") : ch == '\r' ? std::string("&#13;") : std::string(1, ch);
    o += "\n";
  }
  return o + (fence ? "```\n" : "</code></pre>\n");
}

// One system: its table, where the numbers come from, the planner checks, warnings, recommendations.
std::string system_markdown(const SystemSummary& sys) {
  std::string o;
  // Running text from the systems file and profiles goes through md_text (core/text_escape.h); tables
  // escape their cells in markdown_table.
  o += fmt::format("\n## {} — {}\n\n", md_text(sys.id), md_text(sf::gpu_line(sys)));
  o += fmt::format("Primary use: {}. Status: {}.\n", md_text(sys.primary_use), md_text(sys.status));
  if (sys.predicted_cells)
    o += fmt::format("Predicted cells: budget {} = VRAM {} − CUDA context and handles {} ({}).\n", mib_text(sys.predicted_budget_bytes),
                     mib_text(sys.gpu.vram_bytes), mib_text(sys.context_bytes), md_text(sys.context_source));
  o += fmt::format("Latency estimates: {}.\n\n", md_text(sys.latency_calibration));
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : sys.cells)
    rows.push_back({c.model, c.precision, sf::max_batch_cell(c), c.vram_at_max_bytes ? mib_text(*c.vram_at_max_bytes) : "—",
                    sf::latency_cell(c.latency_ms_batch1, c.latency_measured), sf::latency_cell(c.latency_ms_max, c.latency_measured),
                    sf::throughput(c) ? fmt::format("{}{:.0f}", c.latency_measured ? "" : "≈ ", *sf::throughput(c)) : "—",
                    sf::source_cell(c), note_cell(c)});
  o += markdown_table({"model", "precision", "max batch", "VRAM at max batch", "latency batch 1", "latency at max batch",
                       "items/s at max batch", "source", "status"},
                      rows);
  o += "\nNumbers from: ";
  if (sys.profiles.empty()) {
    o += "the planner only (no profile of this system).\n";
  } else {
    o += "\n\n";
    for (const auto& p : sys.profiles) {
      o += fmt::format("- {} — {}, {}{}: {}\n", md_code(p.path), md_text(p.date), md_text(p.device),
                       p.vram_limit.empty() ? "" : ", emulating " + md_text(p.vram_limit),
                       p.cells_used.empty() ? "no cell used" : "used for " + md_text(join(p.cells_used, ", ")));
      if (!p.cells_superseded.empty()) o += "  - superseded by a newer profile: " + md_text(join(p.cells_superseded, ", ")) + "\n";
    }
    std::vector<std::vector<std::string>> checks;
    for (const auto& c : sys.cells)
      if (c.check)
        checks.push_back({c.model, c.precision, mib_text(c.check->budget_bytes), thousands(c.check->planner_max_batch),
                          thousands(c.check->gpu_max_batch), c.check->agrees ? "yes" : "**no**"});
    if (!checks.empty()) {
      o += "\nPlanner against GPU for the profile's budget (the predicted max batch must equal the one the GPU confirmed):\n\n";
      o += markdown_table({"model", "precision", "budget", "planner max batch", "GPU max batch", "agree"}, checks);
    }
  }
  if (!sys.warnings.empty()) {
    o += "\nWarnings:\n\n";
    for (const auto& w : sys.warnings) o += "- " + md_text(w) + "\n";
  }
  o += "\nRecommendations:\n\n";
  for (const auto& r : sys.recommendations) o += "- " + md_text(r) + "\n";
  return o;
}

}  // namespace

std::string summary_markdown(const Summary& s) {
  std::string o = "# GPU constraints summary\n\n";
  o += fmt::format("Generated {} by vramfit {} from {}{}.\n", s.generated, s.vramfit_version, md_code(s.systems_file),
                   s.command_line.empty() ? "" : " with " + md_code(s.command_line));
  o += "Every number comes from a profile (**profiled** on the machine, or **emulated** with `--vram-limit` on a larger GPU) or "
       "from vramfit's planner (**predicted**: memory exact for vramfit's engine, latency a roofline estimate marked ≈).\n\n";

  o += "## Systems\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& sys : s.systems)
    rows.push_back({sys.id, sys.gpu.name, gib_text(sys.gpu.vram_bytes) + (sys.vram_overridden ? " (set in the systems file)" : ""),
                    compute_capability_string(sys.gpu.compute_capability), sys.primary_use, sys.status});
  o += markdown_table({"system", "GPU", "VRAM", "compute capability", "primary use", "status"}, rows);

  o += "\n## How to read the tables\n\n";
  for (const auto& [mark, rule] : mark_rules(s.min_batch)) o += fmt::format("- {} {}\n", to_string(mark), rule);
  o += fmt::format("\nVRAM is what the process holds: weights + activation arena + workspace ({}) + the CUDA context and library "
                   "handles (measured by the profile; for predicted cells the default stated under each system). Max batch is searched "
                   "up to {}; \"≥\" means that ceiling was reached. Latency is the median per batch; \"≈\" marks an estimate for that "
                   "card (roofline over its spec-sheet rates, divided by an efficiency measured on a profiled GPU or 0.5).\n",
                   mib_text(s.workspace_bytes), thousands(s.ceiling));

  for (const auto& sys : s.systems) o += system_markdown(sys);

  if (!s.llm_models.empty()) {
    o += "\n## LLM: decoder models at batch 1\n\n";
    o += "Per system and precision: the largest context at batch 1 (✓: it ran on the GPU and one token more did not; \"planned\": "
         "the exact plan for the card's budget), the VRAM the process holds at context 512 (weights + KV cache + activations + "
         "scratch + CUDA context and handles), and the tokens/s a profile measured on that machine (prefill of 511 tokens; decode "
         "at context 512 and with the KV cache filled to the max context). Predicted and emulated cells show the time model's "
         "estimate for the system's card, marked ≈ (the system's \"Latency estimates\" line says which card calibrated it and how "
         "far its cross-card check was off).\n\n";
    rows.clear();
    for (const auto& sys : s.systems)
      for (const auto& c : sys.llm_cells) {
        const bool planned = c.weights_bytes > 0;
        rows.push_back({sys.id, c.model, c.precision, planned ? gib_text(c.weights_bytes) : "—",
                        planned ? kib_text(c.kv_bytes_per_token) : "—",
                        sf::max_context_cell(c), c.vram_at_context_bytes ? mib_text(*c.vram_at_context_bytes) : "—",
                        sf::rate_cell(c.prefill_tokens_per_s, c.speed_measured), sf::rate_cell(c.decode_tokens_per_s, c.speed_measured),
                        sf::rate_cell(c.decode_tokens_per_s_max_context, c.speed_measured), sf::source_cell(c),
                        c.mark_note.empty() ? std::string(to_string(c.mark)) : fmt::format("{} {}", to_string(c.mark), c.mark_note)});
      }
    o += markdown_table({"system", "model", "precision", "weights", "KV cache per token", "max context (batch 1)", "VRAM at context 512",
                         "prefill tokens/s", "decode tokens/s", "decode tokens/s at max context", "source", "status"},
                        rows);
  }

  if (!s.training.empty()) {
    o += "## Training (planned, not confirmed)\n\n";
    o += "The largest batch of a training step with AdamW on each system (fp32 master weights and gradients, two fp32 optimizer "
         "states, the activations the backward reads, a bound on its gradient buffers; `vramfit plan --train` shows the "
         "breakdown). Planned from stated rules: vramfit's CUDA training step is not implemented yet, so nothing here ran.\n\n";
    std::vector<std::vector<std::string>> train_rows;
    for (const auto& c : s.training)
      train_rows.push_back({c.system_id, c.model, c.precision, c.optimizer,
                      c.status != Outcome::ok ? std::string("—") : c.max_batch == 0 ? std::string("0 (does not fit)") : thousands(c.max_batch),
                      c.status != Outcome::ok ? c.reason : mib_text(c.bytes_at_max)});
    o += markdown_table({"system", "model", "precision", "optimizer", "max training batch", "memory at that batch"}, train_rows);
    o += "\n";
  }

  if (!s.smallest_system.empty()) {
    const SystemSummary* small = nullptr;
    for (const auto& sys : s.systems)
      if (sys.id == s.smallest_system) small = &sys;
    o += fmt::format("\n## What breaks on the smallest card: {} — {}\n", md_text(small->id), md_text(sf::gpu_line(*small)));
    for (const char* cat : {"will not work", "works with constraints", "safe", "not applicable"}) {
      std::string items;
      for (const auto& b : s.smallest)
        if (b.category == cat) items += fmt::format("- **{} {}**: {}\n", md_text(b.model), md_text(b.precision), md_text(b.text));
      if (items.empty()) continue;
      std::string title = cat;
      title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
      o += fmt::format("\n### {}\n\n{}", title, items);
    }
  }

  if (!s.left_out.empty()) {
    o += "\n## Left out\n\n";
    for (const auto& l : s.left_out) o += "- " + md_text(l) + "\n";
  }

  o += "\n## How to reproduce\n\n";
  for (const auto& r : s.reproduce) o += fmt::format("{}:\n\n{}\n", md_text(r.comment), shell_block(r.commands));
  if (!s.warnings.empty()) {
    o += "## Warnings\n\n";
    for (const auto& w : s.warnings) o += "- " + md_text(w) + "\n";
  }
  return o;
}

nlohmann::json to_json(const Summary& s) {
  nlohmann::json j;
  j["schema_version"] = s.schema_version;
  j["command"] = "report";
  j["vramfit_version"] = s.vramfit_version;
  j["generated"] = s.generated;
  j["systems_file"] = s.systems_file;
  j["command_line"] = s.command_line;
  j["models"] = s.models;
  j["precisions"] = s.precisions;
  j["min_batch"] = s.min_batch;
  j["ceiling"] = s.ceiling;
  j["workspace_bytes"] = s.workspace_bytes;
  j["mark_rules"] = nlohmann::json::array();
  for (const auto& [mark, rule] : mark_rules(s.min_batch)) j["mark_rules"].push_back({{"mark", to_string(mark)}, {"rule", rule}});
  j["systems"] = nlohmann::json::array();
  for (const auto& sys : s.systems) {
    nlohmann::json js;
    js["id"] = sys.id;
    js["gpu"] = to_json(sys.gpu);
    js["vram_bytes"] = sys.gpu.vram_bytes;
    js["vram_overridden"] = sys.vram_overridden;
    js["compute_capability"] = compute_capability_string(sys.gpu.compute_capability);
    js["primary_use"] = sys.primary_use;
    js["status"] = sys.status;
    js["cells_by_source"] = {{"profiled", sys.profiled_cells}, {"emulated", sys.emulated_cells}, {"predicted", sys.predicted_cells}};
    js["newest_profile_date"] = opt_str(sys.newest_date);
    js["context_bytes"] = sys.context_bytes;
    js["context_source"] = sys.context_source;
    js["predicted_budget_bytes"] = sys.predicted_budget_bytes;
    js["latency_calibration"] = sys.latency_calibration;
    js["profiles"] = nlohmann::json::array();
    for (const auto& p : sys.profiles)
      js["profiles"].push_back({{"path", p.path},
                                {"date", p.date},
                                {"device", p.device},
                                {"vram_limit", opt_str(p.vram_limit)},
                                {"cells_used", p.cells_used},
                                {"cells_superseded", p.cells_superseded}});
    js["cells"] = nlohmann::json::array();
    for (const auto& c : sys.cells) js["cells"].push_back(to_json(c));
    js["recommendations"] = sys.recommendations;
    js["warnings"] = sys.warnings;
    j["systems"].push_back(js);
  }
  nlohmann::json sm;
  sm["system_id"] = opt_str(s.smallest_system);
  sm["items"] = nlohmann::json::array();
  for (const auto& b : s.smallest)
    sm["items"].push_back({{"category", b.category}, {"model", b.model}, {"precision", b.precision}, {"text", b.text}});
  j["smallest_card"] = sm;
  j["reproduce"] = nlohmann::json::array();
  for (const auto& r : s.reproduce)
    j["reproduce"].push_back({{"system_id", opt_str(r.system_id)}, {"comment", r.comment}, {"commands", r.commands}});
  j["left_out"] = s.left_out;
  j["warnings"] = s.warnings;
  if (!s.llm_models.empty()) {
    nlohmann::json llm;
    llm["models"] = s.llm_models;
    llm["precisions"] = s.llm_precisions;
    llm["cells"] = nlohmann::json::array();
    for (const auto& sys : s.systems)
      for (const auto& c : sys.llm_cells) llm["cells"].push_back(to_json(c, sys.id));
    j["llm"] = llm;
  }
  if (!s.training.empty()) {
    nlohmann::json t{{"status", "planned from stated rules (predict/train_plan.h); not confirmed by running"}, {"cells", nlohmann::json::array()}};
    for (const auto& c : s.training)
      t["cells"].push_back({{"system_id", c.system_id}, {"model", c.model}, {"precision", c.precision}, {"optimizer", c.optimizer},
                            {"status", status_text(c.status, true)}, {"reason", c.reason}, {"max_batch", c.max_batch},
                            {"bytes_at_max_batch", c.bytes_at_max}});
    j["training"] = t;
  }
  return j;
}

const std::vector<std::string>& summary_csv_columns() {
  static const std::vector<std::string> cols{
      "system_id",           "gpu",               "vram_bytes",          "compute_capability", "model",
      "precision",           "source",            "profile",             "date",               "status",
      "max_batch",           "capped",            "vram_at_max_batch_bytes", "vram_at_batch1_bytes", "latency_ms_batch1",
      "latency_ms_max_batch", "latency_kind",     "items_per_s_max_batch", "relative_l2",      "top1_agreement",
      "mark",                "note",              "planner_max_batch",   "prediction_agrees",  "kind",
      "context",             "max_context_batch1", "weights_bytes",      "kv_bytes_per_token", "vram_at_context_bytes",
      "prefill_tokens_per_s", "decode_tokens_per_s"};
  return cols;
}

std::string summary_csv(const Summary& s) {
  std::string o = csv_row(summary_csv_columns());
  auto num = [](const std::optional<double>& v) { return v ? fmt::format("{:.6g}", *v) : std::string(); };
  auto bytes = [](const std::optional<std::uint64_t>& v) { return v ? std::to_string(*v) : std::string(); };
  auto line = [&](const std::vector<std::string>& f) { o += csv_row(f); };
  for (const auto& sys : s.systems)
    for (const auto& c : sys.cells) {
      const std::vector<std::string> f{sys.id,
                                       sys.gpu.name,
                                       std::to_string(sys.gpu.vram_bytes),
                                       compute_capability_string(sys.gpu.compute_capability),
                                       c.model,
                                       c.precision,
                                       to_string(c.source),
                                       c.profile_path,
                                       c.date,
                                       status_text(c),
                                       std::to_string(c.max_batch),
                                       c.capped ? "true" : "false",
                                       bytes(c.vram_at_max_bytes),
                                       bytes(c.vram_at_batch1_bytes),
                                       num(c.latency_ms_batch1),
                                       num(c.latency_ms_max),
                                       c.latency_ms_max || c.latency_ms_batch1 ? (c.latency_measured ? "measured" : "estimate") : "",
                                       num(sf::throughput(c)),
                                       num(c.relative_l2),
                                       num(c.top1_agreement),
                                       std::string(to_string(c.mark)),
                                       c.mark_note.empty() ? c.reason : c.mark_note,
                                       c.check ? std::to_string(c.check->planner_max_batch) : "",
                                       c.check ? (c.check->agrees ? "true" : "false") : "",
                                       "vision", "", "", "", "", "", "", ""};
      line(f);
    }
  // Decoder LLMs: the batch columns stay empty; the last columns are theirs.
  for (const auto& sys : s.systems)
    for (const auto& c : sys.llm_cells) {
      const bool planned = c.weights_bytes > 0;
      const std::vector<std::string> f{sys.id,
                                       sys.gpu.name,
                                       std::to_string(sys.gpu.vram_bytes),
                                       compute_capability_string(sys.gpu.compute_capability),
                                       c.model,
                                       c.precision,
                                       to_string(c.source),
                                       c.profile_path,
                                       c.date,
                                       status_text(c),
                                       "", "", "", "", "", "", "", "", "", "",
                                       std::string(to_string(c.mark)),
                                       c.mark_note.empty() ? c.reason : c.mark_note,
                                       "", "",
                                       "llm",
                                       std::to_string(c.context),
                                       c.status == Outcome::ok || c.status == Outcome::oom ? std::to_string(c.max_context) : "",
                                       planned ? std::to_string(c.weights_bytes) : "",
                                       planned ? std::to_string(c.kv_bytes_per_token) : "",
                                       bytes(c.vram_at_context_bytes),
                                       num(c.prefill_tokens_per_s),
                                       num(c.decode_tokens_per_s)};
      line(f);
    }
  for (const auto& c : s.training) {
    const SystemSummary* sys = nullptr;
    for (const auto& x : s.systems)
      if (x.id == c.system_id) sys = &x;
    std::vector<std::string> f(summary_csv_columns().size());
    f[0] = c.system_id;
    f[1] = sys ? sys->gpu.name : "";
    f[2] = sys ? std::to_string(sys->gpu.vram_bytes) : "";
    f[3] = sys ? compute_capability_string(sys->gpu.compute_capability) : "";
    f[4] = c.model;
    f[5] = c.precision;
    f[6] = "predicted";
    f[9] = status_text(c.status, true);
    f[10] = c.status == Outcome::ok ? std::to_string(c.max_batch) : "";
    f[12] = c.status == Outcome::ok ? std::to_string(c.bytes_at_max) : "";
    f[21] = c.status == Outcome::ok ? "training with " + c.optimizer + ", planned, not confirmed by running" : c.reason;
    f[24] = "train";
    line(f);
  }
  return o;
}

}  // namespace vramfit
