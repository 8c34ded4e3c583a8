#include "result/run_row.h"

namespace vramfit {

nlohmann::json to_json(const RunRow& r) {
  nlohmann::json j;
  j["model"] = r.model;
  j["precision"] = std::string(to_string(r.precision));
  j["batch"] = r.batch;
  j["tf32"] = r.tf32;
  j["status"] = r.status;
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (r.status != Outcome::ok) return j;
  j["latency_ms"] = {{"min", r.min_ms}, {"median", r.median_ms}, {"p90", r.p90_ms}, {"p99", r.p99_ms},
                     {"max", r.max_ms}, {"mean", r.mean_ms}, {"iterations", r.iterations}, {"warmup", r.warmup},
                     {"trusted", r.timing_trusted}, {"samples", r.samples_ms}};
  if (!r.timing_note.empty()) j["latency_ms"]["note"] = r.timing_note;
  j["items_per_s"] = r.items_per_s;
  j["streams"] = r.streams;
  if (r.streams > 1) j["wall_median_ms"] = r.wall_median_ms;
  j["vram_bytes"] = {{"weights", r.weights_bytes},
                     {"activations", r.activation_bytes},
                     {"workspace_budget", r.workspace_budget_bytes},
                     {"workspace_used", r.workspace_used_bytes},
                     {"arena", r.arena_bytes},
                     {"planned_arena", r.planned_arena_bytes},
                     {"context_and_handles", r.context_bytes},
                     {"process_total", r.process_total_bytes},
                     {"device_used", r.device_used_bytes},
                     {"budget", r.budget_bytes}};
  j["algorithms"] = r.algorithms;
  if (!r.time_by_op.empty()) {
    nlohmann::json t = nlohmann::json::object();
    for (const auto& [op, ms] : r.time_by_op) t[op] = ms;
    j["time_by_op_ms"] = t;
  }
  return j;
}

}  // namespace vramfit
