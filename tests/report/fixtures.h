// tests/report/fixtures.h — profiles for the report tests, written by the real profile writer
// (profile/profile.h to_json), so the reader is tested against what `vramfit profile` produces; plus
// temporary folders and a way to run the built binary.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "core/bytes.h"
#include "models/registry.h"
#include "predict/memory.h"
#include "profile/profile.h"
#include "report/run_report.h"

namespace vramfit::test {

namespace fs = std::filesystem;

inline fs::path source_dir() { return VRAMFIT_SOURCE_DIR; }
inline fs::path gpus_toml() { return source_dir() / "data" / "gpus.toml"; }
inline fs::path h200_emulated_profile() {
  return source_dir() / "bench" / "results" / "2026-11-28-h200" / "profile-vit-8GiB" / "profile.json";
}

class TempDir {
 public:
  TempDir() : dir_(fs::temp_directory_path() / ("vramfit_report_test_" + std::to_string(::getpid()) + "_" + std::to_string(next()++))) {
    fs::create_directories(dir_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  const fs::path& path() const { return dir_; }

 private:
  static int& next() {
    static int n = 0;
    return n;
  }
  fs::path dir_;
};

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One measurement as a profile worker reports it (a RunRow, report/run_report.h).
inline nlohmann::json measurement(const std::string& model, Precision p, std::int64_t batch, double median_ms, std::uint64_t context) {
  const MemoryEstimate e = estimate_memory(find_model(model), p, batch);
  RunRow r;
  r.model = model;
  r.precision = p;
  r.batch = batch;
  r.iterations = 10;
  r.warmup = 3;
  r.min_ms = r.median_ms = r.p90_ms = r.p99_ms = r.max_ms = r.mean_ms = median_ms;
  r.items_per_s = static_cast<double>(batch) * 1e3 / median_ms;
  r.weights_bytes = e.weights_bytes;
  r.activation_bytes = r.arena_bytes = r.planned_arena_bytes = e.arena_bytes;
  r.workspace_budget_bytes = e.workspace_bytes;
  r.context_bytes = context;
  r.process_total_bytes = e.total_bytes() + context;
  nlohmann::json j = to_json(r);
  j["kind"] = "measure";
  return j;
}

// A model × precision as the profile matrix records it. `gpu_max` is what the GPU confirmed: the
// planner's own answer for `budget` when nullopt (prediction confirmed), else another number (not
// confirmed). `gpu_max` == 0 makes it an oom cell (not even batch 1 fits).
inline profile::ModelPrecisionResult cell(const std::string& model, Precision p, std::uint64_t budget, std::uint64_t context,
                                          std::optional<std::int64_t> gpu_max = std::nullopt, double ms_per_sample = 0.05) {
  profile::ModelPrecisionResult r;
  r.model = model;
  r.precision = p;
  r.budget_bytes = budget;
  const BudgetFit fit = max_batch_under(find_model(model), p, budget, 4096);
  r.max_batch.predicted = fit.max_batch;
  r.predicted_bytes_at_max = fit.max_batch > 0 ? fit.at_max.total_bytes() : 0;
  r.max_batch.ceiling = 4096;
  r.max_batch.found = gpu_max.value_or(fit.max_batch);
  r.max_batch.capped = r.max_batch.found == 4096;
  r.max_batch.prediction_confirmed = r.max_batch.found == fit.max_batch;
  r.max_batch.probes.push_back({r.max_batch.found > 0 ? r.max_batch.found : 1, r.max_batch.found > 0 ? Outcome::ok : Outcome::oom, ""});
  if (r.max_batch.found == 0) {
    r.outcome = Outcome::oom;
    r.reason = "device arena needs more than the budget";
    r.max_batch.probes.back().reason = r.reason;
    return r;
  }
  for (std::int64_t b : {std::int64_t{1}, std::int64_t{32}, r.max_batch.found})
    if (b <= r.max_batch.found && (r.measurements.empty() || r.measurements.back()["batch"] != b))
      r.measurements.push_back(measurement(model, p, b, 0.4 + ms_per_sample * static_cast<double>(b), context));
  if (p != Precision::fp32)
    r.fidelity = nlohmann::json{{"status", "ok"}, {"batch", 8}, {"reference", "fp32"}, {"relative_l2", 1.5e-3}, {"cosine", 0.99999},
                                {"top1_agreement", 1.0}, {"samples", 8}, {"finite", true}};
  return r;
}

// A decoder LLM × precision through the real matrix (profile/llm_matrix.h) against a fake card that
// holds what the plan says under `budget` — and no context above `max_context` when given (a card on
// which the planner is wrong). Measured rates are fixed: prefill 20000 tokens/s, decode `decode_tps`.
inline profile::LlmPrecisionResult llm_cell(const std::string& model, Precision p, std::uint64_t budget, std::uint64_t context,
                                            std::optional<std::int64_t> max_context = std::nullopt, double decode_tps = 300.0) {
  const ModelInfo& m = find_model(model);
  const DecoderConfig c = m.decoder();
  profile::MatrixOptions o;
  o.quick = true;
  const profile::WorkerFn fake = [&](const nlohmann::json& cfg) -> nlohmann::json {
    const std::int64_t ctx = cfg.at("context").get<std::int64_t>();
    const std::uint64_t total = plan_llm_memory(c, p, ctx, 1, o.llm_plan).total_bytes();
    if (total > budget || (max_context && ctx > *max_context)) return {{"status", "oom"}, {"reason", "device arena needs more than the budget"}};
    nlohmann::json j{{"status", "ok"}, {"vram_bytes", {{"process_total", total + context}}}, {"process_vram_bytes", total + context}};
    if (cfg.at("measure") == "speed") {
      j["prefill_tokens"] = cfg.at("prefill_tokens");
      j["prefill_tokens_per_s"] = 20000.0;
    }
    if (cfg.value("decode_steps", 0) > 0) j["decode_tokens_per_s"] = decode_tps;
    return j;
  };
  return profile::profile_llm_precision(m, p, o, budget, fake);
}

// A profile document: `vram_limit` set → emulated on `device`.
inline profile::ProfileDoc doc(const std::string& system_id, const std::string& date, const std::string& device,
                               std::optional<std::uint64_t> vram_limit, std::uint64_t budget, std::uint64_t context) {
  profile::ProfileDoc d;
  d.system_id = system_id;
  d.date = date;
  d.vramfit_version = "0.1.0";
  d.device = {{"name", device}, {"summary", device + " (test)"}, {"compute_capability", "9.0"}, {"total_bytes", 140 * GiB}};
  d.software = {{"cudnn", "cuDNN test"}, {"cublaslt", "cuBLASLt test"}, {"cuda", "CUDA test"}};
  if (vram_limit) {
    d.vram_limit = format_bytes_exact(*vram_limit);
    d.vram_limit_bytes = vram_limit;
  }
  d.budget_bytes = budget;
  d.context_bytes = context;
  d.quick = true;
  return d;
}

inline fs::path write_profile(const TempDir& t, const std::string& name, const profile::ProfileDoc& d) {
  return t.write(name, profile::to_json(d).dump(2) + "\n");
}

struct CliRun {
  int status = -1;
  std::string out;
};

inline CliRun run_vramfit(const std::string& args) {
  CliRun r;
  const std::string cmd = std::string("\"") + VRAMFIT_BINARY + "\" " + args + " 2>&1";
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return r;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), f)) r.out.append(buf.data(), n);
  const int st = ::pclose(f);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace vramfit::test
