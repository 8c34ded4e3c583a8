// `vramfit report --systems FILE [PROFILE.json …] -o SUMMARY.md [--format md|json|csv] [--html F] [--json F] [--csv F]` — the
// constraints summary across the team's machines (report/summary.h): per system and model × precision
// the max batch, VRAM and latency, each cell profiled, emulated or predicted; what breaks on the
// smallest card; recommendations; how to reproduce. No GPU needed.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <ctime>
#include <fmt/format.h>
#include <filesystem>
#include <memory>
#include <utility>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "core/bytes.h"
#include "core/checked.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/output_set.h"
#include "core/text_escape.h"
#include "core/text.h"
#include "models/registry.h"
#include "predict/gpu_spec.h"
#include "predict/systems.h"
#include "report/profile_reader.h"
#include "report/summary.h"
#include "report/summary_printers.h"

namespace vramfit::cli {

namespace {

struct ReportOptions {
  std::string systems, output, html, json, csv, gpus_file, calibrate, workspace = "128MiB";
  std::string format = "md";  // what -o gets (as given, for the recorded command line)
  std::vector<std::string> profiles;
  std::vector<std::string> models{"resnet50", "vit-b16"};
  std::vector<std::string> precisions{"fp32", "fp16", "bf16"};
  long long min_batch = 8, max_batch = 4096;
};


// The command as the user could type it again (each argument one POSIX shell word).
std::string command_line(const ReportOptions& o) {
  const auto q = [](const std::string& s) { return shell_quote(s); };
  std::string c = "vramfit report --systems " + q(o.systems);
  for (const auto& p : o.profiles) c += " " + q(p);
  c += " -o " + q(o.output);
  if (o.format != "md") c += " --format " + q(o.format);
  if (!o.html.empty()) c += " --html " + q(o.html);
  if (!o.json.empty()) c += " --json " + q(o.json);
  if (!o.csv.empty()) c += " --csv " + q(o.csv);
  if (!o.calibrate.empty()) c += " --calibrate " + q(o.calibrate);
  return c;
}

// A profile argument: PROFILE.json, or ID=PROFILE.json to assign it to a system whatever system_id it
// was recorded with (e.g. an emulation run on a lab GPU without --system-id). Returns {id or "", path}.
std::pair<std::string, std::string> profile_arg(const std::string& p) {
  const auto eq = p.find('=');
  if (eq != std::string::npos && eq > 0 && !std::filesystem::exists(p) && p.substr(0, eq).find('/') == std::string::npos)
    return {p.substr(0, eq), p.substr(eq + 1)};
  return {"", p};
}

}  // namespace

Runner register_report(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* sub = app.add_subcommand("report", "The constraints summary across your machines (no GPU needed): per system and model × precision "
                                           "the max batch, VRAM and latency — profiled, emulated or predicted — what breaks on the "
                                           "smallest card, recommendations, how to reproduce");
  sub->add_option("--systems", o->systems, "systems.toml describing the machines (see data/systems.example.toml)")->required();
  sub->add_option("profiles", o->profiles,
                  "profile.json files from `vramfit profile`, matched to a system by their system_id, or ID=PROFILE.json to name the system "
                  "(several per system: newest wins per model × precision)");
  sub->add_option("-o,--output", o->output,
                  "Where the summary goes (e.g. SUMMARY.md; - for standard output), in the --format given (Markdown by default). "
                  "Here -o is a file, not a format: the other commands' -o md|json|csv is --format")
      ->required();
  // The format of -o: md (default), json or csv — the same choices and long flag as every printing command.
  const auto format = add_format_option(*sub, /*json_alias=*/false, /*short_o=*/false);
  sub->add_option("--html", o->html, "Also write a self-contained HTML page with charts (inline SVG)");
  sub->add_option("--json", o->json, "Also write the summary as JSON to this file (schema/summary.schema.json); for JSON on -o, --format json");
  sub->add_option("--csv", o->csv, "Also write the flat table as CSV (one row per system × model × precision)");
  sub->add_option("-m,--models", o->models,
                  "Models every system table lists (default resnet50 vit-b16; profiles add theirs); a decoder LLM (llama-7b, …) "
                  "is listed in the LLM section instead, at fp16, int8, int4, q8_0, q4_0, q4_k_m")
      ->expected(1, -1);
  sub->add_option("-p,--precisions", o->precisions, "Precisions every batch table lists (default fp32 fp16 bf16; profiles add theirs)")->expected(1, -1);
  sub->add_option("--min-batch", o->min_batch, "Batch a deployment needs: a smaller max batch is marked ⚠️ (default 8)")
      ->check(int_range(1, limits::kMaxBatch));
  sub->add_option("--max-batch", o->max_batch, "Largest batch searched for predicted cells (default 4096, as `vramfit profile`)")
      ->check(int_range(1, limits::kMaxBatch));
  sub->add_option("--workspace", o->workspace, "cuDNN/cuBLASLt workspace budget of predicted cells (default 128MiB)");
  sub->add_option("--gpus", o->gpus_file, "GPU spec database (default: data/gpus.toml found next to the binary, or $VRAMFIT_GPUS)");
  sub->add_option("--calibrate", o->calibrate,
                  "Time-model calibration for systems no profile of a database GPU covers: a data/calibration/*.json file or a "
                  "`vramfit run -o json` file (default: the newest file vramfit ships in data/calibration/, or $VRAMFIT_CALIBRATION; "
                  "'none': the uncalibrated roofline)");
  return [o, format]() {
    const OutputFormat out_format = format();
    o->format = out_format == OutputFormat::json ? "json" : out_format == OutputFormat::csv ? "csv" : "md";
    if (o->min_batch < 1) throw InvalidInput(fmt::format("--min-batch must be ≥ 1 (got {})", o->min_batch));
    if (o->max_batch < 1) throw InvalidInput(fmt::format("--max-batch must be ≥ 1 (got {})", o->max_batch));
    SummaryOptions so;
    so.models.clear();
    for (const auto& id : list_flag(o->models, "--models")) so.models.push_back(find_model(id).id);
    so.precisions.clear();
    for (const auto& p : list_flag(o->precisions, "--precisions")) so.precisions.push_back(parse_precision(p));
    so.min_batch = o->min_batch;
    so.ceiling = o->max_batch;
    so.workspace = size_flag(o->workspace, "--workspace");
    so.vramfit_version = VRAMFIT_VERSION;
    so.generated = utc_now();
    so.command_line = command_line(*o);
    // Every output is declared with every input and checked before any input is read: none may be an
    // input, a device, a folder or another output (core/output_set.h).
    const std::string gpus_path = find_gpu_database(o->gpus_file);
    OutputSet out(MissingFolders::make);  // -o out/SUMMARY.md makes out/, as it always did
    out.add_input(o->systems);
    out.add_input(gpus_path);
    std::string calibration = o->calibrate;
    if (calibration.empty())
      if (const auto shipped = default_calibration_file(std::filesystem::path(gpus_path).parent_path())) calibration = shipped->string();
    if (calibration == "none") calibration.clear();
    if (!calibration.empty()) out.add_input(calibration);
    for (const auto& p : o->profiles) out.add_input(profile_arg(p).second);
    const std::size_t main_out = out.add_output(o->output, "-o");  // in --format
    constexpr std::size_t kNone = static_cast<std::size_t>(-1);  // an output not asked for
    const std::size_t html = o->html.empty() ? kNone : out.add_output(o->html, "--html");
    const std::size_t json = o->json.empty() ? kNone : out.add_output(o->json, "--json");
    const std::size_t csv = o->csv.empty() ? kNone : out.add_output(o->csv, "--csv");
    out.check();
    // Every input is read and checked before anything is written.
    const GpuDatabase db = load_gpu_database(gpus_path);
    const SystemsFile systems = load_systems(o->systems, db);
    // The profiles systems.toml names are inputs too: -o pointed at one is refused before it is read.
    for (const auto& sys : systems.systems)
      if (sys.profile) out.add_input(*sys.profile);
    out.check();
    if (!calibration.empty()) so.shipped = load_calibration(calibration, db);
    std::vector<ProfileFile> profiles;
    for (const auto& p : o->profiles) {
      const auto [id, path] = profile_arg(p);
      profiles.push_back(read_profile(path));
      if (!id.empty()) profiles.back().system_id = id;
    }
    Progress progress(systems.systems.size());
    so.progress = [&](std::size_t i, std::size_t, const std::string& id) { progress.step(i, "summary: " + id); };
    const Summary summary = build_summary(systems, db, profiles, so);
    progress.clear();
    out.put(main_out, out_format == OutputFormat::json  ? to_json(summary).dump(2) + "\n"
                : out_format == OutputFormat::csv ? summary_csv(summary)
                                                  : summary_markdown(summary));
    if (html != kNone) out.put(html, summary_html(summary));
    if (json != kNone) out.put(json, to_json(summary).dump(2) + "\n");
    if (csv != kNone) out.put(csv, summary_csv(summary));
    for (const auto& path : out.commit()) std::fprintf(stderr, "vramfit: wrote %s\n", path.c_str());
    return 0;
  };
}

}  // namespace vramfit::cli
