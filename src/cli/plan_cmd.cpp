// `vramfit plan -m MODEL -p PRECISION -b LIST [--vram-limit SIZE | --gpu NAME | --system ID --systems FILE]
// [--calibrate PROFILE] [-o md|json|csv]` (--json = -o json) — memory from the planner, no GPU needed; with a card from the spec
// database (data/gpus.toml), the largest batch under its VRAM and an estimated latency. List flags
// expand to every combination.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/bytes.h"
#include "core/checked.h"
#include "core/dtype.h"
#include "models/registry.h"
#include "core/error.h"
#include "predict/gpu_spec.h"
#include "predict/latency.h"
#include "predict/memory.h"
#include "predict/systems.h"
#include "report/plan_report.h"
#include "report/train_report.h"
#include "predict/train_plan.h"

namespace vramfit::cli {

namespace {

struct PlanOptions {
  std::vector<std::string> models;
  std::vector<std::string> precisions{"fp16"};
  std::vector<std::string> batches{"1"};
  std::string vram_limit;
  long long max_batch = 1 << 20;
  std::string workspace = "128MiB";
  std::string gpu, system, systems, calibrate, gpus_file, optimizer = "adamw";
  bool train = false;
};

}  // namespace

// The spec database: --gpus, else $VRAMFIT_GPUS, else data/gpus.toml next to the binary or up to four
// folders above it (build/<preset>/bin/vramfit in a checkout), else share/vramfit/gpus.toml of an
// install prefix, else ./data/gpus.toml.
std::filesystem::path find_gpu_database(const std::string& flag) {
  namespace fs = std::filesystem;
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("VRAMFIT_GPUS"); env && *env) return env;
  std::vector<fs::path> tried;
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int up = 0; !ec && up <= 4 && !dir.empty(); ++up, dir = dir.parent_path()) {
    for (const fs::path& c : {dir / "data" / "gpus.toml", dir / "share" / "vramfit" / "gpus.toml"}) {
      if (fs::exists(c)) return c;
      tried.push_back(c);
    }
    if (dir == dir.root_path()) break;
  }
  const fs::path here = fs::path("data") / "gpus.toml";
  if (fs::exists(here)) return here;
  tried.push_back(here);
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t.string();
  throw InvalidInput("GPU spec database not found (give --gpus FILE or set VRAMFIT_GPUS); tried: " + list);
}

// `plan --train`: training plans per batch, and the largest training batch under the budget when one
// is given (--vram-limit as it is; --gpu/--system: the card's VRAM less its default context).
int run_train_plan(const PlanOptions& o, const std::vector<const ModelInfo*>& models, const std::vector<Precision>& precisions,
                   const std::vector<long long>& batches, std::uint64_t workspace, OutputFormat format) {
  const Optimizer opt = parse_optimizer(o.optimizer);
  TrainReport r;
  if (!o.vram_limit.empty()) {
    r.budget = size_flag(o.vram_limit, "--vram-limit");
    r.budget_note = "--vram-limit " + o.vram_limit;
  } else if (!o.gpu.empty() || !o.system.empty()) {
    const GpuDatabase db = load_gpu_database(find_gpu_database(o.gpus_file));
    const GpuSpec g = o.gpu.empty() ? load_systems(o.systems, db).find(o.system).gpu : db.find(o.gpu);
    const ContextAllowance ctx = default_context_overhead(g.architecture);
    r.budget = g.vram_bytes > ctx.bytes ? g.vram_bytes - ctx.bytes : 0;
    r.budget_note = fmt::format("{}: VRAM {} − CUDA context and handles {}", describe(g), format_bytes(g.vram_bytes), format_bytes(ctx.bytes));
  }
  for (const auto* m : models)
    for (Precision p : precisions) {
      for (long long b : batches) r.plans.push_back(plan_training(*m, p, opt, b, workspace));
      if (r.budget) r.fits.push_back(max_training_batch(*m, p, opt, *r.budget, workspace, o.max_batch));
    }
  const std::string text = format == OutputFormat::json ? to_json(r).dump(2) + "\n" : format == OutputFormat::csv ? train_csv(r) : train_markdown(r);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

Runner register_plan(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  auto* sub = app.add_subcommand(
      "plan", "Plan memory without a GPU: weights, activation arena (exact for vramfit's engine) and its lower "
              "bound per batch; with --vram-limit, the largest batch that fits");
  sub->add_option("-m,--models", o->models, "Models: ids or aliases, space- or comma-separated (see `vramfit models`)")
      ->required()
      ->expected(1, -1);
  sub->add_option("-p,--precisions", o->precisions, "Precisions: " + precision_ids_joined() + " (default fp16)")
      ->expected(1, -1);
  sub->add_option("-b,--batch", o->batches, "Batch sizes, e.g. 1,8,64 (default 1)")->expected(1, -1);
  sub->add_option("--vram-limit", o->vram_limit,
                  "Card size to plan for, e.g. 8GiB, 12GiB, 16GB (8GB = 8e9 bytes): prints the largest batch whose "
                  "weights + activation arena fit");
  sub->add_option("--max-batch", o->max_batch, "Ceiling for the largest-batch search (default 1048576)")
      ->check(int_range(1, limits::kMaxBatch));
  sub->add_option("--workspace", o->workspace, "cuDNN/cuBLASLt workspace budget a session reserves (default 128MiB)");
  auto* gpu_opt = sub->add_option("--gpu", o->gpu,
                                  "A card from the spec database (e.g. \"RTX 3070 Ti\", \"4080 Laptop\", H200): its VRAM minus "
                                  "the default CUDA context overhead is the budget; prints max batch, VRAM and estimated latency");
  auto* system_opt = sub->add_option("--system", o->system, "A system id from --systems: its card (and VRAM override) as with --gpu");
  auto* systems_opt = sub->add_option("--systems", o->systems, "systems.toml describing the team's machines (see data/systems.example.toml)");
  sub->add_option("--calibrate", o->calibrate,
                  "Time-model calibration: a data/calibration/*.json file or a `vramfit run -o json` file of a database GPU "
                  "(default: the system's profile, else the newest file vramfit ships in data/calibration/ or $VRAMFIT_CALIBRATION; "
                  "'none': the uncalibrated roofline at 0.5)");
  sub->add_option("--gpus", o->gpus_file, "GPU spec database (default: data/gpus.toml found next to the binary, or $VRAMFIT_GPUS)");
  sub->add_flag("--train", o->train,
                "Plan a training step instead (fp32 master weights, fp32 gradients, optimizer states, the activations the "
                "backward reads; planned, not yet confirmed by running): the breakdown per batch, and with --vram-limit, --gpu "
                "or --system the largest training batch");
  sub->add_option("--optimizer", o->optimizer, "With --train: adamw (default) or sgd (with momentum)");
  gpu_opt->excludes(system_opt);
  system_opt->needs(systems_opt);
  auto* limit_opt = sub->get_option("--vram-limit");
  limit_opt->excludes(gpu_opt)->excludes(system_opt);
  // JSON: schema_version 1; CSV: every table in one, told apart by its `kind` column.
  const auto format = add_format_option(*sub, /*json_alias=*/true);
  return [o, format]() {
    const OutputFormat out_format = format();
    // Validate everything before any work, so a typo fails fast with exit 2.
    std::vector<const ModelInfo*> models;
    for (const auto& id : list_flag(o->models, "--models")) models.push_back(&find_model(id));
    std::vector<Precision> precisions;
    for (const auto& p : list_flag(o->precisions, "--precisions")) precisions.push_back(parse_precision(p));
    const auto batches = parse_int_list(o->batches, "--batch", limits::kMaxBatch);
    const std::uint64_t workspace = size_flag(o->workspace, "--workspace");
    if (o->train) return run_train_plan(*o, models, precisions, batches, workspace, out_format);
    PlanReport report;
    if (!o->vram_limit.empty()) report.vram_limit = size_flag(o->vram_limit, "--vram-limit");
    std::optional<Calibration> calibration;
    if (!o->gpu.empty() || !o->system.empty()) {
      const std::filesystem::path db_path = find_gpu_database(o->gpus_file);
      const GpuDatabase db = load_gpu_database(db_path);
      GpuPlan plan;
      std::string profile = o->calibrate;  // --calibrate, else the system's own (systems.toml `profile`), else the shipped one
      if (!o->gpu.empty()) {
        plan.gpu = db.find(o->gpu);
      } else {
        const SystemsFile systems = load_systems(o->systems, db);
        const SystemSpec& sys = systems.find(o->system);
        plan.gpu = sys.gpu;
        plan.system_id = sys.id;
        plan.primary_use = sys.primary_use;
        plan.vram_overridden = sys.vram_overridden;
        if (profile.empty() && sys.profile) profile = sys.profile->string();
      }
      plan.context = default_context_overhead(plan.gpu.architecture);
      plan.budget_bytes = plan.gpu.vram_bytes > plan.context.bytes ? plan.gpu.vram_bytes - plan.context.bytes : 0;
      if (profile.empty())
        if (const auto shipped = default_calibration_file(db_path.parent_path())) profile = shipped->string();
      if (!profile.empty() && profile != "none") {
        calibration = load_calibration(profile, db);
        // A profile of this very card measured its context and handles: use that, not the default.
        if (calibration->context_bytes && normalize_gpu_name(calibration->gpu.name) == normalize_gpu_name(plan.gpu.name)) {
          plan.context = {*calibration->context_bytes, "measured in " + calibration->profile_path};
          plan.budget_bytes = plan.gpu.vram_bytes > plan.context.bytes ? plan.gpu.vram_bytes - plan.context.bytes : 0;
        }
        plan.calibration_profile = calibration->profile_path;
        plan.calibration_device = calibration->device;
        plan.calibration_rows = calibration->points.size();
        plan.calibration_skipped = calibration->skipped;
      }
      report.gpu_plan = std::move(plan);
    } else if (!o->systems.empty()) {
      throw InvalidInput("--systems needs --system ID (which machine of the file to plan for)");
    } else if (!o->calibrate.empty() && o->calibrate != "none") {
      throw InvalidInput("--calibrate needs --gpu or --system (it calibrates the latency estimate for a card)");
    }
    for (const auto* m : models)
      for (Precision p : precisions) {
        for (long long b : batches) report.rows.push_back(estimate_memory(*m, p, b, workspace));
        if (report.vram_limit) report.fits.push_back(max_batch_under(*m, p, *report.vram_limit, o->max_batch, workspace));
        if (report.gpu_plan) {
          report.gpu_plan->rows.push_back(fit_on_gpu(*m, p, report.gpu_plan->gpu, report.gpu_plan->budget_bytes,
                                                     calibration ? &*calibration : nullptr, o->max_batch, workspace));
          for (long long b : batches) {
            GpuPlan::BatchLatency l{m->id, p, b, Outcome::ok, {}, std::nullopt};
            try {
              l.estimate = estimate_latency(*m, p, b, report.gpu_plan->gpu, calibration ? &*calibration : nullptr);
            } catch (const Unsupported& e) {
              l.status = Outcome::unsupported;
              l.reason = e.what();
            }
            report.gpu_plan->per_batch.push_back(std::move(l));
          }
        }
      }
    if (out_format == OutputFormat::json) std::printf("%s\n", to_json(report).dump(2).c_str());
    else if (out_format == OutputFormat::csv) std::printf("%s", plan_csv(report).c_str());
    else std::printf("%s", plan_markdown(report).c_str());
    return 0;
  };
}

}  // namespace vramfit::cli
