// cli/flags.h — checks of flag values that every subcommand shares: no empty values, lists that name
// at least one item, sizes and counts within sane ranges (core/checked.h), each error naming the flag
// (InvalidInput or CLI11's ValidationError: both exit 2).
#pragma once

#include <cstdint>
#include <functional>
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

// What a printing command writes: every such command takes -o,--format md|json|csv (md the default).
enum class OutputFormat { md, json, csv };

// Adds -o,--format md|json|csv to `sub` (with `short_o` false only --format: `report` keeps -o for its
// output file) and, with `json_alias`, --json as an alias of -o json for the commands that had it; a
// value outside md, json, csv is CLI11's ValidationError (exit 2, naming the flag and the choices).
// The returned function, called in the runner, gives the format asked for (InvalidInput, exit 2, when
// --json contradicts -o md or -o csv).
std::function<OutputFormat()> add_format_option(CLI::App& sub, bool json_alias, bool short_o = true);

}  // namespace vramfit::cli
