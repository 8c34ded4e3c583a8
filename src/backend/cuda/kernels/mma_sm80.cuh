// backend/cuda/kernels/mma_sm80.cuh — tensor-core building blocks for sm_80+ kernels: mma.sync
// m16n8k16 with fp32 accumulation, ldmatrix.trans, cp.async with zero-fill, and the packing of two
// fp32 values into one 16-bit pair register; used by attention.cu and llm_prefill_attention.cu.
// Every instruction is guarded by __CUDA_ARCH__ >= 800, so the file compiles for older targets too (where the host gates never launch these kernels).
// Private to kernels/*.cu.
#pragma once

#include "backend/cuda/kernels/kernel_common.cuh"

namespace vramfit::cuda::kernels::mma {

// ---------------------------------------------------------------------------------------------
// Tensor-core helpers (PTX ISA, "Matrix multiply-accumulate operation using mma instruction",
// m16n8k16 fragment layouts). With g = lane / 4 and t = lane % 4:
//   A (16×16, row-major, 4 regs of 2 elements): a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..),
//                                               a3 (g+8, 2t+8..)
//   B (16×8, "col", 2 regs):                    b0 (k = 2t..2t+1, n = g), b1 (k = 2t+8.., n = g)
//   C (16×8 fp32, 4 regs):                      c0,c1 (g, 2t..2t+1), c2,c3 (g+8, 2t..2t+1)
// The lower-indexed element of a pair sits in the low 16 bits.

template <class T> __device__ __forceinline__ std::uint32_t pack2(float lo, float hi) {
  std::uint32_t u;
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 h = __floats2half2_rn(lo, hi);
    memcpy(&u, &h, 4);
  } else {
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    memcpy(&u, &h, 4);
  }
  return u;
}

template <class T> __device__ __forceinline__ std::uint32_t load32(const T* p) {
  return *reinterpret_cast<const std::uint32_t*>(p);
}

template <class T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const std::uint32_t (&a)[4], std::uint32_t b0,
                                          std::uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, __half>) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#else
  (void)c, (void)a, (void)b0, (void)b1;
#endif
}

// Four 8×8 b16 matrices, transposed: lanes 8i..8i+7 give the row addresses of matrix i; register i
// receives matrix i with thread `lane` holding (row 2t, col g) and (row 2t+1, col g) — exactly an
// mma B fragment when the rows are keys and the columns head dims.
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* smem_row) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const auto addr = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
#else
  (void)smem_row;
  r[0] = r[1] = r[2] = r[3] = 0;
#endif
}

// Asynchronous global → shared copies (sm_80+): 16 bytes, zero-filled when `valid` is false (the
// source size operand is 0, so nothing is read; the address given is still a valid one).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const auto dst = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem));
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(gmem), "r"(src_bytes) : "memory");
#else
  (void)smem, (void)gmem, (void)valid;
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
// Wait until at most N of this thread's committed groups are still in flight.
template <int N> __device__ __forceinline__ void cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// Four 8×8 b16 matrices, not transposed: lanes 8i..8i+7 give the row addresses of matrix i; register
// i receives matrix i with thread `lane` holding (row g, cols 2t, 2t+1) — an mma B fragment register
// when the rows are keys and the columns head dims (b0 from dims k0…k0+7, b1 from k0+8…k0+15).
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* smem_row) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const auto addr = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem_row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr)
               : "memory");
#else
  (void)smem_row;
  r[0] = r[1] = r[2] = r[3] = 0;
#endif
}

}  // namespace vramfit::cuda::kernels::mma
