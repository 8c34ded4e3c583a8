#include <gtest/gtest.h>

#include "core/bytes.h"
#include "core/error.h"

namespace vramfit {
namespace {

TEST(Bytes, BinaryAndDecimalUnits) {
  EXPECT_EQ(parse_bytes("8GiB"), 8ull << 30);
  EXPECT_EQ(parse_bytes("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_bytes("8GB"), 8000000000ull);
  EXPECT_EQ(parse_bytes("1.5GiB"), 3ull << 29);
  EXPECT_EQ(parse_bytes("4096"), 4096ull);
  EXPECT_EQ(parse_bytes("4096B"), 4096ull);
  EXPECT_EQ(parse_bytes("2KiB"), 2048ull);
  EXPECT_EQ(parse_bytes("2kB"), 2000ull);
  EXPECT_EQ(parse_bytes("1TiB"), 1ull << 40);
  EXPECT_EQ(parse_bytes("0.5KiB"), 512ull);
}

TEST(Bytes, RejectsMalformedWithTheFormsAccepted) {
  for (const char* bad : {"8GB?", "-1", "", "8 GiB", "GiB", "8gb", "1.", "0.3B", "8GiBs", "99999999999999999999",
                          "20000000TiB"}) {
    try {
      parse_bytes(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InvalidInput& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("'") + bad + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("GiB"), std::string::npos) << msg;
    }
  }
}

TEST(Bytes, ExactFormatRoundTrips) {
  for (std::uint64_t v : {1ull, 1000ull, 1024ull, 3ull << 29, 8ull << 30, 123456789ull, 7ull << 20}) {
    EXPECT_EQ(parse_bytes(format_bytes_exact(v)), v) << format_bytes_exact(v);
  }
  EXPECT_EQ(format_bytes_exact(8ull << 30), "8GiB");
  EXPECT_EQ(format_bytes(8ull << 30), "8.00 GiB");
  EXPECT_EQ(format_bytes(1536ull << 10), "1.5 MiB");
  EXPECT_EQ(format_bytes(17), "17 B");
}

}  // namespace
}  // namespace vramfit
