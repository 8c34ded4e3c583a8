// measure/run_cuda.cpp — `vramfit run` and `vramfit devices` on the GPU (measure/measure.h), and the
// report row and process VRAM that every measurement shares (measure/internal_cuda.h).
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "backend/cuda/device.h"
#include "backend/cuda/library_versions.h"
#include "backend/cuda/nvml.h"
#include "core/error.h"
#include "core/outcome.h"
#include "measure/internal_cuda.h"
#include "measure/measure.h"

namespace vramfit::measure {

std::string why_no_gpu() {
  return cuda::cuda_device_available() ? std::string() : std::string("no CUDA GPU is visible to this process");
}

int gpu_count() { return cuda::cuda_device_available() ? cuda::cuda_device_count() : 0; }

std::string device_summary(int device) { return cuda::query(device).summary(); }

std::string software_summary() {
  const auto lv = cuda::library_versions();
  return cuda::cudnn_version_string(lv) + " from " + lv.cudnn_path + "; " + cuda::cublaslt_version_string(lv) + "; " +
         cuda::cuda_version_string(lv);
}

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

namespace {
// Inside a catch block: the row says what became of the configuration (core/outcome.h).
void record(RunResult& r) {
  const Status st = status_of_current_exception();
  r.row.status = st.outcome;
  r.row.reason = st.reason;
}
}  // namespace

RunResult run_configuration(const SessionConfig& cfg, const RunOptions& o) {
  RunResult r;
  r.row.model = cfg.model->id;
  r.row.precision = cfg.precision;
  r.row.batch = cfg.batch;
  try {
    Session s(cfg);
    if (o.input) {
      try {
        s.set_input(*o.input);
      } catch (const InvalidInput& e) {  // the message names the graph's input; say which file it was
        throw InvalidInput(fmt::format("--input {}: {}", o.input_name, e.what()));
      }
    }
    const TimingStats t = s.time(o.warmup, o.iterations);
    r.row = session_row(cfg, s, &t);
    if (o.per_node) {
      std::map<std::string, double> by_op;
      for (const auto& nt : s.time_nodes(std::max(3, o.iterations / 5))) by_op[nt.op] += nt.median_ms;
      r.row.time_by_op.assign(by_op.begin(), by_op.end());
      std::sort(r.row.time_by_op.begin(), r.row.time_by_op.end(), [](const auto& l, const auto& x) { return l.second > x.second; });
    }
    if (o.keep_output) {
      s.run();
      r.output = s.output();
    }
  } catch (const OutOfMemory&) {
    record(r);
  } catch (const Unsupported&) {
    record(r);
  } catch (const CudaFatal&) {
    record(r);
    r.fatal = true;  // a sticky error: this process must not run another session
  }
  // Anything else (a bad --input or --weights file, an internal error) is the command's error, not a row.
  return r;
}

nlohmann::json devices_json() {
  const auto lv = cuda::library_versions();
  const auto& nvml = cuda::Nvml::instance();
  nlohmann::json j;
  j["schema_version"] = 1;
  j["software"] = {{"cudnn", cuda::cudnn_version_string(lv)}, {"cudnn_path", lv.cudnn_path},
                   {"cublaslt", cuda::cublaslt_version_string(lv)}, {"cuda", cuda::cuda_version_string(lv)},
                   {"driver", nvml.driver_version()},
                   {"nvml", nvml.available() ? std::string("loaded") : "unavailable: " + nvml.why_unavailable()}};
  j["devices"] = nlohmann::json::array();
  for (int d = 0; d < cuda::cuda_device_count(); ++d) {
    const auto info = cuda::query(d);
    const auto oh = measure_context_overhead(d);
    nlohmann::json dj = {{"ordinal", d}, {"name", info.name}, {"pci_bus_id", info.pci_bus_id},
                         {"compute_capability", fmt::format("{}.{}", info.cc_major, info.cc_minor)}, {"sms", info.sm_count},
                         {"total_bytes", info.total_bytes}, {"free_bytes", info.free_bytes}, {"clock_khz", info.clock_khz},
                         {"memory_clock_khz", info.memory_clock_khz}, {"memory_bus_bits", info.memory_bus_bits},
                         {"l2_bytes", info.l2_bytes}, {"context_bytes", oh.context_bytes}, {"handles_bytes", oh.handles_bytes},
                         {"summary", info.summary()}};
    if (auto c = nvml.clocks(info.pci_bus_id)) {
      dj["clocks"] = {{"sm_mhz", c->sm_mhz}, {"mem_mhz", c->mem_mhz}, {"max_sm_mhz", c->max_sm_mhz}, {"max_mem_mhz", c->max_mem_mhz},
                      {"event_reasons", c->event_reasons}, {"event_reasons_text", c->reasons_text()}};
    }
    if (auto t = nvml.temperature_c(info.pci_bus_id)) dj["temperature_c"] = *t;
    j["devices"].push_back(std::move(dj));
  }
  return j;
}

}  // namespace vramfit::measure
