#include "topupd/core/time.hpp"

#include <gtest/gtest.h>

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(parse_duration("500ms").value, Duration(500ms));
  EXPECT_EQ(parse_duration("30s").value, Duration(30s));
  EXPECT_EQ(parse_duration("15m").value, Duration(15min));
  EXPECT_EQ(parse_duration("2h").value, Duration(2h));
  EXPECT_EQ(parse_duration("1d").value, Duration(24h));
  EXPECT_EQ(parse_duration("1h30m").value, Duration(90min));
  EXPECT_EQ(parse_duration("0s").value, Duration(0));
}

TEST(DurationTest, RejectsMissingOrUnknownUnitsAndSigns) {
  for (const char* text : {"", "30", "5x", "-5s", "s", "1.5h", "1 h", "5sec"}) {
    SCOPED_TRACE(text);
    auto parsed = parse_duration(text);
    EXPECT_FALSE(parsed.value);
    EXPECT_FALSE(parsed.error.empty());
  }
  EXPECT_NE(parse_duration("30").error.find("needs a unit"), std::string::npos);
}

TEST(DurationTest, RejectsOverflow) {
  EXPECT_NE(parse_duration("99999999999999999999d").error.find("too large"), std::string::npos);
  EXPECT_NE(parse_duration("999999999999999d").error.find("too large"), std::string::npos);
}

TEST(DurationTest, FormatsShortestExactForm) {
  EXPECT_EQ(format_duration(Duration(90min)), "1h30m");
  EXPECT_EQ(format_duration(Duration(1500ms)), "1s500ms");
  EXPECT_EQ(format_duration(Duration(0)), "0s");
  EXPECT_EQ(format_duration(Duration(48h)), "2d");
  for (const char* text : {"1d2h3m4s5ms", "45s", "250ms"}) {
    EXPECT_EQ(format_duration(*parse_duration(text).value), text);
  }
}

TEST(TimestampTest, FormatsRfc3339InUtc) {
  const Timestamp at{std::chrono::milliseconds(1'795'585'979'594)};
  EXPECT_EQ(format_rfc3339(at), "2026-11-25T05:52:59.594Z");
  EXPECT_EQ(format_rfc3339(Timestamp{}), "1970-01-01T00:00:00.000Z");
}

TEST(WallClockStepTest, SeesAStepEitherWayAndNotTheClocksAgreeing) {
  const Timestamp wall{std::chrono::milliseconds(1'795'585'979'594)};
  const MonotonicTime steady{std::chrono::seconds(1000)};
  // A second later by both clocks, or a late reading of both: no step.
  EXPECT_FALSE(wall_clock_step(wall, steady, wall + 1s, steady + 1s, 5s));
  EXPECT_FALSE(wall_clock_step(wall, steady, wall + 40s, steady + 40s, 5s));
  // Within the tolerance (NTP slewing): no step.
  EXPECT_FALSE(wall_clock_step(wall, steady, wall + 5s, steady + 1s, 5s));
  // Three hours forwards, two backwards.
  EXPECT_EQ(wall_clock_step(wall, steady, wall + 3h + 1s, steady + 1s, 5s), Duration(3h));
  EXPECT_EQ(wall_clock_step(wall, steady, wall - 2h + 1s, steady + 1s, 5s), Duration(-2h));
}

}  // namespace
}  // namespace topupd::core
