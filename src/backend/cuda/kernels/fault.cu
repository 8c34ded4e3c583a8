#include "backend/cuda/kernels/fault.cuh"

namespace vramfit::cuda::kernels {

namespace {

__device__ int g_fault_release = 0;  // never set: fault_spin waits on it forever

__global__ void trap_kernel() { __trap(); }

__global__ void spin_kernel() {
  while (*static_cast<volatile int*>(&g_fault_release) == 0) __nanosleep(1000);
}

}  // namespace

void fault_trap(cudaStream_t stream) { trap_kernel<<<1, 1, 0, stream>>>(); }
void fault_spin(cudaStream_t stream) { spin_kernel<<<1, 1, 0, stream>>>(); }

}  // namespace vramfit::cuda::kernels
