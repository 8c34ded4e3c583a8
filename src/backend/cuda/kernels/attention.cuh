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
//     shared memory; k's B-fragments come from ldmatrix.x4 (two 8-key sub-tiles' per instruction) and
//     v's from ldmatrix.x4.trans. The last key tile runs a body compiled for just its 16-key groups
//     that hold a valid key (at S = 197: 16 of 64), the only one that masks; full tiles do not mask.
//     Blocks are numbered (b·h, query tile) with the query tile fastest, so the ⌈S/64⌉ blocks sharing
//     one head's k and v run together and all but the first read them from L2. k and v tiles are
//     double-buffered and copied with cp.async (zero-filled past S), so tile kt+1 streams in while
//     tile kt is computed.
//     Shared memory rows are padded by 8 elements (16 B), which makes both the 4-byte fragment loads
//     and ldmatrix conflict-free for d = 64, 80, 128. Shared memory (dynamic): 4·64·(d+8)·2 B = 36 KiB
//     at d = 64, 44 KiB at 80, 68 KiB at 128 (opted in above 48 KiB); q's tile is staged in a k buffer
//     before the loop and the output tile after it, for 16-byte global stores. Warps whose 16 query
//     rows all lie past S skip the math. Registers (ptxas, sm_90): 128 at d = 64 (4 blocks/SM),
//     167 at 80 (3), 198 at 128 (2); no spills.
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
// Bytes moved: q once, k and v once per query tile (⌈S/64⌉ or ⌈S/32⌉ times; from L2 after the
// first for the 16-bit kernel), y once. FLOPs: 4·B·H·S²·d.
//
// The floor, ViT-B/16 at batch 256 (B 256, S 197, H 12, d 64, one layer), on an H200:
//   FLOPs 4·B·H·S²·d = 30.5 GFLOP → 0.031 ms at the 989 TFLOP/s dense fp16/bf16 tensor peak (a
//     wgmma figure; mma.sync, which this kernel uses, cannot issue at that rate on sm_90);
//   exp2 B·H·S² = 119 M → 0.029 ms at 16 MUFU ops/clk/SM × 132 SMs × 1.98 GHz;
//   bytes: qkv read once 3·B·S·E·2 = 232 MB, y written 77 MB → 310 MB → 0.065 ms at 4.8 TB/s.
// So the floor is ≈ 0.065 ms a layer (memory: 98 FLOP/B is under the H200's 206 FLOP/B ridge), about
// 0.8 ms over ViT-B/16's 12 layers. Tile padding adds work on top: 64-key tiles cover 256 keys for
// S = 197 (1.30×) before the tail trimming (208 keys: 1.06×), 64-query tiles 208 active rows (1.06×).
//
// Measured on an H200 (tests/gpu/test_kernels.cpp GpuKernels.DISABLED_Throughput, mean of 5), before
// the ldmatrix k fragments, the tail-tile trimming and the (b·h, query tile) block order:
//   B256 S197 H12 d64 (ViT-B/16, batch 256)  fp16/bf16 0.26 ms (116 TFLOP/s)   fp32 1.97 ms (15.5)
//   B64 S257 H16 d80                          fp16/bf16 0.18 ms (120 TFLOP/s)   fp32 1.34 ms (16.1)
//   B8 S2048 H32 d128                         fp16/bf16 2.5 ms  (220 TFLOP/s)   fp32 26.1 ms (21.1)
// (the ViT-B/16 figure is ≈ 4× the memory floor above). Next steps if attention still shows up in a
// profile: 128-query tiles with 8 warps (half the k/v tile traffic per query), and FlashAttention-3-
// class kernels (warp-specialised, wgmma/TMA on sm_90). The executor also times cuDNN's fused SDPA
// (cudnn_sdpa.h) per shape and keeps the faster (attention_runner.h).
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
