#include "core/error.h"

namespace vramfit {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidInput: return "invalid input";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::OutOfMemory: return "out of memory";
    case ErrorKind::CudaFatal: return "CUDA fatal";
    case ErrorKind::Io: return "I/O";
    case ErrorKind::Internal: return "internal";
  }
  return "unknown";
}

}  // namespace vramfit
