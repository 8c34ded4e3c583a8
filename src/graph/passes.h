// graph/passes.h — rewrites that turn a builder's training-shaped graph into what we execute.
//
// Order (optimize_for_inference runs them so):
//   1. fold_batchnorm      Conv → BatchNorm becomes Conv with bias, when the BN is the conv's only
//                          reader and no tensor involved is shared; with weights bound, the folded
//                          weight w·γ/√(σ²+ε) and bias (b − μ)·γ/√(σ²+ε) + β (b = 0 without a conv
//                          bias) are computed into the map: BN tensors removed, the conv's weight
//                          replaced, the bias written under its name — "<conv name>.bias", a new
//                          trainable Bias parameter, when the conv had none. A missing tensor is
//                          InvalidInput, thrown before graph or map change. Without weights the
//                          rewrite is structural (what `plan` needs).
//                          The conv's output value keeps the conv's name and takes the BN's place.
//   2. fuse_residual_add   Conv/Linear → Add(·, other) becomes Conv/Linear with a residual input, when
//                          the producer's only consumer is the Add, it has no activation or residual
//                          yet, and `other` is computed before the producer runs (else the other
//                          operand's producer is tried). The fused node keeps its slot, its output
//                          replaces the Add's, and the Add's activation moves to it. In ResNet's
//                          projection blocks this picks the downsample conv (it runs after the branch).
//   3. fuse_activations    Conv/Linear/Add → Relu/Gelu/Silu becomes the producer's `act`, when the
//                          producer has no activation and the activation is its only consumer.
//   4. assign_precision    dtypes for activations and parameters (core/dtype.h weight_dtype,
//                          activation_dtype); precisions the vision engine cannot represent throw
//                          Unsupported naming the precision.
//   5. assign_layout       4-D activations become NHWC when activations are 16-bit (tensor cores
//                          want channels last); PatchFlatten of an NHWC tensor is then a view. The 4-D
//                          graph input is NHWC too (the runtime writes the user's NCHW batch so), so
//                          the first convolution reads channels-last like the others; 32-bit stays NCHW.
//
// Each pass leaves a valid graph (Graph::validate) with ids renumbered; an unsupported precision
// throws from optimize_for_inference before anything (graph or weight map) is modified.
#pragma once

#include "core/dtype.h"
#include "core/tensor_map.h"
#include "graph/graph.h"

namespace vramfit {

void fold_batchnorm(Graph& g, TensorMap* weights);
void fuse_residual_add(Graph& g);
void fuse_activations(Graph& g);
// A convolution whose kernel equals its stride (no padding, dilation or groups), read only by a
// PatchFlatten — ViT's patch embedding — becomes Patchify + Linear: the same MACs as one large GEMM on
// cuBLASLt instead of a strided convolution (cuDNN ran ViT-B/16's 16×16/16 conv_proj at batch 256 in
// 2.8 ms on an H200, ~60 GFLOP). The weight keeps its bytes: OIHW flattened row-major is [O, C·p·p],
// the Linear's layout, so only the parameter's shape changes.
void patchify_convolutions(Graph& g);
void assign_precision(Graph& g, Precision p);
// channels_last_fp32: NHWC for fp32 activations too (TF32 tensor-core convolutions want channels
// last as 16-bit ones do; strict fp32 stays NCHW, where cuDNN's FMA kernels are as fast).
void assign_layout(Graph& g, bool channels_last_fp32 = false);

// All of the above, in order. `weights` may be null (structure only).
void optimize_for_inference(Graph& g, Precision p, TensorMap* weights, bool channels_last_fp32 = false);

}  // namespace vramfit
