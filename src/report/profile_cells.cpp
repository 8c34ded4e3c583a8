// report/profile_cells.cpp — the cells of a profile's tables (report/profile_cells.h).
#include "report/profile_cells.h"

#include <fmt/format.h>

#include "core/text.h"

namespace vramfit::profile_cells {

using profile::answer_outcome;

const nlohmann::json* measurement_at(const profile::ModelPrecisionResult& r, std::int64_t batch) {
  for (const auto& m : r.measurements)
    if (m.value("batch", std::int64_t{0}) == batch) return &m;
  return nullptr;
}

bool ran(const nlohmann::json* m) { return m && answer_outcome(*m) == Outcome::ok; }

double median_ms(const nlohmann::json& m) { return m.at("latency_ms").value("median", 0.0); }

std::uint64_t process_total(const nlohmann::json& m) { return m.at("vram_bytes").value("process_total", std::uint64_t{0}); }

std::string ms_cell(const nlohmann::json* m) {
  if (!m) return "—";
  if (!ran(m)) return m->value("status", "error");
  return fmt::format("{:.3f} ms", median_ms(*m));
}

std::string max_batch_cell(const profile::ModelPrecisionResult& r) {
  if (const Outcome o = r.outcome; o != Outcome::ok) return o == Outcome::oom ? "0" : "—";
  return fmt::format("{}{}", r.max_batch.capped ? "≥ " : "", r.max_batch.found);
}

std::string fidelity_cell(const profile::ModelPrecisionResult& r) {
  if (!r.fidelity) return r.precision == Precision::fp32 ? "reference" : "—";
  const auto& f = *r.fidelity;
  if (answer_outcome(f) != Outcome::ok) return "not measured (" + f.value("status", "error") + ")";
  return fmt::format("rel. L2 {:.2e}, top-1 {:.0f} %", f.value("relative_l2", 0.0), 100.0 * f.value("top1_agreement", 0.0));
}

std::string max_context_cell(const profile::LlmPrecisionResult& r) {
  if (const Outcome o = r.outcome; o != Outcome::ok) return o == Outcome::oom ? "0" : "—";
  std::string s = fmt::format("{}", r.max_context.found);
  if (r.max_context.capped) s += " (model max)";
  s += r.max_context.prediction_confirmed ? " ✓" : fmt::format(" (planner: {})", r.max_context.predicted);
  return s;
}

std::string rate_cell(const std::optional<double>& v) { return v ? fmt::format("{:.1f}", *v) : "—"; }

std::string weights_cell(const profile::LlmPrecisionResult& r) {
  return r.outcome != Outcome::unsupported ? gib_text(r.weights_bytes) : "—";
}

std::string kv_cell(const profile::LlmPrecisionResult& r) {
  return r.outcome != Outcome::unsupported ? kib_text(r.kv_bytes_per_token)
                                                             : "—";
}

}  // namespace vramfit::profile_cells
