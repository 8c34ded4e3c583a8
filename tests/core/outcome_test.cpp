// core/outcome.h: the one result vocabulary and its JSON spelling.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/outcome.h"

#include <nlohmann/json.hpp>

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

TEST(Outcome, TheExceptionBeingHandledBecomesAStatus) {
  auto status_of = [](auto thrower) {
    try {
      thrower();
    } catch (...) {
      return status_of_current_exception();
    }
    return Status{};
  };
  EXPECT_EQ(status_of([] { throw OutOfMemory("arena needs 9 GiB"); }).outcome, Outcome::oom);
  EXPECT_EQ(status_of([] { throw OutOfMemory("arena needs 9 GiB"); }).reason, "arena needs 9 GiB");
  EXPECT_EQ(status_of([] { throw Unsupported("bf16 before sm_80"); }).outcome, Outcome::unsupported);
  EXPECT_EQ(status_of([] { throw CudaFatal("illegal address"); }).outcome, Outcome::error);
  EXPECT_EQ(status_of([] { throw std::runtime_error("plain"); }).outcome, Outcome::error);
  EXPECT_EQ(status_of([] { throw 42; }).outcome, Outcome::error);
}

TEST(Outcome, JsonIsTheSpellingNeverTheNumber) {
  nlohmann::json j{{"status", Outcome::unsupported}};
  EXPECT_EQ(j.dump(), R"({"status":"unsupported"})");
  EXPECT_EQ(j["status"].get<Outcome>(), Outcome::unsupported);
  EXPECT_THROW(nlohmann::json("fine").get<Outcome>(), InvalidInput);
  EXPECT_THROW(nlohmann::json(1).get<Outcome>(), InvalidInput);
}
