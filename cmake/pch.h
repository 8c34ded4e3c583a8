// cmake/pch.h — the heavy headers almost every source file includes, compiled once per target
// (target_precompile_headers; VRAMFIT_PCH=OFF turns it off). nlohmann/json and fmt (header-only, so
// the binary carries no libfmt) are most of a translation unit's front-end time on a 2-core machine.
#pragma once
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
