#include "fleet/slurm.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <map>
#include <tuple>

#include "core/error.h"
#include "core/text_escape.h"
#include "fleet/fleet.h"

namespace vramfit::fleet {

namespace {

std::string resource_lines(const SlurmTarget& t) {
  std::string o;
  if (t.partition) o += "#SBATCH --partition=" + *t.partition + "\n";
  if (t.gres) o += "#SBATCH --gres=" + *t.gres + "\n";
  if (t.constraint) o += "#SBATCH --constraint=" + *t.constraint + "\n";
  return o;
}

}  // namespace

SlurmPlan slurm_plan(const SystemsFile& systems, const SlurmOptions& o) {
  using Key = std::tuple<std::string, std::string, std::string>;
  std::map<Key, std::vector<const SystemSpec*>> groups;
  std::vector<Key> order;
  for (const auto& s : systems.systems) {
    if (!s.slurm) continue;
    const Key k{s.slurm->partition.value_or(""), s.slurm->gres.value_or(""), s.slurm->constraint.value_or("")};
    if (!groups.count(k)) order.push_back(k);
    groups[k].push_back(&s);
  }
  if (order.empty())
    throw InvalidInput(fmt::format("{}: no system has 'partition', 'gres' or 'constraint' (what --slurm runs a job array task on)",
                                   systems.path));
  const std::string out = std::filesystem::absolute(o.output).lexically_normal().string();
  const std::string logs = out + "/slurm";
  // #SBATCH lines are not shell: the log folder is written there as it is.
  if (logs.find_first_of(" \t\n'\"\\$`;%") != std::string::npos)
    throw InvalidInput(fmt::format("--output {}: for --slurm the folder's path must not hold spaces, quotes, '$', '`', ';' or '%'", out));
  SlurmPlan plan;
  std::string args;
  for (const auto& a : o.profile_args) {
    args += ' ';
    args += shell_quote_always(a);
  }
  for (std::size_t g = 0; g < order.size(); ++g) {
    const auto& members = groups[order[g]];
    std::string cases;
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < members.size(); ++i) {
      cases += fmt::format("  {}) ID={} ;;\n", i, shell_quote_always(members[i]->id));
      ids.push_back(members[i]->id);
    }
    std::string text = fmt::format(
        "#!/bin/sh\n"
        "# vramfit fleet --slurm: one task per system of this kind of node ({}).\n"
        "#SBATCH --job-name={}-profile-{}\n"
        "#SBATCH --array=0-{}\n"
        "#SBATCH --output={}/profile-{}_%a.log\n"
        "{}"
        "case \"$SLURM_ARRAY_TASK_ID\" in\n{}"
        "  *) echo \"vramfit: no system for array task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\n"
        "esac\n"
        "echo \"vramfit: profiling system $ID on $(hostname)\"\n"
        "exec {} profile{} --system-id \"$ID\" --output {}/\"$ID\"\n",
        fmt::join(ids, ", "), o.job_name, g, members.size() - 1, logs, g, resource_lines(*members.front()->slurm), cases,
        shell_quote_always(o.vramfit), args, shell_quote_always(out));
    plan.files.push_back({fmt::format("profile-{}.sbatch", g), text, true});
    plan.groups.push_back(ids);
  }
  // The report: every profile that arrived (none is fine: the summary is then all predicted).
  plan.files.push_back(
      {"report.sbatch",
       fmt::format("#!/bin/sh\n"
                   "# vramfit fleet --slurm: the summary, after every profile task (afterany).\n"
                   "#SBATCH --job-name={}-report\n"
                   "#SBATCH --output={}/report.log\n"
                   "set -- {}/*/profile.json\n"
                   "[ -e \"$1\" ] || set --\n"
                   "exec {} report --systems {} \"$@\" -o {}/SUMMARY.md --html {}/SUMMARY.html --json {}/SUMMARY.json --csv {}/SUMMARY.csv\n",
                   o.job_name, logs, shell_quote_always(out), shell_quote_always(o.vramfit),
                   shell_quote_always(std::filesystem::absolute(o.systems_file).lexically_normal().string()), shell_quote_always(out), shell_quote_always(out),
                   shell_quote_always(out), shell_quote_always(out)),
       true});
  std::string submit = fmt::format(
      "#!/bin/sh\n"
      "# vramfit fleet --slurm: submits the profile arrays, then the report once they have all ended.\n"
      "set -e\n"
      "cd {}\n"
      "deps=\n",
      shell_quote_always(logs));
  for (std::size_t g = 0; g < order.size(); ++g)
    submit += fmt::format("j=$(sbatch --parsable profile-{}.sbatch); j=${{j%%;*}}; echo \"vramfit: profile array {} = job $j\"; deps=$deps:$j\n", g, g);
  submit += "r=$(sbatch --parsable --dependency=afterany$deps report.sbatch); echo \"vramfit: report = job ${r%%;*}\"\n";
  plan.files.push_back({"submit.sh", submit, true});
  return plan;
}

}  // namespace vramfit::fleet
