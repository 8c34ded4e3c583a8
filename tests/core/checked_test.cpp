// Checked size arithmetic (core/checked.h): exact where it fits, an InvalidInput naming the quantity
// where it would wrap; and parse_bytes's limits.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "core/bytes.h"
#include "core/checked.h"
#include "core/shape.h"

namespace vramfit {
namespace {

template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const InvalidInput& e) {
    return e.what();
  }
  ADD_FAILURE() << "nothing thrown";
  return {};
}

TEST(Checked, ExactWhereTheResultFits) {
  EXPECT_EQ(checked_mul<std::uint64_t>(1ull << 31, 1ull << 32, "x"), 1ull << 63);
  EXPECT_EQ(checked_mul<std::int64_t>(-(1ll << 31), 1ll << 32, "x"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(checked_add<std::uint64_t>(UINT64_MAX - 1, 1, "x"), UINT64_MAX);
  EXPECT_EQ(checked_mul<std::int64_t>(0, INT64_MAX, "x"), 0);
  EXPECT_EQ(checked_unsigned(42, "x"), 42u);
  EXPECT_EQ(checked_signed(static_cast<std::uint64_t>(INT64_MAX), "x"), INT64_MAX);
  EXPECT_EQ(check_range(7, 1, 7, "x"), 7);
}

TEST(Checked, OverflowIsAnInvalidInputNamingTheQuantity) {
  std::string m = error_of([] { checked_mul<std::uint64_t>(1ull << 32, 1ull << 32, "KV cache of context 4096"); });
  EXPECT_NE(m.find("KV cache of context 4096"), std::string::npos) << m;
  EXPECT_NE(m.find("4294967296 × 4294967296"), std::string::npos) << m;
  m = error_of([] { checked_mul<std::int64_t>(INT64_MAX, 2, "batch × bytes"); });
  EXPECT_NE(m.find("batch × bytes"), std::string::npos) << m;
  m = error_of([] { checked_add<std::uint64_t>(UINT64_MAX, 1, "memory total"); });
  EXPECT_NE(m.find("memory total"), std::string::npos) << m;
  EXPECT_THROW(checked_mul<std::int64_t>(INT64_MIN, -1, "x"), SizeOverflow);
  EXPECT_THROW(checked_unsigned(-1, "x"), InvalidInput);
  EXPECT_THROW(checked_signed(1ull << 63, "x"), SizeOverflow);
  m = error_of([] { check_range(0, 1, 10, "--batch"); });
  EXPECT_NE(m.find("--batch"), std::string::npos) << m;
  EXPECT_NE(m.find("between 1 and 10"), std::string::npos) << m;
  EXPECT_THROW(check_range(11, 1, 10, "x"), InvalidInput);
}

TEST(Checked, ShapeElementCountsDoNotWrap) {
  EXPECT_EQ((Shape{1ll << 31, 1ll << 31}.numel()), 1ll << 62);
  const std::string m = error_of([] { Shape{1ll << 40, 1ll << 40}.numel(); });
  EXPECT_NE(m.find("[1099511627776, 1099511627776]"), std::string::npos) << m;
  EXPECT_THROW((Shape{1, 1ll << 40, 1ll << 40}.numel_per_sample()), SizeOverflow);
}

TEST(Checked, SizesStopAtOneExbibyte) {
  EXPECT_EQ(parse_bytes("1048576TiB"), limits::kMaxBytes);
  for (const char* bad : {"1048577TiB", "99999999999999999999GiB", "18446744073709551615", "1048575.99TiB2", "inf", "nan",
                          "-8GiB", "+8GiB", ""})
    EXPECT_THROW(parse_bytes(bad), InvalidInput) << bad;
  // A fraction that carries the total over the limit.
  EXPECT_THROW(parse_bytes("1048576.5TiB"), InvalidInput);
}

}  // namespace
}  // namespace vramfit
