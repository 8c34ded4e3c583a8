// predict/gpu_spec_toml.h — (private to predict/) one GpuSpec from a TOML table: shared by the
// database (data/gpus.toml) and systems.toml's inline [system.gpu_spec] tables, so both accept the
// same fields with the same checks.
#pragma once

#include <string>
#include <toml++/toml.h>

#include "predict/gpu_spec.h"

namespace vramfit::detail {

// `where` prefixes every error ("data/gpus.toml:12: gpu 'RTX 3090'"); fields are read as described
// in data/gpus.toml's header. Missing required fields, wrong types, negative rates, a bad size or
// compute capability → InvalidInput naming `where`, the field and what was expected.
GpuSpec gpu_spec_from_table(const toml::table& t, const std::string& where);

// "FILE:LINE" for a node's source position (or "FILE" when toml++ kept none).
std::string toml_where(const std::string& file, const toml::source_region& r);

}  // namespace vramfit::detail
