#include "core/text.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "core/bytes.h"

namespace vramfit {

std::string mib_text(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", to_mib(bytes)); }

std::string mib_number(std::uint64_t bytes) { return fmt::format("{:.1f}", to_mib(bytes)); }

std::string gib_text(std::uint64_t bytes) { return fmt::format("{:.2f} GiB", to_gib(bytes)); }

std::string kib_text(std::uint64_t bytes) { return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024.0); }

std::string thousands(std::int64_t v) {
  // The magnitude as unsigned: -INT64_MIN does not fit an int64.
  const std::uint64_t mag = v < 0 ? ~static_cast<std::uint64_t>(v) + 1 : static_cast<std::uint64_t>(v);
  const std::string s = std::to_string(mag);
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) s += sep;
    s += items[i];
  }
  return s;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return out;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace vramfit
