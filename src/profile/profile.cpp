// profile/profile.cpp — ProfileDoc → profile.json, and the mark of each row.
#include "profile/profile.h"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>


namespace vramfit::profile {

namespace {

nlohmann::json or_null(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

StatusMark marked(Mark verdict, std::string note) { return {verdict, std::string(to_string(verdict)), std::move(note)}; }

// ⚠️ with the notes joined, or ✅ without any.
StatusMark from_notes(const std::vector<std::string>& notes) {
  std::string s;
  for (const auto& n : notes) s += (s.empty() ? "" : "; ") + n;
  return marked(notes.empty() ? Mark::fits : Mark::constrained, s);
}

}  // namespace


std::optional<double> llm_number(const std::optional<nlohmann::json>& m, const char* key) {
  if (!m || answer_outcome(*m) != Outcome::ok || !m->contains(key) || !(*m)[key].is_number()) return std::nullopt;
  return (*m)[key].get<double>();
}

std::optional<std::uint64_t> llm_process_total(const std::optional<nlohmann::json>& m) {
  if (!m || answer_outcome(*m) != Outcome::ok || !m->contains("vram_bytes")) return std::nullopt;
  return (*m)["vram_bytes"].value("process_total", std::uint64_t{0});
}

std::string sanitize_system_id(const std::string& raw) {
  std::string o;
  bool dash = false;
  for (unsigned char c : raw) {
    if (std::isalnum(c) || c == '_' || c == '-') {
      o += static_cast<char>(std::tolower(c));
      dash = c == '-';
    } else if (!dash && !o.empty()) {
      o += '-';
      dash = true;
    }
  }
  while (!o.empty() && o.back() == '-') o.pop_back();
  return o.empty() ? std::string("unknown-system") : o;
}

nlohmann::json to_json(const ModelPrecisionResult& r) {
  nlohmann::json j;
  j["kind"] = "vision";
  j["model"] = r.model;
  j["precision"] = std::string(to_string(r.precision));
  j["status"] = r.outcome;
  if (!r.reason.empty()) j["reason"] = r.reason;
  j["budget_bytes"] = r.budget_bytes;
  nlohmann::json mb;
  mb["status"] = r.max_batch.outcome;
  if (!r.max_batch.reason.empty()) mb["reason"] = r.max_batch.reason;
  mb["predicted"] = r.max_batch.predicted;
  mb["predicted_bytes_at_max"] = r.predicted_bytes_at_max;
  mb["max_batch"] = r.max_batch.found;
  mb["ceiling"] = r.max_batch.ceiling;
  mb["capped"] = r.max_batch.capped;
  mb["prediction_confirmed"] = r.max_batch.prediction_confirmed;
  mb["probes"] = nlohmann::json::array();
  for (const auto& p : r.max_batch.probes) {
    nlohmann::json pj{{"batch", p.size}, {"status", p.outcome}};
    if (!p.reason.empty()) pj["reason"] = p.reason;
    mb["probes"].push_back(pj);
  }
  j["max_batch"] = mb;
  j["measurements"] = nlohmann::json::array();
  for (const auto& m : r.measurements) j["measurements"].push_back(m);
  j["fidelity"] = r.fidelity ? *r.fidelity : nlohmann::json(nullptr);
  if (!r.streams.empty()) j["streams"] = r.streams;
  const StatusMark sm = status_mark(r);
  j["mark"] = sm.mark;
  if (!sm.note.empty()) j["mark_note"] = sm.note;
  return j;
}

nlohmann::json to_json(const LlmPrecisionResult& r) {
  nlohmann::json j;
  j["kind"] = "llm";
  j["model"] = r.model;
  j["precision"] = std::string(to_string(r.precision));
  j["status"] = r.outcome;
  if (!r.reason.empty()) j["reason"] = r.reason;
  j["budget_bytes"] = r.budget_bytes;
  j["context"] = r.context;
  j["batch"] = 1;
  j["model_max_context"] = r.model_max_context;
  j["weights_bytes"] = r.weights_bytes;
  j["kv_bytes_per_token"] = r.kv_bytes_per_token;
  j["predicted_bytes"] = r.predicted_bytes;
  j["max_context_batch1"] = r.outcome == Outcome::ok ? r.max_context.found : 0;
  nlohmann::json mc;
  mc["status"] = r.max_context.outcome;
  if (!r.max_context.reason.empty()) mc["reason"] = r.max_context.reason;
  mc["predicted"] = r.max_context.predicted;
  mc["predicted_bytes_at_max"] = r.predicted_bytes_at_max;
  mc["max_context"] = r.max_context.found;
  mc["model_limit"] = r.model_max_context;
  mc["capped"] = r.max_context.capped;
  mc["prediction_confirmed"] = r.max_context.prediction_confirmed;
  mc["probes"] = nlohmann::json::array();
  for (const auto& p : r.max_context.probes) {
    nlohmann::json pj{{"context", p.size}, {"status", p.outcome}};
    if (!p.reason.empty()) pj["reason"] = p.reason;
    mc["probes"].push_back(pj);
  }
  j["max_context"] = mc;
  // The headline numbers, copied from the two measurements below (null when not measured).
  const auto prefill_tokens = llm_number(r.speed, "prefill_tokens");
  j["prefill_tokens"] = prefill_tokens ? nlohmann::json(static_cast<std::int64_t>(*prefill_tokens)) : nlohmann::json(nullptr);
  j["prefill_tokens_per_s"] = or_null(llm_number(r.speed, "prefill_tokens_per_s"));
  j["decode_tokens_per_s"] = or_null(llm_number(r.speed, "decode_tokens_per_s"));
  j["decode_tokens_per_s_max_context"] = or_null(llm_number(r.at_max, "decode_tokens_per_s"));
  const auto vram = llm_process_total(r.speed);
  j["vram_at_context_bytes"] = vram ? nlohmann::json(*vram) : nlohmann::json(nullptr);
  if (!r.speed_note.empty()) j["speed_note"] = r.speed_note;
  j["measurements"] = nlohmann::json::array();
  auto add = [&](const std::optional<nlohmann::json>& m, const char* measure, std::int64_t context) {
    if (!m) return;
    nlohmann::json x = *m;
    x["kind"] = "llm";
    x["measure"] = measure;
    x["model"] = r.model;
    x["precision"] = std::string(to_string(r.precision));
    x["context"] = context;
    x["batch"] = 1;
    j["measurements"].push_back(std::move(x));
  };
  add(r.speed, "speed", r.context);
  add(r.at_max, "fit", r.max_context.found);
  const StatusMark sm = status_mark(r);
  j["mark"] = sm.mark;
  if (!sm.note.empty()) j["mark_note"] = sm.note;
  return j;
}

nlohmann::json to_json(const ProfileDoc& d) {
  nlohmann::json j;
  j["schema_version"] = kProfileSchemaVersion;
  j["command"] = "profile";
  j["vramfit_version"] = d.vramfit_version;
  j["system_id"] = d.system_id;
  j["date"] = d.date;
  j["device"] = d.device;
  j["software"] = d.software;
  j["vram_limit"] = d.vram_limit.empty() ? nlohmann::json(nullptr) : nlohmann::json(d.vram_limit);
  j["vram_limit_bytes"] = d.vram_limit_bytes ? nlohmann::json(*d.vram_limit_bytes) : nlohmann::json(nullptr);
  j["reserve_bytes"] = d.reserve_bytes;
  j["budget_bytes"] = d.budget_bytes;
  j["context_bytes"] = d.context_bytes;
  j["max_batch_ceiling"] = d.max_batch_ceiling;
  j["quick"] = d.quick;
  j["timeout_s"] = d.timeout_s;
  j["warnings"] = d.warnings;
  j["results"] = nlohmann::json::array();
  for (const auto& r : d.results) j["results"].push_back(to_json(r));
  for (const auto& r : d.llm_results) j["results"].push_back(to_json(r));
  return j;
}

StatusMark status_mark(const ModelPrecisionResult& r) {
  if (const Outcome o = r.outcome; o != Outcome::ok)
    return marked(Mark::fails, o == Outcome::oom ? "not even batch 1 fits: " + r.reason : std::string(to_string(o)) + ": " + r.reason);
  std::vector<std::string> notes;
  if (!r.max_batch.prediction_confirmed)
    notes.push_back(fmt::format("planner predicted max batch {}, the GPU ran {}", r.max_batch.predicted, r.max_batch.found));
  for (const auto& m : r.measurements) {
    const std::int64_t b = m.value("batch", std::int64_t{0});
    if (answer_outcome(m) != Outcome::ok) {
      notes.push_back(fmt::format("batch {}: {} ({})", b, m.value("status", "error"), m.value("reason", "")));
    } else if (m.contains("latency_ms") && !m["latency_ms"].value("trusted", true)) {
      notes.push_back(fmt::format("batch {}: timing not trusted ({})", b, m["latency_ms"].value("note", "")));
    }
  }
  if (r.fidelity) {
    const auto& f = *r.fidelity;
    if (answer_outcome(f) != Outcome::ok) notes.push_back("fidelity not measured: " + f.value("reason", f.value("status", "error")));
    else if (f.contains("top1_agreement") && f.value("top1_agreement", 0.0) < 0.99)
      notes.push_back(fmt::format("top-1 agreement with fp32 only {:.0f} %", 100.0 * f.value("top1_agreement", 0.0)));
    else if (!f.contains("top1_agreement") && f.value("relative_l2", 1.0) > 5e-2)
      notes.push_back(fmt::format("output differs from fp32 by {:.1e} (relative L2)", f.value("relative_l2", 1.0)));
  }
  return from_notes(notes);
}

StatusMark status_mark(const LlmPrecisionResult& r) {
  if (const Outcome o = r.outcome; o != Outcome::ok)
    return marked(Mark::fails, o == Outcome::oom ? "does not fit: " + r.reason : std::string(to_string(o)) + ": " + r.reason);
  std::vector<std::string> notes;
  if (!r.max_context.prediction_confirmed)
    notes.push_back(fmt::format("planner predicted max context {}, the GPU ran {}", r.max_context.predicted, r.max_context.found));
  auto failed = [](const std::optional<nlohmann::json>& m) { return m && answer_outcome(*m) != Outcome::ok; };
  if (!r.speed_note.empty()) notes.push_back(r.speed_note);
  else if (failed(r.speed))
    notes.push_back(fmt::format("context {}: {} ({})", r.context, r.speed->value("status", "error"), r.speed->value("reason", "")));
  else if (r.speed && !llm_number(r.speed, "decode_tokens_per_s"))
    notes.push_back(fmt::format("decode not timed at context {}", r.context));
  if (failed(r.at_max))
    notes.push_back(fmt::format("decode at the max context {}: {} ({})", r.max_context.found, r.at_max->value("status", "error"),
                                r.at_max->value("reason", "")));
  return from_notes(notes);
}

}  // namespace vramfit::profile
