// graph/cost.h — what each node costs: multiply-accumulates, FLOPs (= 2·MACs, the convention of
// torchvision's and Ultralytics' published GFLOPs), and bytes read and written at the values' dtypes.
// MACs count convolutions, linear layers, the two attention matrix products (QKᵀ and PV, also of
// SpatialAttention) and the DFL expectation of PoseDecode (a 1×1 conv in Ultralytics); elementwise
// ops, norms, pooling, copies (Concat, Slice, Upsample) and NMS count 0 MACs but their bytes. Used by `vramfit models`
// (MACs at the default input) and by predict/ (roofline latency).
#pragma once

#include <cstdint>

#include "graph/graph.h"

namespace vramfit {

struct Cost {
  std::uint64_t macs = 0;
  std::uint64_t flops = 0;  // 2 · macs
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;

  Cost& operator+=(const Cost& o) {
    macs += o.macs; flops += o.flops; bytes_read += o.bytes_read; bytes_written += o.bytes_written;
    return *this;
  }
};

Cost node_cost(const Graph& g, const Node& n);
Cost graph_cost(const Graph& g);

// Trainable parameters (torch's sum(p.numel() for p in model.parameters())): BN running statistics
// are buffers and do not count.
std::uint64_t parameter_count(const Graph& g);
// Bytes of every parameter value at its dtype (what the weights occupy on the device).
std::uint64_t weight_bytes(const Graph& g);
// The same with each parameter rounded up to `alignment` bytes: what a backend's weights region holds
// when every tensor starts on an aligned address (the CUDA arena aligns to 256).
std::uint64_t aligned_weight_bytes(const Graph& g, std::uint64_t alignment);

}  // namespace vramfit
