// Shared flag checks (cli/flags.h).
#include "cli/flags.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <memory>
#include <fmt/format.h>

#include "cli/commands.h"
#include "core/bytes.h"
#include "core/error.h"

namespace vramfit::cli {

void reject_empty_values(CLI::App& sub) {
  const CLI::Validator non_empty(
      [](std::string& v) -> std::string { return v.empty() ? std::string("an empty value is not allowed") : std::string(); },
      "NONEMPTY");
  for (CLI::Option* o : sub.get_options())
    if (o->get_type_size_max() > 0) o->check(non_empty);  // flags (no value) have type size 0
}

std::vector<std::string> list_flag(const std::vector<std::string>& raw, const std::string& flag) {
  std::vector<std::string> out = split_list(raw);
  if (!raw.empty() && out.empty())
    throw InvalidInput(fmt::format("{}: the list is empty (give one or more values, space- or comma-separated)", flag));
  return out;
}

std::uint64_t size_flag(const std::string& text, const std::string& flag) {
  try {
    return parse_bytes(text);
  } catch (const InvalidInput& e) {
    throw InvalidInput(fmt::format("{}: {}", flag, e.what()));
  }
}

CLI::Validator int_range(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        long long x = 0;
        std::size_t used = 0;
        try {
          x = std::stoll(v, &used);
        } catch (...) {
          used = 0;
        }
        if (used != v.size() || v.empty()) return fmt::format("'{}' is not an integer (expected {} to {})", v, lo, hi);
        if (x < lo || x > hi) return fmt::format("{} is out of range (expected {} to {})", x, lo, hi);
        return std::string();
      },
      fmt::format("INT in [{} - {}]", lo, hi));
}

CLI::Validator real_range(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& v) -> std::string {
        double x = 0;
        std::size_t used = 0;
        try {
          x = std::stod(v, &used);
        } catch (...) {
          used = 0;
        }
        if (used != v.size() || v.empty()) return fmt::format("'{}' is not a number (expected {:g} to {:g})", v, lo, hi);
        if (!std::isfinite(x) || x < lo || x > hi) return fmt::format("{} is out of range (expected {:g} to {:g})", v, lo, hi);
        return std::string();
      },
      fmt::format("NUMBER in [{:g} - {:g}]", lo, hi));
}

std::function<OutputFormat()> add_format_option(CLI::App& sub, bool json_alias, bool short_o) {
  auto format = std::make_shared<std::string>("md");
  auto json = std::make_shared<bool>(false);
  sub.add_option(short_o ? "-o,--format" : "--format", *format, "Output: md (default), json or csv")
      ->check(CLI::IsMember({"md", "json", "csv"}));
  if (json_alias) sub.add_flag("--json", *json, "The same as -o json (kept for scripts)");
  return [format, json]() {
    if (*json && *format != "md" && *format != "json")
      throw InvalidInput(fmt::format("--json and -o {} ask for two formats: give one", *format));
    if (*json || *format == "json") return OutputFormat::json;
    return *format == "csv" ? OutputFormat::csv : OutputFormat::md;
  };
}

}  // namespace vramfit::cli
