// cost.h on hand-computed examples: MACs per op kind, bytes at the values' dtypes, views free,
// trainable parameter counting apart from stored weight bytes.
#include <gtest/gtest.h>

#include "graph/cost.h"
#include "graph/passes.h"

namespace vramfit {
namespace {

TEST(Cost, GroupedStridedConv) {
  Graph g("conv");
  const ValueId x = g.add_input("x", Shape{2, 6, 11, 9});
  Conv2dAttrs a;
  a.out_channels = 9;
  a.kernel_h = a.kernel_w = 3;
  a.stride_h = a.stride_w = 2;
  a.pad_h = a.pad_w = 1;
  a.groups = 3;
  a.has_bias = true;
  const ValueId y = g.add_conv2d("c", x, a);
  ASSERT_EQ(g.value(y).shape, (Shape{2, 9, 6, 5}));
  const Cost c = node_cost(g, g.nodes()[0]);
  // N·O·OH·OW·(I/groups)·kh·kw = 2·9·6·5 · 2·3·3 = 540 · 18.
  EXPECT_EQ(c.macs, 9720u);
  EXPECT_EQ(c.flops, 19440u);
  // fp32: input 1188 elements, weight 9·2·3·3 = 162, bias 9; output 540.
  EXPECT_EQ(c.bytes_read, 4u * (1188 + 162 + 9));
  EXPECT_EQ(c.bytes_written, 4u * 540);
}

TEST(Cost, LinearOnTokensAndAttention) {
  Graph g("tokens");
  const ValueId x = g.add_input("x", Shape{3, 7, 19});
  const ValueId qkv = g.add_linear("qkv", x, 39, /*bias=*/false);  // rows 21, K 19, N 39
  const ValueId att = g.add_attention("att", qkv, 13);              // E = 13, 13 heads of 1
  g.mark_output(att);
  const Cost l = node_cost(g, g.nodes()[0]);
  EXPECT_EQ(l.macs, 21u * 19 * 39);
  EXPECT_EQ(l.bytes_read, 4u * (3 * 7 * 19 + 39 * 19));
  EXPECT_EQ(l.bytes_written, 4u * 3 * 7 * 39);
  // QKᵀ and PV, each B·S·S·E = 3·7·7·13; heads do not change the count.
  const Cost at = node_cost(g, g.nodes()[1]);
  EXPECT_EQ(at.macs, 2u * 3 * 7 * 7 * 13);
  EXPECT_EQ(at.bytes_written, 4u * 3 * 7 * 13);
  const Cost total = graph_cost(g);
  EXPECT_EQ(total.macs, l.macs + at.macs);
  EXPECT_EQ(total.bytes_read, l.bytes_read + at.bytes_read);
}

TEST(Cost, ElementwiseAndViews) {
  Graph g("ew");
  const ValueId x = g.add_input("x", Shape{5, 7, 3, 3});
  const ValueId r = g.add_unary("relu", OpKind::Relu, x);
  const ValueId f = g.add_flatten("flat", r);
  const ValueId s = g.add_add("add", f, f);
  g.mark_output(s);
  const Cost relu = node_cost(g, g.nodes()[0]);
  EXPECT_EQ(relu.macs, 0u);
  EXPECT_EQ(relu.bytes_read, 4u * 315);
  EXPECT_EQ(relu.bytes_written, 4u * 315);
  const Cost view = node_cost(g, g.nodes()[1]);  // NCHW flatten: the same bytes re-described
  EXPECT_EQ(view.bytes_read + view.bytes_written + view.macs, 0u);
  const Cost add = node_cost(g, g.nodes()[2]);
  EXPECT_EQ(add.bytes_read, 2u * 4 * 315);
  // NHWC (16-bit) tensors with spatial extent: flattening to torch's NCHW order moves data.
  assign_precision(g, Precision::fp16);
  assign_layout(g);
  const Cost moved = node_cost(g, g.nodes()[1]);
  EXPECT_EQ(moved.bytes_read, 2u * 315);
  EXPECT_EQ(moved.bytes_written, 2u * 315);
}

TEST(Cost, TrainableParametersAndWeightBytes) {
  Graph g("params");
  const ValueId x = g.add_input("x", Shape{1, 5, 8, 8});
  Conv2dAttrs a;
  a.out_channels = 7;
  a.kernel_h = a.kernel_w = 3;
  const ValueId c = g.add_conv2d("conv", x, a);                 // 7·5·3·3 = 315, no bias
  const ValueId b = g.add_batchnorm("bn", c);                   // γ, β trainable; μ, σ² buffers
  const ValueId l = g.add_linear("fc", g.add_flatten("flat", b), 19);  // 19·(7·6·6) + 19
  g.mark_output(l);
  const std::uint64_t fc = 19 * 252 + 19;
  EXPECT_EQ(parameter_count(g), 315u + 2 * 7 + fc);
  EXPECT_EQ(weight_bytes(g), 4u * (315 + 4 * 7 + fc));
  assign_precision(g, Precision::bf16);
  EXPECT_EQ(weight_bytes(g), 2u * (315 + 4 * 7 + fc));
  EXPECT_EQ(parameter_count(g), 315u + 2 * 7 + fc);  // counting does not depend on dtype
}

}  // namespace
}  // namespace vramfit
