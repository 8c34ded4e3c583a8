// report/summary_format.h — (private to report/) how the summary printers write numbers, so the
// Markdown, HTML and CSV views of one Summary agree character for character. Sizes, counts and
// lists: core/text.h (mib_text, gib_text, thousands, join), the one copy of each.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/text.h"
#include "report/summary.h"

namespace vramfit::summary_format {

std::string ms(double v);                 // "0.469 ms", "312.3 ms"
std::string gpu_line(const SystemSummary& s);  // "RTX 3070 Ti (8.00 GiB, sm_86)"
std::string source_cell(const SummaryCell& c);  // "emulated 2026-11-28", "predicted"
std::string max_batch_cell(const SummaryCell& c);  // "≥ 4,096", "0", "—"
std::string latency_cell(const std::optional<double>& v, bool measured);  // "≈ 1.2 ms"
// Items per second at the max batch: measured where the profile timed it, else from the estimate.
std::optional<double> throughput(const SummaryCell& c);

// LLM cells (the same text in Markdown, HTML and CSV).
std::string source_cell(const LlmSummaryCell& c);       // "profiled 2026-11-28", "predicted"
std::string max_context_cell(const LlmSummaryCell& c);  // "1,739 ✓", "4,096 (model max) ✓", "2,048 (planned)", "0", "—"
std::string rate_cell(const std::optional<double>& v, bool measured = true);  // "323.4", "≈ 323.4" (an estimate), "—"

}  // namespace vramfit::summary_format
