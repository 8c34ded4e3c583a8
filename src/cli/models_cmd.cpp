// `vramfit models [--json]` — the zoo: parameters, MACs and FLOPs at the default input, weight MiB
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
  auto json = std::make_shared<bool>(false);
  auto only = std::make_shared<std::vector<std::string>>();
  sub->add_flag("--json", *json, "Print JSON (schema_version, one object per model) instead of a table");
  sub->add_option("-m,--models", *only, "Only these models (ids or aliases; space- or comma-separated)")->expected(1, -1);
  return [json, only]() {
    std::vector<ModelSummary> rows;
    if (only->empty()) {
      for (const auto& m : model_zoo()) rows.push_back(summarize(m));
    } else {
      for (const auto& id : list_flag(*only, "--models")) rows.push_back(summarize(find_model(id)));
    }
    if (*json) {
      nlohmann::json j;
      j["schema_version"] = kSchemaVersion;
      j["command"] = "models";
      j["models"] = nlohmann::json::array();
      for (const auto& s : rows) j["models"].push_back(to_json(s));
      std::printf("%s\n", j.dump(2).c_str());
    } else {
      std::printf("%s", models_markdown(rows).c_str());
    }
    return 0;
  };
}

}  // namespace vramfit::cli
