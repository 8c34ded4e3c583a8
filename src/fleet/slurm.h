// fleet/slurm.h — `vramfit fleet --slurm`: the team's cluster machines profiled by Slurm, not ssh.
//
// Systems with a `partition`, `gres` or `constraint` (predict/systems.h) are grouped by those three
// (one group = one kind of node); each group is one sbatch job array, one task per system of the
// group, each task running `vramfit profile --system-id ID --output OUTPUT/ID` on the node Slurm
// gives it. A last job, dependent on every array (afterany: a failed task does not stop the
// summary), runs `vramfit report` over the profiles that arrived. submit.sh submits them in that order
// (sbatch --parsable); `--submit` runs it. The scripts name the vramfit binary by absolute path: the
// cluster's nodes must see the same file system (the usual Slurm setup) — or set --remote-vramfit.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "predict/systems.h"

namespace vramfit::fleet {

struct SlurmOptions {
  std::filesystem::path output = "reports";  // absolute in the scripts
  std::filesystem::path systems_file;        // for the report job
  std::string vramfit;                       // absolute path of the binary the nodes run
  std::vector<std::string> profile_args;     // as for the ssh fleet
  std::string job_name = "vramfit";
};

struct SlurmFile {
  std::string name;  // "profile-0.sbatch", "report.sbatch", "submit.sh"
  std::string text;
  bool executable = false;
};

struct SlurmPlan {
  std::vector<SlurmFile> files;
  std::vector<std::vector<std::string>> groups;  // system ids per array, in file order
};

// InvalidInput when no system has Slurm fields.
SlurmPlan slurm_plan(const SystemsFile& systems, const SlurmOptions& o);

}  // namespace vramfit::fleet
