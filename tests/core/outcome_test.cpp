// core/outcome.h: the one result vocabulary and its JSON spelling.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/outcome.h"

using namespace vramfit;

TEST(Outcome, SpellingRoundTripsAndUnknownWordsAreRefused) {
  for (Outcome o : {Outcome::ok, Outcome::oom, Outcome::unsupported, Outcome::error, Outcome::limit}) {
    const auto back = parse_outcome(to_string(o));
    ASSERT_TRUE(back.has_value()) << to_string(o);
    EXPECT_EQ(*back, o);
  }
  EXPECT_EQ(to_string(Outcome::oom), "oom");
  EXPECT_FALSE(parse_outcome("OK").has_value());
  EXPECT_FALSE(parse_outcome("").has_value());
  EXPECT_FALSE(parse_outcome("❌").has_value());
}

TEST(Outcome, ErrorKindsMapToOutcomes) {
  EXPECT_EQ(outcome_of(ErrorKind::OutOfMemory), Outcome::oom);
  EXPECT_EQ(outcome_of(ErrorKind::Unsupported), Outcome::unsupported);
  EXPECT_EQ(outcome_of(ErrorKind::CudaFatal), Outcome::error);
  EXPECT_EQ(outcome_of(ErrorKind::InvalidInput), Outcome::error);
  const Status s{Outcome::oom, "needs 9 GiB"};
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(Status{}.ok());
}
