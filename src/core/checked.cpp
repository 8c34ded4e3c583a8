// Checked size arithmetic (core/checked.h): the error paths, kept out of line.
#include "core/checked.h"

#include <fmt/format.h>

namespace vramfit {

namespace detail {

void throw_overflow(std::string_view what, std::string_view op, std::string_view a, std::string_view b) {
  throw SizeOverflow(fmt::format("{}: {} {} {} does not fit in 64 bits (an input is far too large)", what, a, op, b));
}

}  // namespace detail

std::uint64_t checked_unsigned(std::int64_t v, std::string_view what) {
  if (v < 0) throw InvalidInput(fmt::format("{}: must not be negative, got {}", what, v));
  return static_cast<std::uint64_t>(v);
}

std::int64_t checked_signed(std::uint64_t v, std::string_view what) {
  if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw SizeOverflow(fmt::format("{}: {} does not fit in 63 bits (an input is far too large)", what, v));
  return static_cast<std::int64_t>(v);
}

std::int64_t check_range(std::int64_t v, std::int64_t lo, std::int64_t hi, std::string_view what) {
  if (v < lo || v > hi) throw InvalidInput(fmt::format("{}: must be between {} and {}, got {}", what, lo, hi, v));
  return v;
}

}  // namespace vramfit
