#include "report/train_report.h"

#include <fmt/format.h>

#include "core/bytes.h"
#include "core/text.h"
#include "core/text_escape.h"
#include "report/plan_report.h"

namespace vramfit {

namespace {

constexpr const char* kNotConfirmed =
    "planned from stated rules (predict/train_plan.h), not yet confirmed by running: vramfit's CUDA training step is not implemented";

nlohmann::json plan_json(const TrainPlan& t) {
  nlohmann::json j{{"model", t.model}, {"precision", to_string(t.precision)}, {"optimizer", to_string(t.optimizer)},
                   {"batch", t.batch}, {"status", to_string(t.status)}};
  if (t.status != Outcome::ok) {
    j["reason"] = t.reason;
    return j;
  }
  j["parameters"] = t.parameters;
  j["bytes"] = {{"weights", t.weight_bytes},     {"buffers", t.buffer_bytes},       {"gradients", t.gradient_bytes},
                {"optimizer", t.optimizer_bytes}, {"saved_activations", t.saved_bytes}, {"transient", t.transient_bytes},
                {"workspace", t.workspace_bytes}, {"total", t.total_bytes()}};
  return j;
}

std::vector<std::string> plan_row(const TrainPlan& t) {
  if (t.status != Outcome::ok)
    return {t.model, std::string(to_string(t.precision)), std::string(to_string(t.optimizer)), std::to_string(t.batch), t.reason,
            "", "", "", "", "", ""};
  return {t.model, std::string(to_string(t.precision)), std::string(to_string(t.optimizer)), std::to_string(t.batch),
          mib_text(t.weight_bytes + t.buffer_bytes), mib_text(t.gradient_bytes), mib_text(t.optimizer_bytes), mib_text(t.saved_bytes),
          mib_text(t.transient_bytes), mib_text(t.workspace_bytes), mib_text(t.total_bytes())};
}

}  // namespace

nlohmann::json to_json(const TrainReport& r) {
  nlohmann::json j{{"schema_version", 1}, {"command", "plan --train"}, {"status", kNotConfirmed}, {"plans", nlohmann::json::array()}};
  for (const auto& t : r.plans) j["plans"].push_back(plan_json(t));
  if (r.budget) {
    j["budget_bytes"] = *r.budget;
    j["budget_note"] = r.budget_note;
    j["max_batch"] = nlohmann::json::array();
    for (const auto& f : r.fits) {
      nlohmann::json x = plan_json(f.at_max);
      x["max_batch"] = f.max_batch;
      x["capped"] = f.capped;
      j["max_batch"].push_back(x);
    }
  }
  return j;
}

std::string train_markdown(const TrainReport& r) {
  std::string o = "Training step memory (";
  o += kNotConfirmed;
  o += ").\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : r.plans) rows.push_back(plan_row(t));
  o += markdown_table({"model", "precision", "optimizer", "batch", "weights + buffers", "gradients", "optimizer states", "saved activations",
                       "transient (backward)", "workspace", "total"},
                      rows);
  if (r.budget) {
    o += fmt::format("\nLargest training batch under {} ({}):\n\n", format_bytes(*r.budget), r.budget_note);
    std::vector<std::vector<std::string>> fits;
    for (const auto& f : r.fits) {
      std::vector<std::string> row = plan_row(f.at_max);
      row[3] = f.at_max.status != Outcome::ok ? "-" : f.max_batch == 0 ? "0 (does not fit)" : (f.capped ? "≥ " : "") + thousands(f.max_batch);
      fits.push_back(row);
    }
    o += markdown_table({"model", "precision", "optimizer", "max batch", "weights + buffers", "gradients", "optimizer states",
                         "saved activations", "transient (backward)", "workspace", "total"},
                        fits);
  }
  o += "\nWeights: fp32 master + the compute copy (fp16/bf16); gradients fp32; optimizer states fp32 (SGD momentum 1, AdamW 2 per "
       "parameter); saved activations: what each backward reads, once per value; transient: a bound on the gradient buffers "
       "live during the backward.\n";
  return o;
}

std::string train_csv(const TrainReport& r) {
  std::string o = "kind,model,precision,optimizer,batch,status,reason,parameters,weight_bytes,buffer_bytes,gradient_bytes,optimizer_bytes,"
                  "saved_bytes,transient_bytes,workspace_bytes,total_bytes,budget_bytes\n";
  auto line = [&](const char* kind, const TrainPlan& t, std::int64_t batch) {
    const bool ok = t.status == Outcome::ok;
    o += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n", kind, csv_field(t.model), to_string(t.precision),
                     to_string(t.optimizer), batch, to_string(t.status), csv_field(t.reason), ok ? std::to_string(t.parameters) : "",
                     ok ? std::to_string(t.weight_bytes) : "", ok ? std::to_string(t.buffer_bytes) : "",
                     ok ? std::to_string(t.gradient_bytes) : "", ok ? std::to_string(t.optimizer_bytes) : "",
                     ok ? std::to_string(t.saved_bytes) : "", ok ? std::to_string(t.transient_bytes) : "",
                     ok ? std::to_string(t.workspace_bytes) : "", ok ? std::to_string(t.total_bytes()) : "",
                     r.budget ? std::to_string(*r.budget) : "");
  };
  for (const auto& t : r.plans) line("plan", t, t.batch);
  for (const auto& f : r.fits) line("max_batch", f.at_max, f.max_batch);
  return o;
}

}  // namespace vramfit
