#include "core/text.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <fmt/format.h>

#include "core/bytes.h"

namespace vramfit {

std::string mib_text(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", to_mib(bytes)); }

std::string mib_number(std::uint64_t bytes) { return fmt::format("{:.1f}", to_mib(bytes)); }

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
