// core/bytes.h — byte sizes, parsed and printed exactly.
//
// Accepted forms: a whole number of bytes ("4096", "4096B"), or a number (decimals allowed, e.g.
// "1.5GiB") followed by a unit: binary KiB MiB GiB TiB (powers of 1024) or decimal kB KB MB GB TB
// (powers of 1000, so "8GB" = 8·10⁹ bytes). Anything else ("8GB?", "-1", "", "8 gigs") is an
// InvalidInput error that names the text and lists these forms. Results must be whole bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vramfit {

std::uint64_t parse_bytes(std::string_view text);

// "8 GiB", "512 MiB", "1.50 GiB", "123 B": binary units, never an ambiguous "MB".
std::string format_bytes(std::uint64_t bytes);
// Exact form that parse_bytes reads back to the same value ("8GiB", "1536MiB", "1000B").
std::string format_bytes_exact(std::uint64_t bytes);

constexpr std::uint64_t KiB = 1024ull;
constexpr std::uint64_t MiB = 1024ull * KiB;
constexpr std::uint64_t GiB = 1024ull * MiB;

inline double to_mib(std::uint64_t b) { return static_cast<double>(b) / static_cast<double>(MiB); }
inline double to_gib(std::uint64_t b) { return static_cast<double>(b) / static_cast<double>(GiB); }

}  // namespace vramfit
