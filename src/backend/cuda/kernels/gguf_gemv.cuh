// backend/cuda/kernels/gguf_gemv.cuh — matrix products on GGUF blocks, read as they are in the file.
//
// What they compute (CPU reference: weights/gguf_quant.h gguf_dequantize, whose block layouts these
// kernels decode the same way):
//   gguf_gemv        y[b, n] = Σ_k x[b, k] · W[n, k] (+ residual[b, n])   b < B ≤ 8, n < N, k < K
//                    W: N rows of K elements in one block type (q8_0, q4_0, q4_k, q6_k), row n at
//                    bytes [n·row_bytes, (n+1)·row_bytes) — a GGUF tensor with ne = {K, N} as mapped
//                    from the file; x: fp16 [B, K] row-major; y: fp16 or fp32, element (b, n) at
//                    b·ldy + n (ldy ≥ N; 0 means N), so y may be a column slice of a wider buffer;
//                    residual (optional, nullptr = none): y's dtype and strides, and it may be y
//                    itself (each element is read once, before the same thread writes it).
//                    fp32 accumulation, the residual added in fp32; one rounding on store.
//   gguf_dequantize  out[n, k] = W[n, k] as fp16 (prefill tiles: dequantize, then a tensor-core GEMM);
//                    w may sit at any 2-byte-aligned address (a row range starting mid-tensor).
//   gguf_embedding   out[t, :] = W[clamp(ids[t], 0, rows − 1), :] as fp16, t < T — each element
//                    bit-identical to gguf_dequantize's; W may also be plain f16 (a copy of the row).
//                    ids: int32 on the device (the caller validates them on the host; the clamp only
//                    keeps a bad id from reading outside W). Graph-capturable: no sync, no allocation.
// Decoded values are d·q (and d·sc·q − dmin·m) computed with round-to-nearest products in the CPU
// reference's order (no fused multiply-add), so gguf_dequantize equals round_to_half(CPU value)
// bit for bit.
//
// Tiling (gemv): a CTA of 8 warps owns 8 rows, one per warp, and walks K in chunks of 1024
// elements. Per chunk it stages x[:, chunk] (B·2 KiB) and each warp its row's blocks (≤ 1.1 KiB)
// into shared memory with 16-byte cp.async copies — blocks of 34, 18 and 210 bytes are not 16-byte
// aligned, so the copy covers the 16-byte-aligned span around them (never past the tensor's end)
// and decoding reads from shared memory at the blocks' true offsets. Each lane then takes 8
// consecutive elements at a time: decodes them in registers (one 8-byte load of codes where the
// alignment allows, else 2-byte loads), loads the matching 8 x values per batch row as one 16-byte
// shared load, and accumulates; a warp reduction ends the row. A CTA keeps ≤ 9 KiB of weights in
// flight per stage and uses ≤ 25 KiB of shared memory, so several CTAs share an SM and their
// copies overlap one another's decoding.
// Expected: B = 1 close to the memory bandwidth floor (bytes of W + x + y); B = 8 costs more per
// byte (8 x values per decoded weight from shared memory) — measured numbers belong in the
// benchmark (tests/gpu/test_gguf_kernels.cpp DISABLED_Throughput prints them).
//
// Requirements (InvalidInput otherwise, naming the value): K a multiple of the block (32 for
// q8_0/q4_0, 256 for q4_k/q6_k); 1 ≤ B ≤ 8; N ≥ 1; ldy = 0 or ≥ N; gemv: w and x 16-byte aligned,
// y and residual aligned to their element; dequantize/embedding: w 2-byte aligned, out 16-byte
// aligned (embedding of f16 rows: any K ≥ 1; T = 0 launches nothing). Other dtypes: Unsupported. All launches go on `stream`; pointers are device memory the
// caller owns; nothing is allocated or synchronised.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

// y[b, ldy-strided] = Σ_k x[b,k]·W[n,k] (+ residual[b, n] with the same ldy; residual may equal y).
void gguf_gemv(DType wtype, const void* w, std::int64_t N, std::int64_t K, const void* x, int B, void* y, DType y_dtype,
               cudaStream_t stream, const void* residual = nullptr, std::int64_t ldy = 0 /* 0 → N */);

void gguf_dequantize(DType wtype, const void* w, std::int64_t rows, std::int64_t K, void* out_f16, cudaStream_t stream);

// out[t, :] = fp16 row ids[t] of W (W: `rows` rows of K elements in wtype; ids on the device, int32 [T]);
// out [T, K] fp16 row-major, 16-byte aligned. Ids outside [0, rows) are clamped (the caller validates on the host).
// Graph-capturable (no host sync, no allocation).
void gguf_embedding(DType wtype, const void* w, std::int64_t rows, std::int64_t K, const std::int32_t* ids, std::int64_t T,
                    void* out_f16, cudaStream_t stream);

// Bytes one row of K elements takes in `wtype` (K a multiple of the block).
std::int64_t gguf_row_bytes(DType wtype, std::int64_t K);

}  // namespace vramfit::cuda::kernels
