// cli/flags.h — checks of flag values that every subcommand shares: no empty values, lists that name
// at least one item, sizes and counts within sane ranges (core/checked.h), each error naming the flag
// (InvalidInput or CLI11's ValidationError: both exit 2).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
class Validator;
}  // namespace CLI

namespace vramfit::cli {

// Every option of `sub` that takes a value refuses an empty one: `--vram-limit ''` or `-m ''` is a
// mistake (an unset variable in a script), never "not given".
void reject_empty_values(CLI::App& sub);

// A list flag split as split_list does; InvalidInput naming the flag when it was given but names
// nothing (`-m ,`). An empty `raw` (the flag absent) gives an empty list.
std::vector<std::string> list_flag(const std::vector<std::string>& raw, const std::string& flag);

// parse_bytes, with the flag named in its error ("--vram-limit: invalid size '8GB?': …").
std::uint64_t size_flag(const std::string& text, const std::string& flag);

// CLI11 check: an integer from lo to hi, the error naming the range.
CLI::Validator int_range(long long lo, long long hi);
// CLI11 check: a finite number from lo to hi (CLI::Range lets nan through: it fails no comparison).
CLI::Validator real_range(double lo, double hi);

}  // namespace vramfit::cli
