#include "core/bytes.h"

#include <array>
#include <cctype>
#include <cmath>
#include <fmt/format.h>

#include "core/checked.h"
#include "core/error.h"

namespace vramfit {
namespace {

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array<Unit, 11> kUnits = {{
    {"B", 1},
    {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40},
    {"kB", 1000ull}, {"KB", 1000ull}, {"MB", 1000000ull}, {"GB", 1000000000ull},
    {"TB", 1000000000000ull}, {"", 1},
}};

[[noreturn]] void bad(std::string_view text, std::string_view why) {
  throw InvalidInput(fmt::format(
      "invalid size '{}': {}; expected a number and a unit, e.g. 8GiB, 512MiB, 1.5GiB (binary: KiB "
      "MiB GiB TiB) or 8GB (decimal: kB MB GB TB, 8GB = 8000000000 bytes) or plain bytes (4096)",
      text, why));
}

}  // namespace

std::uint64_t parse_bytes(std::string_view text) {
  if (text.empty()) bad(text, "empty");
  std::size_t i = 0;
  std::uint64_t whole = 0;
  bool any_digit = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const auto d = static_cast<std::uint64_t>(text[i] - '0');
    if (whole > (UINT64_MAX - d) / 10) bad(text, "too large");
    whole = whole * 10 + d;
    any_digit = true;
    ++i;
  }
  // Fraction kept as an exact decimal: frac_num / frac_den.
  std::uint64_t frac_num = 0, frac_den = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    bool frac_digit = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (frac_den >= 1000000000000ull) bad(text, "too many decimal places");
      frac_num = frac_num * 10 + static_cast<std::uint64_t>(text[i] - '0');
      frac_den *= 10;
      frac_digit = true;
      ++i;
    }
    if (!frac_digit) bad(text, "a decimal point must be followed by digits");
  }
  if (!any_digit) bad(text, text[0] == '-' ? "sizes cannot be negative" : "no number at the start");
  std::string_view unit = text.substr(i);
  for (const auto& u : kUnits) {
    if (u.name != unit) continue;
    if (whole > limits::kMaxBytes / u.factor) bad(text, "too large (sizes stop at 1 EiB = 2^60 bytes)");
    std::uint64_t bytes = whole * u.factor;
    if (frac_num) {
      // factor · frac_num / frac_den exactly: factor ≤ 2^40 and frac_num < 10^12 < 2^40, so the product
      // needs 80 bits; the fraction of a unit is below one unit, so the sum stays ≤ 2^60 + 2^40.
      const long double exact =
          static_cast<long double>(u.factor) * static_cast<long double>(frac_num) /
          static_cast<long double>(frac_den);
      if (exact != std::floor(exact)) bad(text, "not a whole number of bytes");
      bytes += static_cast<std::uint64_t>(exact);
      if (bytes > limits::kMaxBytes) bad(text, "too large (sizes stop at 1 EiB = 2^60 bytes)");
    }
    return bytes;
  }
  bad(text, fmt::format("unknown unit '{}'", unit));
}

std::string format_bytes(std::uint64_t b) {
  if (b >= GiB) return fmt::format("{:.2f} GiB", to_gib(b));
  if (b >= MiB) return fmt::format("{:.1f} MiB", to_mib(b));
  if (b >= KiB) return fmt::format("{:.1f} KiB", static_cast<double>(b) / 1024.0);
  return fmt::format("{} B", b);
}

std::string format_bytes_exact(std::uint64_t b) {
  if (b && b % GiB == 0) return fmt::format("{}GiB", b / GiB);
  if (b && b % MiB == 0) return fmt::format("{}MiB", b / MiB);
  if (b && b % KiB == 0) return fmt::format("{}KiB", b / KiB);
  return fmt::format("{}B", b);
}

}  // namespace vramfit
