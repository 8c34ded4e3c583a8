// backend/cuda/kernels/fault.cuh — kernels that fail on purpose, for VRAMFIT_FAULT (core/fault.h).
//
//   fault_trap: one thread executes a trap instruction (PTX `trap`, via __trap()): the launch fails
//               with a sticky error (cudaErrorLaunchFailure) and the context is unusable afterwards —
//               the path a real out-of-bounds kernel takes.
//   fault_spin: one thread waits on a device flag nothing ever sets (sleeping 1 µs per poll, so the
//               SM is not saturated): the stream never drains — a real device hang, which only the
//               profile parent's timeout ends.
// Never launched unless a profile worker armed the fault.
#pragma once

#include <cuda_runtime_api.h>

namespace vramfit::cuda::kernels {

void fault_trap(cudaStream_t stream);
void fault_spin(cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
