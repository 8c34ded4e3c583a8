// `vramfit plan -m MODEL -p PRECISION -b LIST [--vram-limit SIZE] [--json]` — memory from the
// planner, no GPU needed. List flags expand to every combination.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "core/bytes.h"
#include "core/dtype.h"
#include "models/registry.h"
#include "predict/memory.h"
#include "report/plan_report.h"

namespace vramfit::cli {

namespace {

struct PlanOptions {
  std::vector<std::string> models;
  std::vector<std::string> precisions{"fp16"};
  std::vector<std::string> batches{"1"};
  std::string vram_limit;
  long long max_batch = 1 << 20;
  std::string workspace = "128MiB";
  bool json = false;
};

}  // namespace

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
      ->check(CLI::PositiveNumber);
  sub->add_option("--workspace", o->workspace, "cuDNN/cuBLASLt workspace budget a session reserves (default 128MiB)");
  sub->add_flag("--json", o->json, "Print JSON (schema_version 1) instead of a table");
  return [o]() {
    // Validate everything before any work, so a typo fails fast with exit 2.
    std::vector<const ModelInfo*> models;
    for (const auto& id : split_list(o->models)) models.push_back(&find_model(id));
    std::vector<Precision> precisions;
    for (const auto& p : split_list(o->precisions)) precisions.push_back(parse_precision(p));
    const auto batches = parse_int_list(o->batches, "--batch");
    const std::uint64_t workspace = parse_bytes(o->workspace);
    PlanReport report;
    if (!o->vram_limit.empty()) report.vram_limit = parse_bytes(o->vram_limit);
    for (const auto* m : models)
      for (Precision p : precisions) {
        for (long long b : batches) report.rows.push_back(estimate_memory(*m, p, b, workspace));
        if (report.vram_limit) report.fits.push_back(max_batch_under(*m, p, *report.vram_limit, o->max_batch, workspace));
      }
    if (o->json)
      std::printf("%s\n", to_json(report).dump(2).c_str());
    else
      std::printf("%s", plan_markdown(report).c_str());
    return 0;
  };
}

}  // namespace vramfit::cli
