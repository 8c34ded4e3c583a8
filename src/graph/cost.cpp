#include "graph/cost.h"

#include "core/error.h"

namespace vramfit {

namespace {

std::uint64_t u64(std::int64_t x) {
  VRAMFIT_CHECK(x >= 0, "negative extent in a cost");
  return static_cast<std::uint64_t>(x);
}

std::uint64_t node_macs(const Graph& g, const Node& n) {
  const Shape& out = g.value(n.output).shape;
  switch (n.op) {
    case OpKind::Conv2d: {
      // Each output element is a dot product over (I/groups)·kh·kw inputs: the weight's
      // [O, I/groups, kh, kw] minus its first dim. N·O·OH·OW·(I/groups)·kh·kw in all.
      const Shape& w = g.value(n.inputs.at(1)).shape;
      return u64(out.numel()) * u64(w[1] * w[2] * w[3]);
    }
    case OpKind::Linear: {
      // rows·K·N: every output element is a length-K dot product.
      const Shape& x = g.value(n.inputs.at(0)).shape;
      return u64(out.numel()) * u64(x.back());
    }
    case OpKind::Attention: {
      // QKᵀ: per head S×S scores of length-d products, B·H·S·S·d = B·S·S·E; PV the same again.
      const std::uint64_t b = u64(out[0]), s = u64(out[1]), e = u64(out[2]);
      return 2 * b * s * s * e;
    }
    case OpKind::SpatialAttention: {
      // Per head qᵀk: S×S scores of length-k products; the weighted sum of v: S×S·d. B·h·S²·(k + d).
      const auto& a = n.attr<SpatialAttentionAttrs>();
      const std::uint64_t s = u64(out[2] * out[3]);
      return u64(out[0] * a.num_heads) * s * s * u64(a.key_dim + a.head_dim);
    }
    case OpKind::PoseDecode: {
      // The DFL expectation is a 1×1 convolution in Ultralytics (reg_max → 1 channel over 4·A positions),
      // counted as such: B·4·A·reg_max.
      const auto& a = n.attr<PoseDecodeAttrs>();
      return u64(out[0]) * 4 * u64(out[2]) * u64(a.reg_max);
    }
    default:
      return 0;
  }
}

}  // namespace

Cost node_cost(const Graph& g, const Node& n) {
  Cost c;
  c.macs = node_macs(g, n);
  c.flops = 2 * c.macs;
  if (is_view(g, n)) return c;  // no bytes move: the output is the input's storage re-described
  for (ValueId in : n.inputs) c.bytes_read += value_bytes(g.value(in));
  c.bytes_written = value_bytes(g.value(n.output));
  return c;
}

Cost graph_cost(const Graph& g) {
  Cost total;
  for (const Node& n : g.nodes()) total += node_cost(g, n);
  return total;
}

std::uint64_t parameter_count(const Graph& g) {
  std::uint64_t n = 0;
  for (const Value& v : g.values())
    if (v.kind == ValueKind::Param && v.trainable) n += u64(v.shape.numel());
  return n;
}

std::uint64_t weight_bytes(const Graph& g) {
  std::uint64_t n = 0;
  for (const Value& v : g.values())
    if (v.kind == ValueKind::Param) n += value_bytes(v);
  return n;
}

std::uint64_t aligned_weight_bytes(const Graph& g, std::uint64_t alignment) {
  std::uint64_t total = 0;
  for (ValueId p : g.params()) total += (value_bytes(g.value(p)) + alignment - 1) / alignment * alignment;
  return total;
}

}  // namespace vramfit
