// core/error.h — typed errors. Library code throws these; only src/cli/ prints and exits.
//
// Each kind maps to what a user should do about it:
//   InvalidInput  — the input (flag, file, field) is wrong; the message names it and what was expected.
//   Unsupported   — valid request this build/GPU cannot run (bf16 before sm_80, an op not implemented).
//   OutOfMemory   — the budget or the device ran out; a result, not a crash.
//   CudaFatal     — a sticky CUDA error; the process must not be reused.
//   Io            — a file could not be read or written.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace vramfit {

enum class ErrorKind { InvalidInput, Unsupported, OutOfMemory, CudaFatal, Io, Internal };

std::string_view to_string(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

struct InvalidInput : Error {
  explicit InvalidInput(const std::string& m) : Error(ErrorKind::InvalidInput, m) {}
};
struct Unsupported : Error {
  explicit Unsupported(const std::string& m) : Error(ErrorKind::Unsupported, m) {}
};
struct OutOfMemory : Error {
  explicit OutOfMemory(const std::string& m) : Error(ErrorKind::OutOfMemory, m) {}
};
struct CudaFatal : Error {
  explicit CudaFatal(const std::string& m) : Error(ErrorKind::CudaFatal, m) {}
};
struct IoError : Error {
  explicit IoError(const std::string& m) : Error(ErrorKind::Io, m) {}
};
struct InternalError : Error {
  explicit InternalError(const std::string& m) : Error(ErrorKind::Internal, m) {}
};

// Internal invariant check: throws InternalError with the location (never aborts the process).
#define VRAMFIT_CHECK(cond, msg)                                                              \
  do {                                                                                        \
    if (!(cond))                                                                              \
      throw ::vramfit::InternalError(std::string("internal check failed: ") + #cond + " (" + \
                                     (msg) + ") at " + __FILE__ + ":" + std::to_string(__LINE__)); \
  } while (0)

}  // namespace vramfit
