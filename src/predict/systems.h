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

struct SystemSpec {
  std::string id;
  GpuSpec gpu;                 // resolved; gpu.vram_bytes already carries the override
  bool gpu_from_database = true;
  bool vram_overridden = false;
  std::string primary_use;
  std::optional<std::filesystem::path> profile;  // resolved against the systems file's folder
};

struct SystemsFile {
  std::string path;
  std::vector<SystemSpec> systems;
  // By id (exact); unknown → InvalidInput listing the ids in the file.
  const SystemSpec& find(std::string_view id) const;
};

SystemsFile load_systems(const std::filesystem::path& file, const GpuDatabase& db);

}  // namespace vramfit
