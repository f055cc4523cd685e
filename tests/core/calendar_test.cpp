// Time zones and cron schedules, against the system's tz database.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "topupd/core/cron.hpp"
#include "topupd/core/timezone.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

TimeZone system_zone(const std::string& name) {
  std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  std::string error;
  auto zone = TimeZone::from_tzif(name, data.str(), &error);
  EXPECT_TRUE(zone) << name << ": " << error;
  return zone ? *zone : TimeZone::utc();
}

Timestamp utc(int y, unsigned m, unsigned d, int hh, int mm) {
  return Timestamp(sys_days(year(y) / month(m) / day(d)) + hours(hh) + minutes(mm));
}

TEST(TimeZoneTest, JakartaIsSevenHoursAheadAllYear) {
  const TimeZone jakarta = system_zone("Asia/Jakarta");
  EXPECT_EQ(jakarta.offset_at(utc(2026, 1, 15, 0, 0)), 7h);
  EXPECT_EQ(jakarta.offset_at(utc(2026, 7, 15, 0, 0)), 7h);
  EXPECT_EQ(jakarta.offset_at(utc(2045, 7, 15, 0, 0)), 7h);  // past the data: the footer rule
  // 23:30 UTC on the 24th is already the 25th in Jakarta.
  EXPECT_EQ(jakarta.local_day(utc(2026, 11, 24, 23, 30)), sys_days(2026y / November / 25));
}

TEST(TimeZoneTest, BerlinSwitchesOnTheLastSundays) {
  const TimeZone berlin = system_zone("Europe/Berlin");
  // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
  EXPECT_EQ(berlin.offset_at(utc(2026, 3, 29, 0, 59)), 1h);
  EXPECT_EQ(berlin.offset_at(utc(2026, 3, 29, 1, 0)), 2h);
  EXPECT_EQ(berlin.offset_at(utc(2026, 10, 25, 0, 59)), 2h);
  EXPECT_EQ(berlin.offset_at(utc(2026, 10, 25, 1, 0)), 1h);
  // 2050 is past the file's transitions: the POSIX footer rule carries on.
  EXPECT_EQ(berlin.offset_at(utc(2050, 3, 27, 0, 59)), 1h);
  EXPECT_EQ(berlin.offset_at(utc(2050, 3, 27, 1, 0)), 2h);
  EXPECT_EQ(berlin.offset_at(utc(2050, 10, 30, 1, 0)), 1h);
}

TEST(TimeZoneTest, LocalTimesInAGapMoveForwardAndOverlapsTakeTheFirst) {
  const TimeZone berlin = system_zone("Europe/Berlin");
  // 02:30 on 29 March 2026 does not exist: it is read as 03:30 CEST = 01:30 UTC.
  EXPECT_EQ(berlin.from_local({sys_days(2026y / March / 29), 2, 30}), utc(2026, 3, 29, 1, 30));
  // 02:30 on 25 October 2026 happens twice: the first is 00:30 UTC (CEST).
  EXPECT_EQ(berlin.from_local({sys_days(2026y / October / 25), 2, 30}), utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(berlin.from_local({sys_days(2026y / July / 1), 9, 0}), utc(2026, 7, 1, 7, 0));
}

TEST(TimeZoneTest, RejectsDataThatIsNotTzif) {
  std::string error;
  EXPECT_FALSE(TimeZone::from_tzif("x", "not a zone file", &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(TimeZone::from_tzif("x", std::string("TZif2") + std::string(60, '\0')));
}

TEST(TimeZoneTest, ParsesPosixRules) {
  auto berlin = parse_posix_rule("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(berlin);
  EXPECT_EQ(berlin->standard_offset, 3600);
  EXPECT_EQ(*berlin->dst_offset, 7200);
  EXPECT_EQ(berlin->dst_end.time, 3 * 3600);
  auto jakarta = parse_posix_rule("WIB-7");
  ASSERT_TRUE(jakarta);
  EXPECT_EQ(jakarta->standard_offset, 7 * 3600);
  EXPECT_FALSE(jakarta->dst_offset);
  EXPECT_TRUE(parse_posix_rule("<+0530>-5:30"));
  EXPECT_FALSE(parse_posix_rule("CET-1CEST,J60,J300"));
  EXPECT_FALSE(parse_posix_rule("CET-1CEST,M3.5.0,M1000000000000.5.0/2"));  // found by fuzzing: no overflow
  EXPECT_FALSE(parse_posix_rule(""));
}

TEST(CronTest, ParsesFieldsRangesStepsListsAndNames) {
  auto cron = parse_cron("*/15 9-17 1,15 jan-mar mon-fri");
  ASSERT_TRUE(cron.value) << cron.error;
  EXPECT_EQ(cron.value->minutes.count(), 4u);
  EXPECT_TRUE(cron.value->minutes.test(45));
  EXPECT_EQ(cron.value->hours.count(), 9u);
  EXPECT_TRUE(cron.value->days_of_month.test(15));
  EXPECT_TRUE(cron.value->months.test(3));
  EXPECT_FALSE(cron.value->months.test(4));
  EXPECT_EQ(cron.value->weekdays.count(), 5u);
  EXPECT_TRUE(parse_cron("0 0 * * 7").value->weekdays.test(0));  // 7 is Sunday too
}

TEST(CronTest, RejectsBadFieldsNamingThem) {
  EXPECT_NE(parse_cron("0 9 * *").error.find("five"), std::string::npos);
  EXPECT_NE(parse_cron("60 9 * * *").error.find("minute"), std::string::npos);
  EXPECT_NE(parse_cron("0 24 * * *").error.find("hour"), std::string::npos);
  EXPECT_NE(parse_cron("0 9 0 * *").error.find("day-of-month"), std::string::npos);
  EXPECT_NE(parse_cron("0 9 * 13 *").error.find("month"), std::string::npos);
  EXPECT_NE(parse_cron("0 9 * * 8").error.find("day-of-week"), std::string::npos);
  EXPECT_NE(parse_cron("*/0 9 * * *").error.find("step"), std::string::npos);
  EXPECT_NE(parse_cron("0 9,,10 * * *").error.find("empty"), std::string::npos);
  EXPECT_NE(parse_cron("0 17-9 * * *").error.find("outside"), std::string::npos);
}

TEST(CronTest, NextDueInJakarta) {
  const TimeZone jakarta = system_zone("Asia/Jakarta");
  const auto nine = parse_cron("0 9 * * *").value;
  // 09:00 WIB is 02:00 UTC.
  EXPECT_EQ(next_due(*nine, jakarta, utc(2026, 11, 25, 1, 59)), utc(2026, 11, 25, 2, 0));
  EXPECT_EQ(next_due(*nine, jakarta, utc(2026, 11, 25, 2, 0)), utc(2026, 11, 26, 2, 0));  // strictly after
}

TEST(CronTest, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  const auto cron = parse_cron("0 0 13 * fri").value;  // the 13th, and every Friday
  const TimeZone zone = TimeZone::utc();
  // 2026-11-25 is a Wednesday: next is Friday the 27th, then Sunday 13 December.
  EXPECT_EQ(next_due(*cron, zone, utc(2026, 11, 25, 12, 0)), utc(2026, 11, 27, 0, 0));
  EXPECT_EQ(next_due(*cron, zone, utc(2026, 12, 12, 0, 0)), utc(2026, 12, 13, 0, 0));
}

TEST(CronTest, AcrossDstChangesEachLocalTimeRunsOnce) {
  const TimeZone berlin = system_zone("Europe/Berlin");
  const auto daily = parse_cron("30 2 * * *").value;
  // Spring forward: 02:30 does not exist on 29 March; it runs at 03:30 CEST.
  EXPECT_EQ(next_due(*daily, berlin, utc(2026, 3, 28, 12, 0)), utc(2026, 3, 29, 1, 30));
  EXPECT_EQ(next_due(*daily, berlin, utc(2026, 3, 29, 1, 30)), utc(2026, 3, 30, 0, 30));
  // Fall back: 02:30 happens twice on 25 October; it runs once, at the first.
  EXPECT_EQ(next_due(*daily, berlin, utc(2026, 10, 24, 12, 0)), utc(2026, 10, 25, 0, 30));
  EXPECT_EQ(next_due(*daily, berlin, utc(2026, 10, 25, 0, 30)), utc(2026, 10, 26, 1, 30));
  // 09:00 local keeps its local time across the change (07:00 UTC in summer, 08:00 in winter).
  const auto nine = parse_cron("0 9 * * *").value;
  EXPECT_EQ(next_due(*nine, berlin, utc(2026, 10, 24, 12, 0)), utc(2026, 10, 25, 8, 0));
  EXPECT_EQ(next_due(*nine, berlin, utc(2026, 10, 23, 12, 0)), utc(2026, 10, 24, 7, 0));
}

TEST(CronTest, ImpossibleDatesNeverComeDue) {
  EXPECT_FALSE(next_due(*parse_cron("0 0 30 2 *").value, TimeZone::utc(), utc(2026, 1, 1, 0, 0)));
}

}  // namespace
}  // namespace topupd::core
