// core/outcome.h — what became of one measurement, probe or cell: the one vocabulary of results.
//
// Results carry an Outcome, never a status string; the strings below exist only at the edges (the
// worker protocol's JSON, profile.json, printers), through to_string / parse_outcome:
//   ok           it ran (or fits)
//   oom          it does not fit the budget (the planner said so, or the device refused the memory)
//   unsupported  valid, but this GPU or this engine cannot run it (the reason says which)
//   error        it failed (a crash, a hang, a sticky CUDA error, bad input to a worker)
//   limit        past an engine limit (a tensor too large for cuDNN), not memory
// An exception of core/error.h maps to an Outcome with outcome_of(); Outcomed<T> is a value or why not.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace vramfit {

enum class Outcome { ok, oom, unsupported, error, limit };

std::string_view to_string(Outcome o);
// The JSON spelling back to the enum; nullopt for anything else (the caller says where it came from).
std::optional<Outcome> parse_outcome(std::string_view s);
// The planner's spelling (`plan`, `llm`): oom is "does not fit", the rest as to_string.
std::string_view fit_text(Outcome o);
// OutOfMemory → oom, Unsupported → unsupported, anything else → error.
Outcome outcome_of(ErrorKind kind);

// JSON: the spelling above (never the enum's number); reading anything else is InvalidInput.
void to_json(nlohmann::json& j, Outcome o);
void from_json(const nlohmann::json& j, Outcome& o);

// An outcome with its reason (empty when ok).
struct Status {
  Outcome outcome = Outcome::ok;
  std::string reason;
  bool ok() const { return outcome == Outcome::ok; }
};

// Inside a catch block: the Status of the exception being handled — core/error.h's kinds by
// outcome_of, any other exception an error — with its message as the reason. The one place where an
// exception becomes a result (workers, `run`, the LLM probes).
Status status_of_current_exception();

}  // namespace vramfit
