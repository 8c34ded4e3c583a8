// core/text.h — small text helpers every stage uses, in one place (no stage keeps a copy):
// byte sizes as printed in tables and text, counts with thousands separators, lists joined, ASCII lower
// case, and the UTC time stamp of a document. (Escaping for each output language: core/text_escape.h.)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vramfit {

// "12.3 MiB" (one decimal, binary mebibytes) — running text and cells that carry their unit.
std::string mib_text(std::uint64_t bytes);
// "12.3" — table cells whose column header names the unit ("weights MiB").
std::string mib_number(std::uint64_t bytes);
// "8.00 GiB" (two decimals): a card's VRAM, an LLM's weights.
std::string gib_text(std::uint64_t bytes);
// "512.0 KiB" (one decimal): an LLM's KV cache per token.
std::string kib_text(std::uint64_t bytes);
// "3,646", "-1,024": batches and contexts in running text and cells.
std::string thousands(std::int64_t v);
// The items with `sep` between them ("" for none).
std::string join(const std::vector<std::string>& items, std::string_view sep);
// ASCII lower case (ids, names, aliases compare case-insensitively).
std::string ascii_lower(std::string_view s);
// The current time as ISO 8601 UTC ("2026-12-07T21:20:22Z"): when a profile or summary was made.
std::string utc_now();

}  // namespace vramfit
