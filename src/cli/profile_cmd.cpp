// `vramfit profile` — the whole matrix on this GPU: max batch (predicted, then confirmed), latency and
// VRAM at a ladder of batches, fidelity against fp32; for decoder LLMs the max context at batch 1
// (predicted, then confirmed) and prefill/decode tokens/s at context 512 (profile/llm_matrix.h); every
// step in a worker process (DESIGN rule 5), every answer journaled (rule 6); writes DIR/profile.json,
// DIR/constraints.md, DIR/report.html.
//
// The hidden `profile --worker` is the child: one configuration as JSON on stdin, one JSON result on
// stdout (profile/worker.h). It is the only part here that touches CUDA; the parent never creates a
// CUDA context, so what the workers measure is what a process on this card gets. The measuring itself
// is measure/measure.h's Worker; this file holds no CUDA.
#include <CLI/CLI.hpp>
#include <thread>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "core/bytes.h"
#include "core/checked.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/output_set.h"
#include "core/text.h"
#include "measure/measure.h"
#include "models/registry.h"
#include "profile/profile.h"
#include "report/profile_printers.h"
#include "report/run_report.h"


namespace vramfit::cli {

namespace {

constexpr const char* kNoGpu =
    "no CUDA GPU here: `vramfit profile` measures on a GPU; use `vramfit plan` (e.g. vramfit plan -m resnet50 -p fp16 --vram-limit 8GiB)";

struct ProfileOptions {
  std::vector<std::string> models{"resnet50", "vit-b16", "yolo11n-pose", "llama-7b"}, precisions;
  std::string device = "0";
  std::string output, system_id, vram_limit, reserve = "0", workspace = "128MiB";
  long long max_batch = 4096;
  bool quick = false, resume = false, worker = false;
  double timeout_s = 300;
  std::function<OutputFormat()> format;  // what goes to standard output (the three files are written either way)
};

bool gpu_here() { return measure::why_no_gpu().empty(); }

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "host";
  return buf;
}

int run_worker_mode() {
  measure::Worker worker;  // one per worker process: what its sessions share (measure/measure.h)
  return profile::worker_main(std::cin, [&worker](const nlohmann::json& c) { return worker.answer(c); });
}

// several: one of `--device all`'s GPUs, run beside the others: its progress goes as plain lines
// prefixed "gpu<N>", and its document to *stdout_text (printed by the caller in GPU order).
int run_one_device(const ProfileOptions& o, int device, bool several, std::string* stdout_text = nullptr);

int run_parent(const ProfileOptions& o) {
  if (o.device != "all") {
    std::size_t used = 0;
    int d = -1;
    try {
      d = std::stoi(o.device, &used);
    } catch (...) {
      used = 0;
    }
    if (used != o.device.size() || d < 0) throw InvalidInput(fmt::format("--device '{}': expected a GPU ordinal (0, 1, …) or 'all'", o.device));
    return run_one_device(o, d, false);
  }
  // Every flag is checked before anything else, with or without a GPU (as for one device).
  for (const auto& id : list_flag(o.models, "--models")) find_model(id);
  for (const auto& p : list_flag(o.precisions, "--precisions")) parse_precision(p);
  if (!o.vram_limit.empty()) size_flag(o.vram_limit, "--vram-limit");
  size_flag(o.reserve, "--reserve");
  size_flag(o.workspace, "--workspace");
  if (!gpu_here()) {
    std::fprintf(stderr, "vramfit: %s\n", kNoGpu);
    return 2;
  }
  // Every GPU at once, each its own system (own folder, journal and profile.json) and its own worker
  // processes, one configuration at a time per GPU, each worker pinned to its GPU by the ordinal in
  // its configuration. A GPU that fails does not stop the others; the exit status is the worst.
  const int n = measure::gpu_count();
  std::vector<int> status(static_cast<std::size_t>(n), 0);
  std::vector<std::string> text(static_cast<std::size_t>(n)), error(static_cast<std::size_t>(n));
  std::vector<std::thread> threads;
  for (int d = 0; d < n; ++d)
    threads.emplace_back([&, d] {
      const auto i = static_cast<std::size_t>(d);
      try {
        status[i] = run_one_device(o, d, true, &text[i]);
      } catch (const InvalidInput& e) {
        status[i] = 2, error[i] = e.what();
      } catch (const std::exception& e) {
        status[i] = 1, error[i] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  int worst = 0;
  for (int d = 0; d < n; ++d) {
    const auto i = static_cast<std::size_t>(d);
    std::fwrite(text[i].data(), 1, text[i].size(), stdout);
    if (!error[i].empty()) std::fprintf(stderr, "vramfit: GPU %d: %s\n", d, error[i].c_str());
    worst = std::max(worst, status[i]);
  }
  return worst;
}

int run_one_device(const ProfileOptions& o, int device, bool several, std::string* stdout_text) {
  std::vector<const ModelInfo*> models;
  for (const auto& id : list_flag(o.models, "--models")) models.push_back(&find_model(id));
  std::vector<Precision> precisions;
  for (const auto& p : list_flag(o.precisions, "--precisions")) precisions.push_back(parse_precision(p));
  profile::MatrixOptions mo;
  if (!o.vram_limit.empty()) mo.vram_limit = size_flag(o.vram_limit, "--vram-limit");
  mo.reserve = size_flag(o.reserve, "--reserve");
  mo.workspace = size_flag(o.workspace, "--workspace");
  mo.max_batch_ceiling = o.max_batch;
  mo.quick = o.quick;
  mo.device = device;
  if (o.max_batch < 1) throw InvalidInput(fmt::format("--max-batch must be ≥ 1 (got {})", o.max_batch));
  if (!(o.timeout_s > 0)) throw InvalidInput(fmt::format("--timeout must be > 0 seconds (got {})", o.timeout_s));

  if (!gpu_here()) {
    std::fprintf(stderr, "vramfit: %s\n", kNoGpu);
    return 2;
  }

  const auto timeout = std::chrono::milliseconds(static_cast<long long>(o.timeout_s * 1000.0));
  int started = 0, processes = 0;
  const profile::WorkerFn spawn = profile::process_worker_fn(profile::WorkerCommand{profile::self_executable(), {"profile", "--worker"}},
                                                             timeout, &started, &processes);

  // The device worker first: what the card is and the budget a worker gets (the parent itself never
  // creates a CUDA context). Its answer decides the output folder, so it is journaled only once the
  // folder is known.
  const nlohmann::json dev_cfg = profile::worker_config("device", "", Precision::fp32, 0, mo);
  nlohmann::json dev = spawn(dev_cfg);
  if (profile::answer_outcome(dev) != Outcome::ok)
    throw CudaFatal(fmt::format("the device worker could not describe GPU {}: {}", device, dev.value("reason", "no reason given")));

  profile::ProfileDoc doc;
  std::string sid = o.system_id.empty() ? host_name() + "-" + dev.value("name", "gpu") : o.system_id;
  if (several) sid += fmt::format("-gpu{}", device);
  doc.system_id = profile::sanitize_system_id(sid);
  const std::string dir = o.output.empty() ? "reports/" + doc.system_id : several ? o.output + "/" + doc.system_id : o.output;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(fmt::format("{}: cannot create the output folder: {}", dir, ec.message()));
  // The final files are checked now, before the matrix runs, and written together at the end
  // (core/output_set.h): a folder or device in their place is refused before hours of work.
  OutputSet out;
  const std::size_t out_json = out.add_output(dir + "/profile.json", "profile.json");
  const std::size_t out_md = out.add_output(dir + "/constraints.md", "constraints.md");
  const std::size_t out_html = out.add_output(dir + "/report.html", "report.html");
  out.add_input(dir + "/journal.jsonl");
  out.check();

  profile::Journal journal(dir + "/journal.jsonl", o.resume, &doc.warnings);
  for (const auto& w : doc.warnings) std::fprintf(stderr, "vramfit: warning: %s\n", w.c_str());
  if (o.resume) std::fprintf(stderr, "vramfit: resuming: %zu finished worker results in %s\n", journal.size(), journal.path().c_str());
  const profile::WorkerFn run = profile::journaled_worker_fn(journal, spawn);
  // On resume the journaled device answer wins, so the budget (and every probe it implies) is the same.
  if (auto before = journal.find(profile::journal_key(dev_cfg))) dev = *before;
  else journal.append(profile::journal_key(dev_cfg), dev);

  // Without --precisions each family gets its own list (profile/llm_matrix.h precisions_for).
  const std::string cc = dev.value("compute_capability", "0.0");
  const int ccn = std::stoi(cc.substr(0, cc.find('.'))) * 10 + std::stoi(cc.substr(cc.find('.') + 1));

  doc.date = utc_now();
  doc.vramfit_version = VRAMFIT_VERSION;
  doc.software = dev.value("software", nlohmann::json::object());
  doc.device = dev;
  doc.device.erase("software");
  doc.device.erase("status");
  doc.vram_limit = o.vram_limit;
  doc.vram_limit_bytes = mo.vram_limit;
  doc.reserve_bytes = mo.reserve;
  doc.budget_bytes = dev.value("budget_bytes", std::uint64_t{0});
  mo.handles_bytes = dev.value("handles_bytes", std::uint64_t{0});
  doc.context_bytes = dev.value("context_bytes", std::uint64_t{0}) + dev.value("handles_bytes", std::uint64_t{0});
  doc.max_batch_ceiling = mo.max_batch_ceiling;
  doc.quick = o.quick;
  doc.timeout_s = o.timeout_s;
  std::fprintf(stderr, "vramfit: %s\nvramfit: budget %s for weights + activations + workspace; output %s\n", dev.value("summary", "").c_str(),
               format_bytes(doc.budget_bytes).c_str(), dir.c_str());

  std::size_t total = 0;
  for (const auto* m : models) total += profile::precisions_for(*m, precisions, ccn).size();
  Progress progress = several ? Progress(total, fmt::format("gpu{}", device)) : Progress(total);
  std::size_t done = 0;
  const profile::ProgressFn step = [&](const std::string& what) { progress.step(done + 1, what); };
  for (const auto* m : models)
    for (Precision p : profile::precisions_for(*m, precisions, ccn)) {
      if (m->family == ModelFamily::DecoderLLM) doc.llm_results.push_back(profile::profile_llm_precision(*m, p, mo, doc.budget_bytes, run, step));
      else doc.results.push_back(profile::profile_model_precision(*m, p, mo, doc.budget_bytes, run, step));
      ++done;
    }
  progress.clear();

  const std::string md = profile_markdown(doc);
  out.put(out_json, profile::to_json(doc).dump(2) + "\n");
  out.put(out_md, md);
  out.put(out_html, profile_html(doc));
  out.commit();
  std::string shown;
  switch (o.format ? o.format() : OutputFormat::md) {
    case OutputFormat::json: shown = profile::to_json(doc).dump(2) + "\n"; break;
    case OutputFormat::csv: shown = profile_csv(doc); break;
    case OutputFormat::md: shown = md; break;
  }
  if (stdout_text) *stdout_text = std::move(shown);
  else std::fwrite(shown.data(), 1, shown.size(), stdout);
  std::fprintf(stderr, "vramfit: wrote %s/profile.json, %s/constraints.md, %s/report.html (%d configurations measured in %d worker processes)\n",
               dir.c_str(), dir.c_str(), dir.c_str(), started, processes);
  return 0;
}

}  // namespace

Runner register_profile(CLI::App& app) {
  auto o = std::make_shared<ProfileOptions>();
  auto* sub = app.add_subcommand("profile", "The whole matrix on this GPU: max batch under the real or emulated budget (predicted, then "
                                            "confirmed), latency and VRAM per batch, fidelity vs fp32; for decoder LLMs the max context "
                                            "at batch 1 (predicted, then confirmed) and prefill/decode tokens/s at context 512; writes "
                                            "DIR/profile.json, DIR/constraints.md, DIR/report.html");
  sub->add_option("-m,--models", o->models,
                  "Models: ids or aliases, space- or comma-separated (default resnet50 vit-b16 yolo11n-pose llama-7b)")
      ->expected(1, -1);
  sub->add_option("-p,--precisions", o->precisions,
                  "Precisions for every model (default: vision fp32,fp16, and bf16 where the GPU supports it; decoder LLMs "
                  "fp16,int8,int4,q8_0,q4_0,q4_k_m, each unsupported one a row with the reason)")
      ->expected(1, -1);
  sub->add_option("--device", o->device, "GPU ordinal, or 'all' for every GPU at once (each its own system and folder: "
                                          "DIR/<system-id>-gpuN); default 0");
  sub->add_option("--output", o->output, "Output folder (default reports/<system-id>/)");
  sub->add_option("--system-id", o->system_id, "Name of this system in the reports (default hostname + GPU name, sanitised)");
  sub->add_option("--vram-limit", o->vram_limit, "Emulate a card of this total VRAM (e.g. 8GiB): budget = limit − context and handles − --reserve");
  sub->add_option("--reserve", o->reserve, "Bytes to keep free under the budget (default 0)");
  sub->add_option("--workspace", o->workspace, "cuDNN/cuBLASLt workspace budget (default 128MiB)");
  sub->add_option("--max-batch", o->max_batch, "Largest batch searched (default 4096)")->check(int_range(1, limits::kMaxBatch));
  sub->add_flag("--quick", o->quick, "Fewer batches (1, 32, max) and iterations (3 warm-up + 10)");
  sub->add_flag("--resume", o->resume, "Skip configurations already in DIR/journal.jsonl");
  // A week per configuration is already absurd; beyond it the milliseconds would not fit a duration.
  sub->add_option("--timeout", o->timeout_s, "Seconds per configuration before its worker is killed (default 300)")
      ->check(real_range(0.001, 7 * 86400.0));
  o->format = add_format_option(*sub, /*json_alias=*/false);
  sub->add_flag("--worker", o->worker, "Internal: run one configuration (JSON on stdin), print one JSON result")->group("");
  return [o]() -> int { return o->worker ? run_worker_mode() : run_parent(*o); };
}

}  // namespace vramfit::cli
