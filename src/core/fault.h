// core/fault.h — faults armed on purpose, so that the paths a real failure takes can be tested.
//
// `vramfit profile` must survive a worker whose allocation fails, whose kernel corrupts the context
// or never finishes, or which dies mid-launch (DESIGN rule 5). The profile worker arms at most one
// fault for its process (from VRAMFIT_FAULT, profile/worker.h); the engine checks for it at the real
// places those failures happen:
//   alloc         backend/cuda/arena: the session's one cudaMalloc is treated as refused (OutOfMemory,
//                 taking the same path as a real refusal)
//   trap          backend/cuda/executor: the forward pass launches a kernel that executes a trap
//                 instruction — a real sticky CUDA error (CudaFatal) from the next synchronisation
//   spin          backend/cuda/executor: the forward pass launches a kernel that never finishes — a
//                 real device hang, ended only by the parent's timeout (SIGKILL)
//   launch-abort  backend/cuda/executor: the process aborts while enqueueing the first kernel
// Nothing is armed unless a worker arms it; the checks cost one relaxed atomic load.
#pragma once

#include <string>
#include <string_view>

namespace vramfit::fault {

void arm(std::string_view mode);  // one of the modes above
void disarm();
bool armed(std::string_view mode);
const std::string& armed_mode();  // empty when none

}  // namespace vramfit::fault
