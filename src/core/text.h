// core/text.h — small text helpers every stage uses, in one place (no stage keeps a copy):
// byte sizes in MiB as printed in tables, ASCII lower case, and the UTC time stamp of a document.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vramfit {

// "12.3 MiB" (one decimal, binary mebibytes) — running text and cells that carry their unit.
std::string mib_text(std::uint64_t bytes);
// "12.3" — table cells whose column header names the unit ("weights MiB").
std::string mib_number(std::uint64_t bytes);
// ASCII lower case (ids, names, aliases compare case-insensitively).
std::string ascii_lower(std::string_view s);
// The current time as ISO 8601 UTC ("2026-12-07T21:20:22Z"): when a profile or summary was made.
std::string utc_now();

}  // namespace vramfit
