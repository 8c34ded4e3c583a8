// backend/cuda/kernels/attention.cuh — multi-head self-attention over packed qkv (OpKind Attention),
// FlashAttention style: the S×S score matrix is never stored.
//
// What it computes (CPU reference backend/cpu/ops.h attention): qkv [B, S, 3E] holds q | k | v along
// the last dim; head h uses the contiguous slice [h·d, (h+1)·d) of each, d = E/H. For every (b, h):
//   y[b, :, h·d:(h+1)·d] = softmax(q kᵀ / √d) v          (Vaswani et al. 2017, eq. 1; no mask)
// y [B, S, E] is the heads concatenated, ready for the output projection. Any S ≥ 1 (ViT's 197,
// 19, 1): a partial last tile is zero-filled and its keys masked to −∞.
//
// Algorithm (Dao et al. 2022, "FlashAttention", with FlashAttention-2's loop order): a block owns a
// tile of queries of one (b, h); it loops over key/value tiles staged in shared memory and keeps, per
// query row, the running max m, the running sum l and an unnormalised fp32 accumulator O:
//   s = q·kᵀ·(log₂e/√d);  m' = max(m, rowmax s);  p = 2^(s − m');  l = l·2^(m − m') + Σp;
//   O = O·2^(m − m') + p·v;   finally y = O / l.
// Scores, softmax statistics and O are fp32 whatever the storage dtype.
//
// Two kernels, both templated on the head dim d ∈ {64, 80, 128} (attention_unsupported is the gate):
//
//   16-bit (f16, bf16): tensor cores, mma.sync m16n8k16 with fp32 accumulation (sm_80+). 64 queries
//     and 64 keys a tile, 4 warps, each warp owning 16 query rows, so a warp's softmax needs only
//     shuffles within quads and no barrier. q stays in registers as mma A-fragments for the whole
//     key loop; the score accumulators of q·kᵀ are re-packed in registers as the A-fragments of p·v
//     (the m16n8 C layout of two adjacent key tiles is the m16k16 A layout), so p never touches
//     shared memory; v's B-fragments come from ldmatrix.trans. k and v tiles are double-buffered and
//     copied with cp.async (zero-filled past S), so tile kt+1 streams in while tile kt is computed.
//     Shared memory rows are padded by 8 elements (16 B), which makes both the 4-byte fragment loads
//     and ldmatrix conflict-free for d = 64, 80, 128. Shared memory (dynamic): 4·64·(d+8)·2 B = 36 KiB
//     at d = 64, 44 KiB at 80, 68 KiB at 128 (opted in above 48 KiB); q's tile is staged in a k buffer
//     before the loop and the output tile after it, for 16-byte global stores. Warps whose 16 query
//     rows all lie past S skip the math. Registers: 128 at d = 64 (4 blocks/SM),
//     168 at 80 (3), 198 at 128 (2); no spills.
//     p is rounded to the storage dtype before p·v, as FlashAttention does (l is summed from the
//     fp32 p); expect ~1e-3 relative error in fp16, ~1e-2 in bf16.
//
//   f32: CUDA cores (TF32 is off unless asked for, DESIGN.md, so fp32 attention is true fp32). 32
//     queries × 32 keys a tile, 128 threads: scores as 2×4 micro-tiles per thread, a 4-thread softmax
//     per row, then p·v as 4×(d/16) micro-tiles. k and v share one buffer (k is dead once the scores
//     are written), so shared memory is (2·32·(d+1) + 32·33)·4 B = 37 KiB at d = 128. Rows padded to
//     odd strides keep the column reads conflict-free.
//
// Requirements: qkv and y 16-byte aligned (the arena aligns to 256 B) and not overlapping; d one of
// the supported head dims; 16-bit needs sm_80+. Launch on `stream`, no scratch.
//
// Bytes moved (the floor; attention is compute-bound at ViT sizes): reads 3·B·S·E·s once per query
// tile for k and v (⌈S/64⌉ or ⌈S/32⌉ times, mostly from L2) and once for q, writes B·S·E·s.
// FLOPs: 4·B·H·S²·d.
//
// Measured on an H200 (tests/gpu/test_kernels.cpp GpuKernels.DISABLED_Throughput, mean of 5):
//   B256 S197 H12 d64 (ViT-B/16, batch 256)  fp16/bf16 0.26 ms (116 TFLOP/s)   fp32 1.97 ms (15.5)
//   B64 S257 H16 d80                          fp16/bf16 0.18 ms (120 TFLOP/s)   fp32 1.34 ms (16.1)
//   B8 S2048 H32 d128                         fp16/bf16 2.5 ms  (220 TFLOP/s)   fp32 26.1 ms (21.1)
// At S = 197 the 64-key tiles cover 256 keys (59% useful work); FlashAttention-2/3-class kernels
// (warp-specialised, wgmma on sm_90) are the next step if attention shows up in a profile.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"

namespace vramfit::cuda::kernels {

struct AttentionDims {
  std::int64_t batch = 1, seq = 1, embed = 1, heads = 1;
  std::int64_t head_dim() const { return heads > 0 ? embed / heads : 0; }
};

// The "can it run here?" gate: nullopt when attention() runs this dtype and head dim on a GPU of
// compute capability `cc` (major·10 + minor), else the reason (for an Unsupported result).
std::optional<std::string> attention_unsupported(DType dtype, std::int64_t head_dim, int cc);

// Runs it; throws InvalidInput on bad extents or misaligned pointers, Unsupported where the gate
// says so (the device's compute capability is read from the current device).
void attention(DType dtype, const void* qkv, void* y, const AttentionDims& d, cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
