// core/atomic_file.cpp — one file through the output writer (core/output_set.h).
#include "core/atomic_file.h"

#include "core/output_set.h"

namespace vramfit {

void write_file_atomic(const std::string& path, std::span<const std::uint8_t> bytes) {
  OutputSet out;
  const std::size_t i = out.add_output(path, "output");
  out.check();
  out.put(i, std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  out.commit();
}

}  // namespace vramfit
