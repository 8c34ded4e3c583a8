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
//                    Arithmetic below ("int8 x"); the residual is added in fp32; one rounding on store.
//   gguf_dequantize  out[n, k] = W[n, k] as fp16 (prefill tiles: dequantize, then a tensor-core GEMM);
//                    w may sit at any 2-byte-aligned address (a row range starting mid-tensor).
//   gguf_embedding   out[t, :] = W[clamp(ids[t], 0, rows − 1), :] as fp16, t < T — each element
//                    bit-identical to gguf_dequantize's; W may also be plain f16 (a copy of the row).
//                    ids: int32 on the device (the caller validates them on the host; the clamp only
//                    keeps a bad id from reading outside W). Graph-capturable: no sync, no allocation.
// Dequantized values are d·q (and d·sc·q − dmin·m) computed with round-to-nearest products in the
// CPU reference's order (no fused multiply-add), so gguf_dequantize / gguf_embedding equal
// round_to_half(CPU value) bit for bit.
//
// GEMV design. Nothing is staged in shared memory and nothing needs scratch: lanes read their
// blocks straight from global memory with 16- (or 8-) byte loads and take dot products on integer
// codes with dp4a.
//   * Pieces: every row is cut into pieces of 32 elements, and lane l of a warp decodes piece
//     32·step + l, so a warp step covers 1024 elements (a q8_0/q4_0 block per lane; an eighth of a
//     q4_k/q6_k block per lane, 8 lanes per block). A piece is two runs of 16 elements, each under
//     one weight scale: q4_k: qs[32c + 16h, +16) (its low nibbles are sub-block 2c, its high ones
//     2c + 1); q6_k: ql[64hh + 32kk + l0, +16) with qh[32hh + l0, +16) (runs k = kk and kk + 2);
//     q4_0/q8_0: the two halves of the block. A lane's offsets inside its block are the same at
//     every step, so they are per-lane constants.
//   * Loads: q4_k blocks (144 bytes) are 16-byte aligned: one 16-byte load of the header and one of
//     the piece's qs. q8_0 (34 bytes) and q4_0 (18) blocks sit at any even address: the lane loads
//     the 48- (32-) byte 16-aligned window around its block and extracts its bytes (two selects on
//     the offset / 4, a funnel shift). q6_k's ql and qh pieces (16 bytes at an even address) come
//     from 24-byte 8-aligned windows (three 8-byte loads, one select, a funnel shift), + its two
//     int8 scales and d. Weights are read through the non-coherent path with an L2 256-byte
//     prefetch: q4_k's without L1 allocation, the overlapping windows marked evict-first in L1
//     (the next load of the lane, or its neighbour's, hits them); x through L1 (every warp of an
//     SM reads the same x). Windows never leave the
//     tensor, except the q8_0/q4_0 window of the tensor's very last block, which the CTA of the
//     last rows reads word by word up to the end (a second copy of the loop, only there).
//   * x as int8, in registers: per piece and batch row, the lane turns its 32 x values into int8
//     under one scale (below) — 16 packed fp16 fmas and 8 byte permutes — and reuses them for the
//     R = 4 rows it handles, so that work is spread over 4·32 weights.
//   * Dot products: per run, S = Σ code·xq by 4 dp4a (exact int32); per piece:
//       q8_0: (d·dx)·S;  q4_0: codes are 16·(q − 8) as int8 (the nibble in the top half of the
//       byte, top bit flipped), (d·dx/16)·S;  q4_k: dx·(d·(sc0·S0 + sc1·S1) − dmin·(m0·Σxq0 +
//       m1·Σxq1)), each bracket one dp2a on the packed 16-bit pair (|S_r| ≤ 30480);  q6_k:
//       (d·dx)·(sc0·S0' + sc1·S1'), S_r' = Σ (q − 32)·xq — the dp4a chain starts at −32·Σxq_r.
//     The 6-bit q4_k scales and mins are unpacked with per-lane shifts and masks (no branch).
//   * CTA: 4 warps (128 threads) own R = 4 consecutive rows (rows past N repeat row N − 1, not
//     stored) and split K: warp w takes steps w, w + 4, …. Each lane keeps R·B fp32 sums; one
//     halving shuffle exchange (R·B − 1 + 5 − log2(R·B) shuffles) and a 4-warp sum in shared memory
//     end the CTA, which adds the residual and stores. B = 1: ≤ 64 registers (q8_0 72, q6_k 80), so
//     6-8 CTAs (24-32 warps) per SM, each with 4 rows × 32 lanes × 32-48 bytes in flight.
//   * B ≤ 8 (a second instantiation): the R rows' pieces are decoded once per step, x is quantized
//     once per batch row and step, dp4a per (row, batch row).
//
// Arithmetic ("int8 x"): for each lane's 32 x values of a batch row, s = fp16(min(127/max|x|,
// 65504)) and xq = round(x·s) (x·s + 1536 by one fp16 fma: in [1024, 2048) fp16 steps by 1, so its
// low byte is xq), dx = 1/s (approximate reciprocal, relative error ≤ 2^-22). So each x is replaced
// by xq/s with |x − xq/s| ≤ 1/(2s) ≤ max|x|/254·(1 + 2^-10) (max over the 32, which lie in one
// aligned group of 32 (q8_0, q4_0), 64 (q4_k) or 128 (q6_k) elements), or 1/(2·65504) where s is
// clamped. Bound: |y − Σ W·x| ≤ Σ_k |W[n,k]|·max(max|x|_group(k)/127·(1 + 2^-10), 1/65504)/2 plus
// fp32 rounding (a few dozen roundings of 2^-24 relative to Σ|W·x|). Typically: for Gaussian x,
// max|x| of 32 is ~2.1σ, so each x moves by ~0.5% of σ (uniform, random sign) and y by ~0.5% of
// its own spread — far below the bound; llama.cpp's q8_1 x (one scale per 32) has the same form. A NaN or ±inf anywhere in x makes dx, and so the outputs of that batch row, NaN.
// Weight values are used exactly (integer codes, fp16 d and dmin, integer scales).
//
// Floor and instruction budget (H200: 4271 GB/s copy bandwidth, 132 SMs × 4 schedulers × 1.98 GHz
// = 3.3e13 thread instructions/s). Bytes per weight: q8_0 1.0625, q4_0 and q4_k 0.5625, q6_k 0.8203;
// a B = 1 GEMV moves its weights (+ 2·(K + N) bytes of x and y): e.g. Llama-2-7B's 4096×4096 in
// q4_k is 9.4 MB → 2.2 µs at the floor, 4096×11008 in q6_k 37 MB → 8.7 µs; Q4_K_M decode moves
// 3.8 GiB per token → 0.95 ms (1047 tokens/s) at the floor, the 560 tokens/s target needs ≥ 2.3 TB/s
// over the whole step. Weights per second at the floor: q8_0 4.0e12, q4_k 7.6e12, q6_k 5.2e12, so
// full issue would allow 8.3, 4.4 and 6.4 instructions per weight. Predicted (SASS of the B = 1
// loop, sm_90, per 128 weights = 4 rows × 32 lanes' pieces): q8_0 293 (2.3 per weight),
// q4_0 310 (2.4), q4_k 231 (1.8), q6_k 425 (3.3) — a quarter to a half of the issue rate at the
// floor, so B = 1 should be bound by memory, not instructions (the previous shared-memory design
// took ≥ 8.9 / 12.5 / 16.8 / 20.5 per weight in its decode loop alone). B = 8 (per weight, all 8
// batch rows): q8_0 7.6, q4_0 7.8, q4_k 9.5, q6_k 9.9 — instruction-bound at ~1.9-2.2 TB/s for
// q4_k/q6_k. Measured numbers belong in the benchmark (tests/gpu/test_gguf_kernels.cpp
// DISABLED_Throughput prints them).
//
// Launched plainly, not with programmatic dependent launch (kernel_common.cuh launch_pdl): x is read
// through the read-only path (__ldg), which PDL would make unsafe, and measured on the H200 with
// coherent loads for x instead, Q4_K_M decode fell from 429 to 331–348 tokens/s with or without PDL.
//
// Requirements (InvalidInput otherwise, naming the value): K a multiple of the block (32 for
// q8_0/q4_0, 256 for q4_k/q6_k); 1 ≤ B ≤ 8; N ≥ 1; ldy = 0 or ≥ N; gemv: w and x 16-byte aligned,
// y and residual aligned to their element; dequantize/embedding: w 2-byte aligned, out 16-byte
// aligned (embedding of f16 rows: any K ≥ 1; T = 0 launches nothing). Other dtypes: Unsupported.
// All launches go on `stream`; pointers are device memory the caller owns; nothing is allocated or
// synchronised.
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
