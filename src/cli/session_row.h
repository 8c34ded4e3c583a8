// cli/session_row.h — one measured configuration as the report row (report/run_report.h), filled from
// a live runtime Session: shared by `run` and `profile --worker` so both report the same numbers.
#pragma once
#ifdef VRAMFIT_HAVE_CUDA

#include "report/run_report.h"
#include "runtime/session.h"

namespace vramfit::cli {

// Timing fields only when `t` is given (a probe measures memory, not latency).
RunRow session_row(const SessionConfig& cfg, Session& s, const TimingStats* t);

}  // namespace vramfit::cli
#endif
