// The RunRow that `run` prints and `profile`'s workers return, filled from a live Session.
#ifdef VRAMFIT_HAVE_CUDA
#include "cli/session_row.h"

#include "backend/cuda/device.h"
#include "backend/cuda/nvml.h"

namespace vramfit::cli {

RunRow session_row(const SessionConfig& cfg, Session& s, const TimingStats* t) {
  RunRow row;
  row.model = cfg.model->id;
  row.precision = cfg.precision;
  row.batch = cfg.batch;
  row.streams = cfg.streams;
  if (t) {
    row.iterations = static_cast<int>(t->samples_ms.size());
    row.warmup = t->warmup;
    row.min_ms = t->min; row.median_ms = t->median; row.p90_ms = t->p90; row.p99_ms = t->p99; row.max_ms = t->max; row.mean_ms = t->mean;
    row.timing_trusted = t->trusted;
    row.timing_note = t->note;
    row.samples_ms = t->samples_ms;
    row.items_per_s = t->median > 0 ? static_cast<double>(cfg.batch) * 1000.0 / t->median : 0;
    row.streams = t->streams;
    if (t->streams > 1) {
      row.wall_median_ms = t->wall_median_ms;
      row.items_per_s = t->wall_median_ms > 0 ? static_cast<double>(t->streams * cfg.batch) * 1000.0 / t->wall_median_ms : 0;
    }
  }
  const VramBreakdown v = s.vram();
  row.weights_bytes = v.weights;
  row.activation_bytes = v.activations;
  row.workspace_budget_bytes = v.workspace_budget;
  row.workspace_used_bytes = v.workspace_used;
  row.arena_bytes = v.arena_capacity;
  row.planned_arena_bytes = v.planned_arena;
  row.context_bytes = v.context_and_handles;
  row.process_total_bytes = v.arena_capacity + v.context_and_handles;
  row.device_used_bytes = v.device_used;
  row.budget_bytes = v.budget;
  row.algorithms = s.algorithm_choices();
  return row;
}

ProcessVram process_vram(int device, std::uint64_t device_used) {
  const cuda::Nvml& nvml = cuda::Nvml::instance();
  if (auto b = nvml.process_used_bytes(cuda::query(device).pci_bus_id)) return {*b, "nvml"};
  return {device_used, nvml.available() ? "cudaMemGetInfo (NVML does not list this pid)" : "cudaMemGetInfo (" + nvml.why_unavailable() + ")"};
}

}  // namespace vramfit::cli
#endif
