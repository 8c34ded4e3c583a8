// report/profile_printers.h — the views for people of one `vramfit profile` result (profile/profile.h
// ProfileDoc): constraints.md, the table people read, and report.html, the same with inline SVG charts
// of VRAM, latency and throughput against batch. Printers only format: every number and every mark
// comes from the ProfileDoc (profile.json is its JSON, written by profile/profile.h).
#pragma once

#include <string>

#include "profile/profile.h"

namespace vramfit {

// DIR/constraints.md.
std::string profile_markdown(const profile::ProfileDoc& d);
// DIR/report.html. Self-contained: inline CSS and SVG, no scripts, no external resources.
std::string profile_html(const profile::ProfileDoc& d);

// One CSV line per measurement (`vramfit profile -o csv`): vision rows at each timed batch, LLM rows at
// the speed context and at the max context, with the row's max batch / max context and its mark.
std::string profile_csv(const profile::ProfileDoc& d);

}  // namespace vramfit
