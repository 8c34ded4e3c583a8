// measure/worker_cuda.cpp — the profile worker's measuring (measure/measure.h Worker): the device,
// vision probes and measurements, fidelity against fp32, and (measure/llm_cuda.cpp) the LLM rows.
#include <fmt/format.h>

#include <optional>

#include "backend/cuda/device.h"
#include "backend/cuda/library_versions.h"
#include "backend/cuda/nvml.h"
#include "core/error.h"
#include "measure/compare.h"
#include "measure/internal_cuda.h"
#include "measure/measure.h"
#include "measure/requests.h"
#include "runtime/budget.h"

namespace vramfit::measure {

namespace {

SessionConfig session_config(const VisionRequest& r) {
  SessionConfig cfg;
  cfg.model = &find_model(r.model);
  cfg.precision = r.precision;
  cfg.batch = r.batch;
  cfg.vram_limit = r.vram_limit;
  cfg.reserve = r.reserve;
  cfg.workspace = r.workspace;
  cfg.seed = r.seed;
  cfg.device = r.device;
  cfg.streams = r.streams;
  return cfg;
}

nlohmann::json answer_in(const nlohmann::json& c, SessionCache& cache) {
  if (c.value("kind", "") == "llm") return llm_worker_answer(c, cache);  // measure/llm_cuda.cpp
  const VisionRequest r = vision_request(c);  // measure/requests.h
  const std::string& kind = r.kind;
  if (kind == "device") {
    const int d = r.device;
    const ContextOverhead oh = measure_context_overhead(d);
    const cuda::DeviceInfo info = cuda::query(d);  // free memory now: this process's context included
    const std::uint64_t budget = memory_budget(oh, r.vram_limit, r.reserve, info.free_bytes);
    const auto lv = cuda::library_versions();
    return {{"status", "ok"},
            {"ordinal", d},
            {"name", info.name},
            {"summary", info.summary()},
            {"pci_bus_id", info.pci_bus_id},
            {"compute_capability", fmt::format("{}.{}", info.cc_major, info.cc_minor)},
            {"sms", info.sm_count},
            {"total_bytes", info.total_bytes},
            {"free_bytes", info.free_bytes},
            {"context_bytes", oh.context_bytes},
            {"handles_bytes", oh.handles_bytes},
            {"budget_bytes", budget},
            {"software",
             {{"cudnn", cuda::cudnn_version_string(lv)}, {"cudnn_path", lv.cudnn_path}, {"cublaslt", cuda::cublaslt_version_string(lv)},
              {"cuda", cuda::cuda_version_string(lv)}, {"driver", cuda::Nvml::instance().driver_version()},
              {"nvml", cuda::Nvml::instance().available() ? std::string("loaded") : cuda::Nvml::instance().why_unavailable()}}}};
  }
  SessionConfig cfg = session_config(r);
  // A probe answers "does it fit and run": the workspace region is the fixed budget whichever
  // algorithms run in it, so choosing them by heuristics alone gives the same answer without timing.
  if (kind == "probe") cfg.autotune = false;
  if (kind == "probe" || kind == "measure") {
    Session s(cfg, &cache);
    std::optional<TimingStats> t;
    if (kind == "probe") s.run();
    else t = s.time(r.warmup, r.iterations, r.time_budget_s);
    nlohmann::json j = to_json(session_row(cfg, s, t ? &*t : nullptr));
    const SetupTimes& st = s.setup_times();
    j["setup_s"] = {{"plan", st.plan_s}, {"weights", st.weights_s}, {"device", st.device_s}, {"capture", st.capture_s}, {"total", st.total()}};
    // This process's VRAM by the driver's own count (NVML), else the device-wide count.
    const ProcessVram pv = process_vram(cfg.device, s.vram().device_used);
    j["process_vram_bytes"] = pv.bytes;
    j["process_vram_source"] = pv.source;
    return j;
  }
  if (kind == "fidelity") {
    // Same seed → same weights; the same input through the reduced precision and through fp32,
    // one session at a time so that both fit where one does.
    Tensor x, low, ref;
    {
      Session s(cfg, &cache);
      x = s.random_input(cfg.seed + 1000);
      s.set_input(x);
      s.run();
      low = s.output();
    }
    SessionConfig ref_cfg = cfg;
    ref_cfg.precision = Precision::fp32;
    {
      Session s(ref_cfg, &cache);
      s.set_input(x);
      s.run();
      ref = s.output();
    }
    nlohmann::json f{{"status", "ok"},
                     {"relative_l2", relative_l2(low.span(), ref.span())},
                     {"cosine", cosine_similarity(low.span(), ref.span())},
                     {"samples", cfg.batch},
                     {"finite", all_finite(low.span())}};
    // Top-1 agreement means something for a classifier's logits only (a pose model's output is boxes,
    // scores and keypoints per anchor): there the relative L2 error is the measure.
    if (cfg.model->family == ModelFamily::Vision) f["top1_agreement"] = top1_agreement(low, ref);
    return f;
  }
  throw InvalidInput(fmt::format("worker configuration: unknown kind '{}'", kind));
}

}  // namespace

struct Worker::Impl {
  SessionCache cache;  // context overhead and host weights, shared by this process's sessions
};

Worker::Worker() : impl_(std::make_unique<Impl>()) {}
Worker::~Worker() = default;

nlohmann::json Worker::answer(const nlohmann::json& config) { return answer_in(config, impl_->cache); }

}  // namespace vramfit::measure
