// predict/systems.h — the team's machines (systems.toml; example: data/systems.example.toml).
//
// In: a TOML file of [[system]] tables:
//   id          = "desk-5070ti"             unique, used by `--system ID`
//   gpu         = "RTX 5070 Ti"             a name or alias of the GPU database, or instead:
//   [system.gpu_spec]                       an inline table with the database's fields (gpus.toml)
//   vram        = "12GiB"                   optional: overrides the card's VRAM (laptop variants)
//   primary_use = "pose detection"          what the machine is for (free text, required)
//   profile     = "profiles/desk.json"      optional: a `vramfit run/profile -o json` of this machine,
//                                           relative to the systems file
// and, for `vramfit fleet` (profiling the machine over OpenSSH), optionally:
//   host        = "me@desk-3070ti"          the ssh destination
//   port        = 22                        ssh -p
//   identity    = "~/.ssh/id_ed25519"       ssh -i
//   ssh_options = ["ProxyJump=gw"]          each passed as ssh -o
//   workdir     = "/home/me/vramfit"        a checkout there (its build/*/bin/vramfit is run), or
//   vramfit     = "/opt/vramfit/bin/vramfit" the binary there
// (port, identity, ssh_options, workdir and vramfit need host; workdir and vramfit exclude each other.)
// and, for `vramfit fleet --slurm` (a job array task on a cluster node), optionally:
//   partition   = "gpu"                     sbatch --partition
//   gres        = "gpu:a100:1"              sbatch --gres
//   constraint  = "a100"                    sbatch --constraint
// Out: SystemSpec values with the resolved GpuSpec. Missing or unknown fields, an unknown GPU, a bad
// size or broken TOML → InvalidInput naming the file (and line), the system id and the field.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "predict/gpu_spec.h"

namespace vramfit {

// How `vramfit fleet` reaches a machine: through the user's own ssh client.
struct SshRemote {
  std::string host;                      // destination: [user@]host
  std::optional<int> port;
  std::optional<std::string> identity;   // as written (~ is expanded by ssh)
  std::vector<std::string> options;      // ssh -o values
  std::optional<std::string> workdir;    // a checkout there
  std::optional<std::string> vramfit;    // or the binary there
};

// Where `vramfit fleet --slurm` runs a machine's profile: a Slurm job array task with these resources.
struct SlurmTarget {
  std::optional<std::string> partition, gres, constraint;
};

struct SystemSpec {
  std::string id;
  GpuSpec gpu;                 // resolved; gpu.vram_bytes already carries the override
  bool gpu_from_database = true;
  bool vram_overridden = false;
  std::string primary_use;
  std::optional<std::filesystem::path> profile;  // resolved against the systems file's folder
  std::optional<SshRemote> remote;               // `host` given
  std::optional<SlurmTarget> slurm;              // partition, gres or constraint given
};

struct SystemsFile {
  std::string path;
  std::vector<SystemSpec> systems;
  // By id (exact); unknown → InvalidInput listing the ids in the file.
  const SystemSpec& find(std::string_view id) const;
};

SystemsFile load_systems(const std::filesystem::path& file, const GpuDatabase& db);

}  // namespace vramfit
