// report/summary_format.cpp — number formats shared by the summary printers.
#include "report/summary_format.h"

#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text.h"

namespace vramfit::summary_format {

std::string ms(double v) { return v >= 100 ? fmt::format("{:.1f} ms", v) : fmt::format("{:.3g} ms", v); }

std::string gpu_line(const SystemSummary& s) {
  return fmt::format("{} ({}, sm_{})", s.gpu.name, gib_text(s.gpu.vram_bytes), s.gpu.compute_capability);
}

std::string source_cell(const SummaryCell& c) {
  if (c.source == CellSource::predicted) return "predicted";
  return fmt::format("{} {}", to_string(c.source), c.date.substr(0, 10));
}

std::string max_batch_cell(const SummaryCell& c) {
  if (c.status != Outcome::ok) return c.status == Outcome::oom ? "0" : "—";
  return (c.capped ? "≥ " : "") + thousands(c.max_batch);
}

std::string latency_cell(const std::optional<double>& v, bool measured) {
  if (!v) return "—";
  return measured ? ms(*v) : "≈ " + ms(*v);
}

std::optional<double> throughput(const SummaryCell& c) {
  if (c.items_per_s_max) return c.items_per_s_max;
  if (c.latency_ms_max && *c.latency_ms_max > 0 && c.max_batch > 0) return static_cast<double>(c.max_batch) * 1e3 / *c.latency_ms_max;
  return std::nullopt;
}

std::string source_cell(const LlmSummaryCell& c) {
  if (c.source == CellSource::predicted) return "predicted";
  return fmt::format("{} {}", to_string(c.source), c.date.substr(0, 10));
}

std::string max_context_cell(const LlmSummaryCell& c) {
  if (c.status != Outcome::ok) return c.status == Outcome::oom ? "0" : "—";
  std::string s = thousands(c.max_context);
  if (c.max_context_is_model_limit) s += " (model max)";
  if (c.source == CellSource::predicted) s += " (planned)";
  else if (c.max_context_confirmed) s += " ✓";
  return s;
}

std::string rate_cell(const std::optional<double>& v, bool measured) {
  return v ? fmt::format("{}{:.1f}", measured ? "" : "≈ ", *v) : "—";
}

}  // namespace vramfit::summary_format
