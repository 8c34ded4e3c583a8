#include "core/error.h"
#include "core/outcome.h"

#include <nlohmann/json.hpp>

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

std::string_view fit_text(Outcome o) { return o == Outcome::oom ? "does not fit" : to_string(o); }

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

void to_json(nlohmann::json& j, Outcome o) { j = std::string(to_string(o)); }

void from_json(const nlohmann::json& j, Outcome& o) {
  const auto parsed = j.is_string() ? parse_outcome(j.get<std::string>()) : std::nullopt;
  if (!parsed) throw InvalidInput("a status must be one of ok, oom, unsupported, error, limit; got " + j.dump());
  o = *parsed;
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
