// core/atomic_file.h — "nothing is lost" (DESIGN rule 6): a file is written to PATH.tmp, flushed to
// disk, then renamed over PATH, so a crash leaves either the old file or the new one, never half.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vramfit {

// Throws IoError naming the path and the system's reason.
void write_file_atomic(const std::string& path, std::span<const std::uint8_t> bytes);
inline void write_file_atomic(const std::string& path, std::string_view text) {
  write_file_atomic(path, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

}  // namespace vramfit
