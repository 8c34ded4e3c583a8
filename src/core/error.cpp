#include "core/error.h"
#include "core/outcome.h"

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

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::ok: return "ok";
    case Outcome::oom: return "oom";
    case Outcome::unsupported: return "unsupported";
    case Outcome::error: return "error";
    case Outcome::limit: return "limit";
  }
  return "error";
}

std::optional<Outcome> parse_outcome(std::string_view s) {
  for (Outcome o : {Outcome::ok, Outcome::oom, Outcome::unsupported, Outcome::error, Outcome::limit})
    if (to_string(o) == s) return o;
  return std::nullopt;
}

Outcome outcome_of(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::OutOfMemory: return Outcome::oom;
    case ErrorKind::Unsupported: return Outcome::unsupported;
    default: return Outcome::error;
  }
}

Status status_of_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    return {outcome_of(e.kind()), e.what()};
  } catch (const std::exception& e) {
    return {Outcome::error, e.what()};
  } catch (...) {
    return {Outcome::error, "an exception that is not a std::exception"};
  }
}

}  // namespace vramfit
