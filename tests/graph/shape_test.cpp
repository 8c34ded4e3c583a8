// Shape inference of graph.h: output extents by the torch formulas (hand-computed here), and
// InvalidInput for shapes that cannot work.
#include <gtest/gtest.h>

#include "core/error.h"
#include "graph/graph.h"

namespace vramfit {
namespace {

Conv2dAttrs conv_attrs(std::int64_t o, std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw,
                       std::int64_t ph, std::int64_t pw, std::int64_t dh = 1, std::int64_t dw = 1,
                       std::int64_t groups = 1) {
  Conv2dAttrs a;
  a.out_channels = o;
  a.kernel_h = kh;
  a.kernel_w = kw;
  a.stride_h = sh;
  a.stride_w = sw;
  a.pad_h = ph;
  a.pad_w = pw;
  a.dilation_h = dh;
  a.dilation_w = dw;
  a.groups = groups;
  return a;
}

TEST(Shape, ConvOutputSizes) {
  Graph g("conv");
  // ResNet stem: (224 + 6 − 6 − 1)/2 + 1 = 112.
  const ValueId x = g.add_input("x", Shape{1, 3, 224, 224});
  EXPECT_EQ(g.value(g.add_conv2d("stem", x, conv_attrs(64, 7, 7, 2, 2, 3, 3))).shape, (Shape{1, 64, 112, 112}));
  // H: (19 + 2 − 2·2 − 1)/2 + 1 = 9; W: (23 + 4 − 1·4 − 1)/3 + 1 = 8 (22/3 floors to 7).
  const ValueId y = g.add_input("y", Shape{2, 6, 19, 23});
  const ValueId c = g.add_conv2d("odd", y, conv_attrs(9, 3, 5, 2, 3, 1, 2, 2, 1, 3));
  EXPECT_EQ(g.value(c).shape, (Shape{2, 9, 9, 8}));
  // The weight is [O, I/groups, kh, kw].
  EXPECT_EQ(g.value(*g.find_value("odd.weight")).shape, (Shape{9, 2, 3, 5}));
  EXPECT_FALSE(g.find_value("odd.bias").has_value());
  // Depthwise, dilation 3, no pad: (19 − 3·2 − 1)/1 + 1 = 13; (23 − 6 − 1) + 1 = 17.
  const ValueId d = g.add_conv2d("dw", y, conv_attrs(6, 3, 3, 1, 1, 0, 0, 3, 3, 6));
  EXPECT_EQ(g.value(d).shape, (Shape{2, 6, 13, 17}));
  g.validate();
}

TEST(Shape, PoolsAndTokens) {
  Graph g("misc");
  const ValueId x = g.add_input("x", Shape{3, 7, 113, 57});
  // (113 + 2 − 3)/2 + 1 = 57; (57 + 2 − 3)/2 + 1 = 29.
  const ValueId p = g.add_pool("mp", OpKind::MaxPool, x,
                               PoolAttrs{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1});
  EXPECT_EQ(g.value(p).shape, (Shape{3, 7, 57, 29}));
  EXPECT_EQ(g.value(g.add_global_avg_pool("gap", p)).shape, (Shape{3, 7, 1, 1}));
  EXPECT_EQ(g.value(g.add_flatten("flat", p)).shape, (Shape{3, 7 * 57 * 29}));
  const ValueId tokens = g.add_patch_flatten("pf", p);
  EXPECT_EQ(g.value(tokens).shape, (Shape{3, 57 * 29, 7}));
  const ValueId lin = g.add_linear("lin", tokens, 57);  // [B, S, 7] → [B, S, 57]: E = 57 = 3·19
  EXPECT_EQ(g.value(lin).shape, (Shape{3, 57 * 29, 57}));
  const ValueId att = g.add_attention("att", lin, 1);
  EXPECT_EQ(g.value(att).shape, (Shape{3, 57 * 29, 19}));
  const ValueId cls = g.add_param("cls", Shape{1, 1, 19}, ParamRole::ClassToken);
  const ValueId cat = g.add_concat_class_token("cat", att, cls);
  EXPECT_EQ(g.value(cat).shape, (Shape{3, 57 * 29 + 1, 19}));
  EXPECT_EQ(g.value(g.add_take_token("take", cat, 5)).shape, (Shape{3, 19}));
  g.validate();

  g.set_batch(11);
  EXPECT_EQ(g.value(cat).shape, (Shape{11, 57 * 29 + 1, 19}));
  EXPECT_EQ(g.batch(), 11);
  EXPECT_THROW(g.set_batch(0), InvalidInput);
}

TEST(Shape, BadShapesAreInvalidInput) {
  Graph g("bad");
  const ValueId x = g.add_input("x", Shape{2, 6, 9, 9});
  const ValueId flat = g.add_input("flat", Shape{2, 10});
  EXPECT_THROW(g.add_conv2d("rank", flat, conv_attrs(4, 3, 3, 1, 1, 0, 0)), InvalidInput);
  EXPECT_THROW(g.add_conv2d("groups", x, conv_attrs(8, 3, 3, 1, 1, 0, 0, 1, 1, 4)), InvalidInput);  // 6 % 4
  EXPECT_THROW(g.add_conv2d("too_big", x, conv_attrs(4, 11, 11, 1, 1, 0, 0)), InvalidInput);
  EXPECT_THROW(g.add_conv2d("dilated", x, conv_attrs(4, 3, 3, 1, 1, 0, 0, 5, 5)), InvalidInput);  // span 11 > 9
  EXPECT_THROW(g.add_add("add", x, g.add_input("z", Shape{2, 6, 9, 8})), InvalidInput);
  const ValueId w = g.add_param("w", Shape{4, 9}, ParamRole::Weight);
  EXPECT_THROW(g.add_linear_with("lin", flat, w, std::nullopt), InvalidInput);  // K 10 vs 9
  const ValueId seq = g.add_input("seq", Shape{2, 5, 21});
  EXPECT_THROW(g.add_attention("att", seq, 2), InvalidInput);  // E = 7 not divisible by 2 heads
  EXPECT_THROW(g.add_take_token("take", seq, 5), InvalidInput);
  const ValueId pos = g.add_param("pos", Shape{1, 4, 21}, ParamRole::PosEmbedding);
  EXPECT_THROW(g.add_positional("pos_add", seq, pos), InvalidInput);
  // A failed call adds no node.
  g.validate();
  EXPECT_TRUE(g.nodes().empty());
}

}  // namespace
}  // namespace vramfit
