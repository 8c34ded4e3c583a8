// result/mark.cpp — Mark ↔ its symbol.
#include "result/mark.h"

namespace vramfit {

std::string_view to_string(Mark m) {
  switch (m) {
    case Mark::fits: return "✅";
    case Mark::constrained: return "⚠️";
    case Mark::fails: return "❌";
    case Mark::not_applicable: return "n/a";
  }
  return "n/a";
}

std::optional<Mark> parse_mark(std::string_view s) {
  for (Mark m : {Mark::fits, Mark::constrained, Mark::fails, Mark::not_applicable})
    if (s == to_string(m)) return m;
  return std::nullopt;
}

}  // namespace vramfit
