// backend/cpu/backward.h — the reference of a training step (issue 20): one backward function per op
// the vision models use, the training-mode batch norm, the loss, and the two optimizers, on fp32 host
// memory in the layouts of ops.h. The ground truth the CUDA training kernels will be tested against,
// itself tested against finite differences (tests/backend_cpu/backward_test.cpp).
//
// Conventions: every backward takes the forward's inputs (and what the forward saved, where a training
// framework saves it: the batch statistics of batch norm) and dy, the gradient of the loss with respect
// to the forward's output, and WRITES (does not accumulate into) the gradients it is given pointers
// for; a null gradient pointer is not computed. Sums run in double and are rounded once; results do
// not depend on the thread count. Shapes are validated as in ops.h (InvalidInput naming the op).
#pragma once

#include <cstdint>

#include "backend/cpu/ops.h"

namespace vramfit::cpu {

// ---- activations: dx = dy · act'(x) ----
// ReLU' is 1 for x > 0, else 0 (torch's threshold_backward); GELU' = Φ(x) + x·φ(x) (the exact GELU);
// SiLU' = σ(x)·(1 + x·(1 − σ(x))). dx may equal dy.
void activation_backward(const float* x, const float* dy, float* dx, std::int64_t n, Activation act);

// ---- Linear: y = x·wᵀ + b ----
// dx [rows, in] = dy·w; dw [out, in] = dyᵀ·x; db [out] = Σ_rows dy.
void linear_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, const LinearShape& s);

// ---- Conv2d: y = conv(x, w) + b (no fused activation or residual: those are their own ops here) ----
// dx like x, dw like w, db [out_channels]. Direct loops in double: a reference, not fast.
void conv2d_backward(const float* x, const float* w, const float* dy, float* dx, float* dw, float* db, const Conv2dShape& s);

// ---- BatchNorm in training mode (torch.nn.BatchNorm2d.train()) ----
// Forward over x [batch, channels, inner]: per channel the batch mean and biased variance over
// batch·inner values, y = (x − mean)·invstd·gamma + beta with invstd = 1/√(var + eps); saves mean and
// invstd ([channels] each, for the backward); updates the running statistics as torch does:
// running = (1 − momentum)·running + momentum·stat, with the UNBIASED variance (n/(n−1)) for var.
// running_mean/running_var may be null (track_running_stats=False).
void batch_norm_train(const float* x, const float* gamma, const float* beta, float* y, float* save_mean, float* save_invstd,
                      float* running_mean, float* running_var, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                      float eps, float momentum);
// dx = gamma·invstd/n · (n·dy − Σdy − x̂·Σ(dy·x̂)), x̂ = (x − mean)·invstd, n = batch·inner;
// dgamma = Σ dy·x̂; dbeta = Σ dy (per channel).
void batch_norm_backward(const float* x, const float* gamma, const float* save_mean, const float* save_invstd, const float* dy,
                         float* dx, float* dgamma, float* dbeta, std::int64_t batch, std::int64_t channels, std::int64_t inner);

// ---- LayerNorm over the last dim ----
// dx = invstd/F · (F·g − Σg − x̂·Σ(g·x̂)) with g = dy·gamma; dgamma = Σ_rows dy·x̂; dbeta = Σ_rows dy.
void layer_norm_backward(const float* x, const float* gamma, const float* dy, float* dx, float* dgamma, float* dbeta,
                         std::int64_t rows, std::int64_t features, float eps);

// ---- pooling ----
// Max: dy goes to the window's maximum (the first in row-major window order on ties, as torch's CPU
// kernel records its index); average and global average spread dy evenly (count_include_pad=True).
void max_pool2d_backward(const float* x, const float* dy, float* dx, const Pool2dShape& s);
void avg_pool2d_backward(const float* dy, float* dx, const Pool2dShape& s);
void global_avg_pool_backward(const float* dy, float* dx, std::int64_t batch, std::int64_t channels, std::int64_t plane);

// ---- attention (ops.h attention: softmax(q kᵀ/√d) v per head, q|k|v packed in qkv) ----
// Recomputes P = softmax(S), S = q kᵀ/√d, then dv = Pᵀ dy, dP = dy vᵀ, dS = P ∘ (dP − rowsum(dP ∘ P)),
// dq = dS k/√d, dk = dSᵀ q/√d, written into dqkv [batch, seq, 3·embed] in the same packing.
void attention_backward(const float* qkv, const float* dy, float* dqkv, const AttentionShape& s);

// ---- the loss: softmax cross-entropy, mean over rows (torch.nn.CrossEntropyLoss) ----
// logits [rows, classes], labels [rows] in [0, classes). Returns the mean loss; dlogits (if not null)
// = (softmax(logits) − onehot(label)) / rows. InvalidInput for a label out of range.
double softmax_cross_entropy(const float* logits, const std::int64_t* labels, float* dlogits, std::int64_t rows,
                             std::int64_t classes);

// ---- optimizers, one pass over a parameter group of n values ----
// torch.optim.SGD (dampening 0, nesterov off): g' = g + weight_decay·w; buf = momentum·buf + g'
// (buf = g' at the first step); w −= lr·buf. `buf` holds the momentum buffer across steps.
void sgd_momentum_step(float* w, const float* g, float* buf, std::int64_t n, float lr, float momentum, float weight_decay,
                       bool first_step);
// torch.optim.AdamW (amsgrad off): w −= lr·weight_decay·w (decoupled); m = β1·m + (1−β1)·g;
// v = β2·v + (1−β2)·g²; w −= lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + eps). `step` = t ≥ 1.
void adamw_step(float* w, const float* g, float* m, float* v, std::int64_t n, float lr, float beta1, float beta2, float eps,
                float weight_decay, std::int64_t step);

}  // namespace vramfit::cpu
