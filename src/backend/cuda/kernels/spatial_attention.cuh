// backend/cuda/kernels/spatial_attention.cuh — Ultralytics' multi-head attention over the H·W
// positions of an image tensor (graph.h SpatialAttention; CPU reference backend/cpu/ops.h
// spatial_attention): qkv [B, h·(2k + d), H, W], per head channels q (k) | key (k) | v (d);
// y[b, head·d + c, n] = Σ_m v[c, m]·softmax_m(scale·q[:, n]·key[:, m]). NCHW or NHWC for both.
//
// Algorithm: FlashAttention's online softmax (Dao et al. 2022) on CUDA cores, fp32 throughout. A block
// of 64 threads owns 64 queries of one (image, head); each thread keeps its query's q and an fp32
// accumulator of d values in registers. Keys and values stream through shared memory in tiles of 64
// positions (fp32, [channel][position]); per key a thread forms the score, and when it raises the
// running maximum rescales its accumulator (rarely, after the first keys). y = acc / l.
// YOLO11's PSA blocks have key_dim 32 and head_dim 64 in every scale (head_dim = 64 by construction,
// C2PSA heads = c/64) and at most 20·20 = 400 positions at 640², so this is a small kernel: tensor
// cores would not pay. Templates: (k ≤ 32, d ≤ 64) and (k ≤ 64, d ≤ 128); larger is Unsupported
// (spatial_attention_unsupported is the gate). Shared memory (k + d)·64·4 bytes ≤ 48 KiB.
// FLOPs 2·B·h·S²·(k + d); bytes: qkv read once per query tile for keys and values (from L2), y once.
// Requirements: qkv and y do not overlap. Dtypes f32, f16, bf16 (fp32 math, one rounding on store).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "graph/graph.h"

namespace vramfit::cuda::kernels {

struct SpatialAttentionDims {
  std::int64_t batch = 1, heads = 1, key_dim = 1, head_dim = 1, positions = 1;
  float scale = 1.0f;
};

std::optional<std::string> spatial_attention_unsupported(DType dtype, std::int64_t key_dim, std::int64_t head_dim);

void spatial_attention(DType dtype, Layout layout, const void* qkv, void* y, const SpatialAttentionDims& d,
                       cudaStream_t stream);

}  // namespace vramfit::cuda::kernels
