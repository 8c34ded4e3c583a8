// core/text.h: the one copy of each size, count and list format the printers share.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "core/text.h"

using namespace vramfit;

TEST(Text, SizesCarryTheirUnit) {
  EXPECT_EQ(mib_text(3u << 20), "3.0 MiB");
  EXPECT_EQ(mib_number((3u << 20) + (1u << 19)), "3.5");
  EXPECT_EQ(gib_text(8ull << 30), "8.00 GiB");
  EXPECT_EQ(kib_text(512 * 1024), "512.0 KiB");
}

TEST(Text, ThousandsSeparatesEveryThreeDigits) {
  EXPECT_EQ(thousands(0), "0");
  EXPECT_EQ(thousands(999), "999");
  EXPECT_EQ(thousands(3646), "3,646");
  EXPECT_EQ(thousands(1048576), "1,048,576");
  EXPECT_EQ(thousands(-1024), "-1,024");
  EXPECT_EQ(thousands(std::numeric_limits<std::int64_t>::min()), "-9,223,372,036,854,775,808");
}

TEST(Text, JoinPutsTheSeparatorBetweenItems) {
  EXPECT_EQ(join({}, ", "), "");
  EXPECT_EQ(join({"a"}, ", "), "a");
  EXPECT_EQ(join({"a", "b", "c"}, " + "), "a + b + c");
}
