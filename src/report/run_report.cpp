#include "report/run_report.h"

#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text_escape.h"
#include "core/text.h"
#include "report/plan_report.h"

namespace vramfit {

namespace {
}  // namespace

nlohmann::json to_json(const RunReport& r) {
  nlohmann::json j;
  j["schema_version"] = kSchemaVersion;
  j["command"] = "run";
  j["device"] = r.device;
  j["software"] = r.software;
  if (!r.vram_limit.empty()) j["vram_limit"] = r.vram_limit;
  j["rows"] = nlohmann::json::array();
  for (const auto& row : r.rows) j["rows"].push_back(to_json(row));
  return j;
}

std::string run_markdown(const RunReport& r) {
  std::string out = fmt::format("Device: {}\nSoftware: {}\n", md_text(r.device), md_text(r.software));
  if (!r.vram_limit.empty()) out += fmt::format("Emulated card: {} (budget = limit − context and handles measured here)\n", md_text(r.vram_limit));
  out += "\n";
  std::vector<std::vector<std::string>> rows;
  bool any_streams = false;
  for (const auto& x : r.rows) {
    const std::string batch = x.streams > 1 ? fmt::format("{} × {} streams", x.batch, x.streams) : std::to_string(x.batch);
    any_streams = any_streams || x.streams > 1;
    if (x.status != Outcome::ok) {
      rows.push_back({x.model, std::string(to_string(x.precision)), batch, std::string(to_string(x.status)), x.reason});
      continue;
    }
    rows.push_back({x.model, std::string(to_string(x.precision)), batch, "ok" + std::string(x.timing_trusted ? "" : " (timing flagged)"),
                    fmt::format("{:.3f}", x.median_ms), fmt::format("{:.3f}", x.p90_ms), fmt::format("{:.3f}", x.p99_ms),
                    fmt::format("{:.3f}", x.min_ms), fmt::format("{:.3f}", x.max_ms), fmt::format("{:.0f}", x.items_per_s),
                    mib_number(x.weights_bytes), mib_number(x.activation_bytes), fmt::format("{}/{}", mib_number(x.workspace_used_bytes), mib_number(x.workspace_budget_bytes)),
                    mib_number(x.context_bytes), mib_number(x.process_total_bytes), mib_number(x.device_used_bytes)});
  }
  out += markdown_table({"model", "precision", "batch", "status", "median ms", "p90 ms", "p99 ms", "min ms", "max ms", "items/s",
                         "weights MiB", "activations MiB", "workspace used/budget MiB", "context+handles MiB",
                         "process total MiB", "device used MiB"},
                        rows);
  for (const auto& x : r.rows) {
    if (x.time_by_op.empty()) continue;
    double total = 0;
    for (const auto& [op, ms] : x.time_by_op) total += ms;
    out += fmt::format("\nWhere the time goes, {} {} batch {} (each node timed alone; sum {:.3f} ms vs {:.3f} ms replayed):\n", x.model,
                       to_string(x.precision), x.batch, total, x.median_ms);
    for (const auto& [op, ms] : x.time_by_op) out += fmt::format("  {:<20} {:9.3f} ms  {:5.1f}%\n", op, ms, 100.0 * ms / total);
  }
  if (any_streams)
    out += "\nWith N streams: the N copies start together; latency is each stream's own (all pooled), items/s is "
           "N × batch over the median time until the last stream is done, and VRAM holds the weights once and N activation "
           "regions, workspaces and library-handle pairs.\n";
  out += "\nLatency: CUDA events around each replay of the captured forward pass after warm-up; random N(0,1) inputs.\n"
         "Process total = the session's one arena (weights + activations + workspace budget) + context and handles.\n";
  return out;
}

std::string run_csv(const RunReport& r) {
  std::string out = "model,precision,batch,status,reason,median_ms,p90_ms,p99_ms,min_ms,max_ms,items_per_s,weights_bytes,"
                    "activation_bytes,workspace_used_bytes,workspace_budget_bytes,context_bytes,process_total_bytes,device_used_bytes,streams\n";
  for (const auto& x : r.rows) {
    out += fmt::format("{},{},{},{},{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.1f},{},{},{},{},{},{},{},{}\n", x.model, to_string(x.precision),
                       x.batch, to_string(x.status), csv_field(x.reason), x.median_ms, x.p90_ms, x.p99_ms, x.min_ms, x.max_ms, x.items_per_s, x.weights_bytes,
                       x.activation_bytes, x.workspace_used_bytes, x.workspace_budget_bytes, x.context_bytes, x.process_total_bytes,
                       x.device_used_bytes, x.streams);
  }
  return out;
}

}  // namespace vramfit
