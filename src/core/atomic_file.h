// core/atomic_file.h — "nothing is lost" (DESIGN rule 6) for one file: a command's single output that
// has no inputs to protect (a .npy, a GGUF written by a test). It is an OutputSet of one
// (core/output_set.h): refused when the target is a device, FIFO or folder; written to a unique
// temporary beside the target, flushed to disk, then renamed over it, so a crash leaves either the old
// file or the new one, never half. Commands with several outputs or with inputs use OutputSet itself.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vramfit {

// Throws InvalidInput (a target that must not be written) or IoError, naming the path and the reason.
void write_file_atomic(const std::string& path, std::span<const std::uint8_t> bytes);
inline void write_file_atomic(const std::string& path, std::string_view text) {
  write_file_atomic(path, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

}  // namespace vramfit
