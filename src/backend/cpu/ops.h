// backend/cpu/ops.h — one reference function per graph op (graph.h's OpKind), on raw fp32 host
// memory with explicit shapes. These are the ground truth: the executor (executor.h) calls them node
// by node, and the GPU tests call them directly on the same host data to check each CUDA kernel.
//
// In:  contiguous fp32 arrays in the logical layouts of graph.h — NCHW for images, row-major
//      [rows, features] for linear layers, [B, S, E] for token sequences — and a shape struct or
//      explicit extents. Optional operands (bias, residual) are nullable pointers.
// Out: the result written to `y`, which must not alias any input (except where a function says so)
//      and is fully overwritten.
//
// Precision: inputs and outputs are fp32. Convolutions and linear layers accumulate in fp32 (blocked
// GEMM; error ~K·2⁻²⁴ relative); norms, pooling means, softmax and the transcendental activations
// are evaluated in double and rounded once. Results do not depend on the thread count: every output
// element is produced by one thread, with the same summation order whatever the split.
//
// Bad shapes (non-positive extents, groups not dividing channels, heads not dividing the embedding)
// throw InvalidInput naming the op and the offending extent.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "graph/graph.h"

namespace vramfit::cpu {

// ---- activations (graph.h Activation; shared by Conv2d, Add, Linear and the unary ops) ----

// GELU is the exact form x·Φ(x) = ½x(1 + erf(x/√2)) (Hendrycks & Gimpel 2016; torch.nn.GELU's default
// approximate='none'); SiLU is x·σ(x) (torch.nn.SiLU).
float apply_activation(float x, Activation act);
// y[i] = act(x[i]) for i < n; y may equal x (in place).
void activation(const float* x, float* y, std::int64_t n, Activation act);
void relu(const float* x, float* y, std::int64_t n);
void gelu(const float* x, float* y, std::int64_t n);
void silu(const float* x, float* y, std::int64_t n);

// ---- matrix product (the engine of conv2d and linear) ----

// A strided read-only matrix: element (r, c) is at p[r·row_stride + c·col_stride]. A row-major
// [R, C] array is {p, C, 1}; its transpose is {p, 1, C}.
struct MatrixView {
  const float* p = nullptr;
  std::int64_t row_stride = 0;
  std::int64_t col_stride = 1;
};

// C[m, n] = Σ_k A[m, k]·B[k, n] for m < M, n < N; C row-major with leading dimension ldc (≥ N).
// Cache-blocked (packed panels, register tiles), fp32 accumulation, threads over tiles of C.
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, MatrixView A, MatrixView B, float* C,
          std::int64_t ldc);
// Same on the calling thread only (for callers that parallelise an outer loop themselves).
void gemm_serial(std::int64_t M, std::int64_t N, std::int64_t K, MatrixView A, MatrixView B, float* C,
                 std::int64_t ldc);

// ---- Conv2d ----

// Extents of a 2-D convolution in torch.nn.Conv2d's terms (zero padding, floor output size:
// out = ⌊(in + 2·pad − dilation·(k − 1) − 1) / stride⌋ + 1).
struct Conv2dShape {
  std::int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  std::int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;

  std::int64_t out_h() const;
  std::int64_t out_w() const;
  // Throws InvalidInput unless every extent is positive, padding ≥ 0, groups divide both channel
  // counts and the output is at least 1×1.
  void validate() const;
};

// x [batch, in_channels, in_h, in_w]; w [out_channels, in_channels/groups, kernel_h, kernel_w]
// (torch's layout); bias [out_channels] or null; residual [batch, out_channels, out_h, out_w] or null;
// y like residual. y = act(conv(x, w) + bias + residual), added in that order.
// Implemented as im2col per image and group + gemm; 1×1/stride-1/unpadded convolutions read x
// directly.
void conv2d(const float* x, const float* w, const float* bias, const float* residual, float* y,
            const Conv2dShape& s, Activation act);

// ---- BatchNorm (inference form) ----

// x [batch, channels, inner…] with `inner` = the product of the extents after the channel dim;
// y = (x − mean[c]) / √(var[c] + eps) · gamma[c] + beta[c] (torch.nn.BatchNorm2d in eval mode).
void batch_norm(const float* x, const float* gamma, const float* beta, const float* mean,
                const float* var, float* y, std::int64_t batch, std::int64_t channels,
                std::int64_t inner, float eps);

// ---- pooling ----

struct Pool2dShape {
  std::int64_t batch = 1, channels = 1, in_h = 1, in_w = 1;
  std::int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0;

  std::int64_t out_h() const;  // floor mode (torch's ceil_mode=False)
  std::int64_t out_w() const;
  void validate() const;       // InvalidInput on non-positive extents or an empty output
};

// Padding counts as −∞ (torch.nn.MaxPool2d). x NCHW → y [batch, channels, out_h, out_w].
void max_pool2d(const float* x, float* y, const Pool2dShape& s);
// Padding counts as zeros and every window divides by kernel_h·kernel_w (torch.nn.AvgPool2d with
// count_include_pad=True; in floor mode no window reaches past the padded border).
void avg_pool2d(const float* x, float* y, const Pool2dShape& s);
// y[n, c] = mean over the plane of x[n, c, :, :]; `plane` = H·W. y holds batch·channels values.
void global_avg_pool(const float* x, float* y, std::int64_t batch, std::int64_t channels,
                     std::int64_t plane);

// ---- elementwise ----

// y = act(a + b) over n elements; y may equal a or b.
void add(const float* a, const float* b, float* y, std::int64_t n, Activation act);

// ---- Linear ----

// rows = the product of all extents of x but the last (torch's nn.Linear over [..., K]).
struct LinearShape {
  std::int64_t rows = 1, in_features = 1, out_features = 1;
  void validate() const;
};

// x [rows, in_features]; w [out_features, in_features] (torch's layout); bias [out_features] or
// null; residual [rows, out_features] or null; y = act(x·wᵀ + bias + residual) [rows, out_features].
void linear(const float* x, const float* w, const float* bias, const float* residual, float* y,
            const LinearShape& s, Activation act);

// ---- LayerNorm ----

// Over the last dim of x [rows, features]: y = (x − μ) / √(σ² + eps) · gamma + beta, σ² the biased
// variance (torch.nn.LayerNorm).
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, std::int64_t rows,
                std::int64_t features, float eps);

// ---- Attention ----

struct AttentionShape {
  std::int64_t batch = 1, seq = 1, embed = 1, heads = 1;
  std::int64_t head_dim() const { return embed / heads; }
  void validate() const;  // InvalidInput unless heads divides embed
};

// qkv [batch, seq, 3·embed]: q = [..., 0:E], k = [..., E:2E], v = [..., 2E:3E] (the packing of
// torch.nn.MultiheadAttention's in_proj). Head h uses the contiguous slice [h·d, (h+1)·d) of each,
// d = E/heads. y [batch, seq, embed] = heads concatenated, each softmax(q kᵀ / √d) v (Vaswani et al.
// 2017, eq. 1), the softmax shifted by its row maximum; scores, softmax and the weighted sum in double.
void attention(const float* qkv, float* y, const AttentionShape& s);

// ---- token ops (ViT) ----

// x [batch, seq, embed], cls [embed] → y [batch, seq + 1, embed], the class token first.
void concat_class_token(const float* x, const float* cls, float* y, std::int64_t batch, std::int64_t seq,
                        std::int64_t embed);
// y[b, s, e] = x[b, s, e] + pos[s, e]; pos [seq, embed] (the graph's [1, S, E]). y may equal x.
void add_positional(const float* x, const float* pos, float* y, std::int64_t batch, std::int64_t seq,
                    std::int64_t embed);
// x [batch, channels, h, w] → y [batch, h·w, channels]: torch's x.reshape(n, c, h·w).permute(0, 2, 1).
void patch_flatten(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t h,
                   std::int64_t w);
// x [batch, channels, h, w] → y [batch, (h/p)·(w/p), channels·p·p]: non-overlapping p×p patches as rows,
// each in (channel, row, column) order — torch's Conv2d weight [O, C, p, p] flattened to [O, C·p·p]
// applied to these rows is the p×p/p convolution (graph.h Patchify).
void patchify(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t h, std::int64_t w,
              std::int64_t patch);
// x [batch, …] → y [batch, numel/batch]: in logical (row-major) order a flatten is a copy of n values.
void flatten(const float* x, float* y, std::int64_t n);
// x [batch, seq, embed] → y [batch, embed] = x[:, index, :].
void take_token(const float* x, float* y, std::int64_t batch, std::int64_t seq, std::int64_t embed,
                std::int64_t index);

// ---- YOLO (graph.h Upsample, Concat, Slice, SpatialAttention, PoseDecode, Nms) ----

// x [batch, channels, h, w] → y [batch, channels, h·scale, w·scale], y[…, i, j] = x[…, ⌊i/scale⌋, ⌊j/scale⌋]
// (torch nn.Upsample(scale_factor=scale, mode="nearest")).
void upsample_nearest(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t h,
                      std::int64_t w, std::int64_t scale);
// xs[i] [batch, channels[i], plane] → y [batch, Σ channels, plane] (torch.cat(dim=1)); plane = H·W.
void concat_channels(std::span<const float* const> xs, std::span<const std::int64_t> channels, float* y,
                     std::int64_t batch, std::int64_t plane);
// x [batch, channels, plane] → y [batch, groups·(end − begin), plane]: the channels are `groups` equal blocks
// and channels [begin, end) of each are kept, blocks in order (graph.h Slice).
void slice_channels(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t plane,
                    std::int64_t begin, std::int64_t end, std::int64_t groups);

struct SpatialAttentionShape {
  std::int64_t batch = 1, heads = 1, key_dim = 1, head_dim = 1, positions = 1;  // positions = H·W
  float scale = 1.0f;
  std::int64_t qkv_channels() const { return heads * (2 * key_dim + head_dim); }
  void validate() const;
};
// qkv [batch, heads·(2k + d), positions]: head h owns channels [h·(2k+d), (h+1)·(2k+d)) = q (k) | key (k) |
// v (d). y [batch, heads·d, positions]: y[h·d + c, n] = Σ_m v[c, m]·softmax_m(scale·Σ_j q[j, n]·key[j, m])
// (Ultralytics Attention.forward: (v @ softmax((qᵀ @ k)·scale)ᵀ)). Scores, softmax and sums in double.
void spatial_attention(const float* qkv, float* y, const SpatialAttentionShape& s);

struct DetectLevel {
  std::int64_t h = 1, w = 1, stride = 1;
};
struct PoseDecodeShape {
  std::int64_t batch = 1, num_classes = 1, reg_max = 16, kpt_count = 17, kpt_dims = 3;
  std::vector<DetectLevel> levels;
  std::int64_t anchors() const;   // Σ h·w
  std::int64_t channels() const { return 4 + num_classes + kpt_count * kpt_dims; }
  void validate() const;
};
// Per level l: box[l] [batch, 4·reg_max, h, w], cls[l] [batch, nc, h, w], kpt[l] [batch, K·D, h, w] (kpt may
// be empty when kpt_count is 0); bins [reg_max] (the DFL weights, 0..reg_max−1 in Ultralytics).
// y [batch, 4 + nc + K·D, anchors], anchors level by level, row-major within a level. For the anchor at
// (x, y) of a level with stride s, centre (x + ½, y + ½) (make_anchors, offset 0.5):
//   DFL: side i ∈ {left, top, right, bottom}: d_i = Σ_j softmax_j(box[i·reg_max + j])·bins[j]
//   box: cx = (ax + (d2 − d0)/2)·s, cy = (ay + (d3 − d1)/2)·s, w = (d0 + d2)·s, h = (d1 + d3)·s
//        (dist2bbox with xywh, then × stride)
//   cls: sigmoid
//   kpt k: x = (kx·2 + x)·s, y = (ky·2 + y)·s, visibility sigmoid (Pose.kpts_decode: anchor − 0.5 = x)
// In double, rounded once (ultralytics/nn/modules/head.py Detect._inference, Pose.kpts_decode).
void pose_decode(std::span<const float* const> box, std::span<const float* const> cls,
                 std::span<const float* const> kpt, const float* bins, float* y, const PoseDecodeShape& s);

struct NmsParams {
  std::int64_t num_classes = 1;
  float conf_threshold = 0.25f;
  float iou_threshold = 0.7f;
  std::int64_t max_det = 300;
  bool agnostic = false;
};
// pred [batch, 4 + nc + E, anchors] (cx, cy, w, h, class scores, E extras — Pose: 51 keypoint values) →
// y [batch, max_det, 6 + E]: rows x1 y1 x2 y2 conf class extras for the kept boxes, highest conf first, the
// rest zero. Ultralytics non_max_suppression (ultralytics/utils/ops.py) with its single-label path:
// conf = max class score, class = its argmax (first on ties); candidates conf > conf_threshold; sorted by
// conf descending (ties: lower anchor first); greedy: keep the best, drop every later candidate of the
// same class (any class when agnostic) with IoU > iou_threshold (torchvision.ops.nms; IoU in fp32 as its
// CPU kernel: (x2−x1)·(y2−y1) areas, no +1); stop at max_det. Not reproduced: the max_nms = 30000 cap
// on candidates (an image at 640 has 8400 anchors) and the class offset max_wh·class added to boxes for
// per-class suppression (equivalent up to rounding for boxes inside 7680 px; exact with one class).
void nms(const float* pred, float* y, std::int64_t batch, std::int64_t channels, std::int64_t anchors,
         const NmsParams& p);

}  // namespace vramfit::cpu
