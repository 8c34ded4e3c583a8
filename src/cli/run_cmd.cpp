// `vramfit run -m MODEL -p PRECISION -b LIST …` — measure a sweep on this GPU: latency statistics over
// CUDA events, items/s, and where every byte of VRAM went. List flags expand to every combination; a
// configuration that does not fit is an `oom` row and the sweep goes on.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>
#include <algorithm>
#include <limits>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/flags.h"
#include "core/bytes.h"
#include "core/checked.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/output_set.h"
#include "measure/measure.h"
#include "models/registry.h"
#include "report/run_report.h"
#include "weights/npy.h"


namespace vramfit::cli {

namespace {

// A million timed iterations is hours of one configuration: more is a typo.
constexpr long long kMaxIterations = 1000000;

struct RunOptions {
  std::vector<std::string> models, precisions{"fp16"}, batches{"1"};
  int iterations = 50, warmup = 10;
  std::string vram_limit, reserve = "0", workspace = "128MiB", weights, input, save_output, format = "md";
  bool tf32 = false, no_tune = false, channels_last = false, per_node = false;
  std::uint64_t seed = 1;
  int device = 0;
  int streams = 1;
};

}  // namespace

Runner register_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Measure models on this GPU: latency (min/median/p90/p99/max over CUDA events), "
                                        "items/s, and the VRAM breakdown, for every model × precision × batch");
  sub->add_option("-m,--models", o->models, "Models: ids or aliases, space- or comma-separated")->required()->expected(1, -1);
  sub->add_option("-p,--precisions", o->precisions, "Precisions: fp32, fp16, bf16 (default fp16)")->expected(1, -1);
  sub->add_option("-b,--batch", o->batches, "Batch sizes, e.g. 1,64,256 (default 1)")->expected(1, -1);
  sub->add_option("--iterations", o->iterations, "Timed iterations per configuration (default 50)")
      ->check(int_range(1, kMaxIterations));
  sub->add_option("--warmup", o->warmup, "Untimed iterations first (default 10)")->check(int_range(0, kMaxIterations));
  sub->add_option("--vram-limit", o->vram_limit,
                  "Emulate a card of this total VRAM (e.g. 8GiB): budget = limit − this process's context and handles − --reserve");
  sub->add_option("--reserve", o->reserve, "Bytes to keep free under the budget (default 0)");
  sub->add_option("--workspace", o->workspace, "cuDNN/cuBLASLt workspace budget; algorithms needing more are not used (default 128MiB)");
  sub->add_flag("--tf32", o->tf32, "Allow TF32 for fp32 convolutions and matrix products (off by default: fp32 means fp32)");
  sub->add_flag("--channels-last", o->channels_last, "Store fp32 activations NHWC too (16-bit ones always are; --tf32 implies it)");
  sub->add_flag("--per-node", o->per_node, "Also time every node on its own and report the time per op kind (where the time goes)");
  sub->add_flag("--no-tune", o->no_tune, "Pick algorithms by heuristics only (faster set-up, maybe slower runs)");
  sub->add_option("--weights", o->weights, "A torchvision-style .safetensors checkpoint instead of seeded random weights");
  sub->add_option("--input", o->input, "A .npy (float32/float16, the model's input shape) to feed instead of random data");
  sub->add_option("--save-output", o->save_output, "Write the model's output for the (first) configuration to this .npy");
  // An unsigned target would take "-1" as 2^64 − 1: a negative seed is refused before conversion.
  sub->add_option("--seed", o->seed, "Seed for random weights and inputs (default 1)")
      ->check(int_range(0, std::numeric_limits<long long>::max()));
  sub->add_option("--device", o->device, "GPU ordinal (default 0)")->check(CLI::NonNegativeNumber);
  sub->add_option("--streams", o->streams,
                  "Run N copies concurrently (e.g. N camera streams): one CUDA stream, activation region and workspace each, "
                  "shared weights; reports per-stream latency, total items/s and total VRAM (default 1)")
      ->check(CLI::Range(1, 1024));
  sub->add_option("-o,--format", o->format, "Output: md (default), json or csv")->check(CLI::IsMember({"md", "json", "csv"}));
  return [o]() -> int {
    std::vector<const ModelInfo*> models;
    for (const auto& id : list_flag(o->models, "--models")) models.push_back(&find_model(id));
    std::vector<Precision> precisions;
    for (const auto& p : list_flag(o->precisions, "--precisions")) precisions.push_back(parse_precision(p));
    const auto batches = parse_int_list(o->batches, "--batch", limits::kMaxBatch);
    std::optional<std::uint64_t> limit;
    if (!o->vram_limit.empty()) limit = size_flag(o->vram_limit, "--vram-limit");
    const std::uint64_t reserve = size_flag(o->reserve, "--reserve"), workspace = size_flag(o->workspace, "--workspace");
    if (const std::string why = measure::why_no_gpu(); !why.empty())
      throw InvalidInput(why + ": `run` measures on a GPU; `vramfit plan` works without one");
    // --save-output is checked before anything runs (core/output_set.h): not an input, not a device or folder.
    OutputSet out;
    std::optional<std::size_t> saved_output;
    if (!o->save_output.empty()) {
      if (o->save_output == "-") throw InvalidInput("--save-output -: standard output carries the report; give a file");
      out.add_input(o->input);
      out.add_input(o->weights);
      saved_output = out.add_output(o->save_output, "--save-output");
      out.check();
    }
    std::optional<Tensor> given_input;
    if (!o->input.empty()) given_input = read_npy(o->input);
    RunReport report;
    report.device = measure::device_summary(o->device);
    report.software = measure::software_summary();
    report.vram_limit = o->vram_limit;
    std::fprintf(stderr, "vramfit: %s\nvramfit: %s\n", report.device.c_str(), report.software.c_str());
    bool saved = false;
    Progress progress(models.size() * precisions.size() * batches.size());
    bool fatal = false;
    for (const auto* m : models) {
      for (Precision p : precisions) {
        for (long long b : batches) {
          progress.next(fmt::format("{} {} batch {}", m->id, to_string(p), b));
          SessionConfig cfg;
          cfg.model = m;
          cfg.precision = p;
          cfg.batch = b;
          cfg.vram_limit = limit;
          cfg.reserve = reserve;
          cfg.workspace = workspace;
          cfg.tf32 = o->tf32;
          cfg.channels_last = o->channels_last;
          cfg.autotune = !o->no_tune;
          cfg.seed = o->seed;
          cfg.weights_path = o->weights;
          cfg.device = o->device;
          cfg.streams = o->streams;
          measure::RunOptions ro;
          ro.warmup = o->warmup;
          ro.iterations = o->iterations;
          ro.per_node = o->per_node;
          ro.input = given_input ? &*given_input : nullptr;
          ro.input_name = o->input;
          ro.keep_output = saved_output && !saved;
          measure::RunResult r = measure::run_configuration(cfg, ro);
          r.row.tf32 = o->tf32 && p == Precision::fp32;
          if (r.output) {
            const std::vector<std::uint8_t> npy = encode_npy(*r.output);
            out.put(*saved_output, std::string(npy.begin(), npy.end()));
            out.commit();
            saved = true;
          }
          report.rows.push_back(std::move(r.row));
          // A sticky error poisons this process: record it and stop (profile isolates in workers).
          if ((fatal = r.fatal)) break;
        }
        if (fatal) break;
      }
      if (fatal) break;
    }
    if (o->format == "json") std::printf("%s\n", to_json(report).dump(2).c_str());
    else if (o->format == "csv") std::printf("%s", run_csv(report).c_str());
    else std::printf("%s", run_markdown(report).c_str());
    return 0;
  };
}

}  // namespace vramfit::cli
