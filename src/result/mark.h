// result/mark.h — the verdict a result carries for people: it runs, it runs with constraints, it does
// not run, or it does not apply. The stage after measurement (result/) holds typed records; this is
// the vocabulary their marks share, so that logic compares enum values and the symbols exist only at
// the edges — profile.json's and the summary's "mark" fields and the printers — through to_string
// and parse_mark (as core/outcome.h does for a result's Outcome):
//   fits            ✅  runs, no caveat
//   constrained     ⚠️  runs, with a caveat the note names
//   fails           ❌  does not run (does not fit, unsupported on this card, failed)
//   not_applicable  n/a vramfit's engine does not run this model or precision yet
#pragma once

#include <optional>
#include <string_view>

namespace vramfit {

enum class Mark { fits, constrained, fails, not_applicable };

// "✅", "⚠️", "❌", "n/a": the JSON spelling and what every printer shows.
std::string_view to_string(Mark m);
// The spelling back to the enum; nullopt for anything else (the caller says where it came from).
std::optional<Mark> parse_mark(std::string_view s);

}  // namespace vramfit
