// Token plumbing (ViT): exact data movement checked element by element.
#include <gtest/gtest.h>

#include "backend/cpu/ops.h"
#include "core/error.h"
#include "test_support.h"

namespace vramfit::cpu {
namespace {

using test::expect_equal;
using test::random_vector;

TEST(Tokens, PatchFlattenIsReshapePermute) {
  // [1, 2, 2, 3] with x[c][h][w] = 100c + 10h + w → [1, 6, 2]: token p = h·3 + w holds (x[0][p], x[1][p]).
  std::vector<float> x;
  for (int c = 0; c < 2; ++c)
    for (int h = 0; h < 2; ++h)
      for (int w = 0; w < 3; ++w) x.push_back(static_cast<float>(100 * c + 10 * h + w));
  std::vector<float> y(12);
  patch_flatten(x.data(), y.data(), 1, 2, 2, 3);
  expect_equal(y, {0, 100, 1, 101, 2, 102, 10, 110, 11, 111, 12, 112}, "patch flatten");
}

TEST(Tokens, RandomOddSizes) {
  const std::int64_t B = 3, C = 13, H = 7, W = 9, S = H * W;
  const auto img = random_vector(B * C * H * W, 1);
  std::vector<float> tokens(static_cast<std::size_t>(B * S * C));
  patch_flatten(img.data(), tokens.data(), B, C, H, W);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t c = 0; c < C; ++c)
      for (std::int64_t p = 0; p < S; ++p)
        ASSERT_EQ(tokens[static_cast<std::size_t>((b * S + p) * C + c)], img[static_cast<std::size_t>((b * C + c) * S + p)]);

  const auto cls = random_vector(C, 2);
  std::vector<float> with_cls(static_cast<std::size_t>(B * (S + 1) * C));
  concat_class_token(tokens.data(), cls.data(), with_cls.data(), B, S, C);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t t = 0; t <= S; ++t)
      for (std::int64_t e = 0; e < C; ++e) {
        const float want = t == 0 ? cls[static_cast<std::size_t>(e)]
                                  : tokens[static_cast<std::size_t>((b * S + t - 1) * C + e)];
        ASSERT_EQ(with_cls[static_cast<std::size_t>((b * (S + 1) + t) * C + e)], want) << b << "," << t << "," << e;
      }

  const auto pos = random_vector((S + 1) * C, 3);
  std::vector<float> with_pos(with_cls.size());
  add_positional(with_cls.data(), pos.data(), with_pos.data(), B, S + 1, C);
  for (std::size_t i = 0; i < with_pos.size(); ++i)
    ASSERT_EQ(with_pos[i], with_cls[i] + pos[i % pos.size()]);
  add_positional(with_cls.data(), pos.data(), with_cls.data(), B, S + 1, C);  // in place
  expect_equal(with_cls, with_pos, "add positional in place");

  std::vector<float> taken(static_cast<std::size_t>(B * C));
  take_token(with_pos.data(), taken.data(), B, S + 1, C, 5);
  for (std::int64_t b = 0; b < B; ++b)
    for (std::int64_t e = 0; e < C; ++e)
      ASSERT_EQ(taken[static_cast<std::size_t>(b * C + e)], with_pos[static_cast<std::size_t>((b * (S + 1) + 5) * C + e)]);

  std::vector<float> flat(img.size());
  flatten(img.data(), flat.data(), static_cast<std::int64_t>(img.size()));
  expect_equal(flat, img, "flatten");
}

TEST(Tokens, TakeTokenOutOfRangeIsInvalidInput) {
  std::vector<float> buf(12, 1.0f);
  EXPECT_THROW(take_token(buf.data(), buf.data(), 1, 3, 4, 3), InvalidInput);
  EXPECT_THROW(take_token(buf.data(), buf.data(), 1, 3, 4, -1), InvalidInput);
}

}  // namespace
}  // namespace vramfit::cpu
