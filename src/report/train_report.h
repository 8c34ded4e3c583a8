// report/train_report.h — `vramfit plan --train`: the training plans (predict/train_plan.h) as Markdown,
// JSON and CSV. Printers only format; every number comes from the structs.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "predict/train_plan.h"

namespace vramfit {

struct TrainReport {
  std::vector<TrainPlan> plans;           // per model × precision × batch asked for
  std::optional<std::uint64_t> budget;    // --vram-limit or the card's budget
  std::string budget_note;
  std::vector<TrainFit> fits;             // per model × precision, when there is a budget
};

nlohmann::json to_json(const TrainReport& r);
std::string train_markdown(const TrainReport& r);
std::string train_csv(const TrainReport& r);

}  // namespace vramfit
