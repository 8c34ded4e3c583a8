// graph/capability.h — limits of the engine that shapes alone decide. A rule that a backend's "can it
// run here?" gate and predict's "what fits" must both apply lives here once, so that a prediction
// never promises what the backend then refuses.
//
// cuDNN's convolution limit: the legacy convolution API (cudnnSetTensor4dDescriptor,
// cudnnSetFilter4dDescriptor, cudnnSetConvolution2dDescriptor) takes int extents and strides, so every
// number that describes a convolution — each extent, stride, pad, dilation and the group count, and the
// element counts of x, y and w — must be at most 2^31 − 1. backend/cuda/cudnn_conv.cpp's gate makes a
// larger convolution Unsupported; predict/memory.cpp's engine_batch_limit keeps max batch below it.
//
// Example: resnet50's stem at batch b reads x [b, 3, 224, 224] (150,528 elements a sample) and writes
// y [b, 64, 112, 112] (802,816 a sample): conv_batch_limit gives ⌊(2^31 − 1) / 802,816⌋ = 2674.
#pragma once

#include <cstdint>

#include "graph/graph.h"

namespace vramfit {

inline constexpr std::int64_t kConvIndexMax = 2147483647;  // INT_MAX: cuDNN's legacy API indexes with int

// The numbers cuDNN is given for one 2-D convolution (x logical NCHW, w [K, C/groups, R, S]).
struct ConvGeometry {
  std::int64_t batch = 1, in_channels = 1, in_h = 1, in_w = 1;
  std::int64_t out_channels = 1, kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
  std::int64_t out_h = 1, out_w = 1;  // a negative extent (kernel larger than the input) counts as 0
};

// True when one of the numbers above, or x's, y's or w's element count, is over kConvIndexMax.
bool conv_exceeds_int_indexing(const ConvGeometry& c);

// The largest batch at which Conv2d node `n` keeps its input and output within kConvIndexMax elements
// (the weight does not grow with the batch); INT64_MAX for any other node.
std::int64_t conv_batch_limit(const Graph& g, const Node& n);

}  // namespace vramfit
