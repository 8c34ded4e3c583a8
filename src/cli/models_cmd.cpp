// `vramfit models [-o md|json|csv]` (--json = -o json) — the zoo: parameters, MACs and FLOPs at the default input, weight MiB
// per precision.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/flags.h"
#include "models/registry.h"
#include "predict/memory.h"
#include "report/plan_report.h"

namespace vramfit::cli {

Runner register_models(CLI::App& app) {
  auto* sub = app.add_subcommand("models", "List the model zoo: ids, aliases, parameters, MACs/FLOPs at the default "
                                           "input (batch 1), weight MiB per precision");
  auto only = std::make_shared<std::vector<std::string>>();
  // JSON: schema_version and one object per model; CSV: one row per model.
  const auto format = add_format_option(*sub, /*json_alias=*/true);
  sub->add_option("-m,--models", *only, "Only these models (ids or aliases; space- or comma-separated)")->expected(1, -1);
  return [format, only]() {
    const OutputFormat f = format();
    std::vector<ModelSummary> rows;
    if (only->empty()) {
      for (const auto& m : model_zoo()) rows.push_back(summarize(m));
    } else {
      for (const auto& id : list_flag(*only, "--models")) rows.push_back(summarize(find_model(id)));
    }
    if (f == OutputFormat::json) std::printf("%s\n", models_json(rows).dump(2).c_str());
    else if (f == OutputFormat::csv) std::printf("%s", models_csv(rows).c_str());
    else std::printf("%s", models_markdown(rows).c_str());
    return 0;
  };
}

}  // namespace vramfit::cli
