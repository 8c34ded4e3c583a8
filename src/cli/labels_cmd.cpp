// `vramfit labels PROFILE.json [--output FILE] [-o features|json]` — a profile's answers as Kubernetes
// node labels: a Node Feature Discovery features file (report/node_labels.h). deploy/ holds a DaemonSet
// that profiles each GPU node and writes that file into NFD's features.d folder.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/output_set.h"
#include "core/text_escape.h"
#include "report/plan_report.h"
#include "report/node_labels.h"
#include "report/profile_reader.h"

namespace vramfit::cli {

namespace {

struct LabelsOptions {
  std::string profile, output, format = "features";
};

int run_labels(const LabelsOptions& o) {
  OutputSet out(MissingFolders::make);
  out.add_input(o.profile);
  const std::size_t file = o.output.empty() ? static_cast<std::size_t>(-1) : out.add_output(o.output, "--output");
  out.check();
  const ProfileFile p = read_profile(o.profile);
  const NodeLabels l = node_labels(p);
  std::string text;
  if (o.format == "json") {
    nlohmann::json j{{"labels", nlohmann::json::object()}, {"skipped", l.skipped}, {"source", o.profile}};
    for (const auto& [name, value] : l.labels) j["labels"][name] = value;
    text = j.dump(2) + "\n";
  } else if (o.format == "csv") {
    text = csv_row({"name", "value"});
    for (const auto& [name, value] : l.labels) text += csv_row({name, value});
  } else if (o.format == "md") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& [name, value] : l.labels) rows.push_back({name, value});
    text = "Node labels from " + o.profile + " (`-o features` writes them as NFD reads them):\n\n" + markdown_table({"label", "value"}, rows);
    for (const auto& sk : l.skipped) text += "- skipped: " + sk + "\n";
  } else {
    text = node_labels_text(l, o.profile);
  }
  if (file == static_cast<std::size_t>(-1)) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  out.put(file, text);
  for (const auto& path : out.commit()) std::fprintf(stderr, "vramfit: wrote %s\n", path.c_str());
  return 0;
}

}  // namespace

Runner register_labels(CLI::App& app) {
  auto o = std::make_shared<LabelsOptions>();
  auto* sub = app.add_subcommand("labels",
                                 "A profile's answers as Kubernetes node labels: a Node Feature Discovery features file "
                                 "(name=value lines for /etc/kubernetes/node-feature-discovery/features.d/): the card, its "
                                 "context overhead, max batch per model × precision, LLM max context and decode tokens/s");
  sub->add_option("profile", o->profile, "profile.json of this node (`vramfit profile`)")->required();
  sub->add_option("--output", o->output, "Write the file here instead of stdout (e.g. …/features.d/vramfit)");
  sub->add_option("-o,--format", o->format, "features (default: NFD's name=value lines), md, json or csv")
      ->check(CLI::IsMember({"features", "md", "json", "csv"}));
  return [o]() { return run_labels(*o); };
}

}  // namespace vramfit::cli
