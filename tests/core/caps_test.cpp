// Calendar caps: what a rule used in its day, week and month, and what is left of each.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "topupd/core/rule_inputs.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

Currency idr() { return *Currency::find("IDR"); }
Money rp(std::int64_t major) { return Money(major * 100, idr()); }

TimeZone jakarta() {
  std::ifstream in("/usr/share/zoneinfo/Asia/Jakarta", std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  auto zone = TimeZone::from_tzif("Asia/Jakarta", data.str());
  EXPECT_TRUE(zone);
  return zone ? *zone : TimeZone::utc();
}

// A local time in Jakarta (UTC+7 all year).
Timestamp wib(int y, unsigned m, unsigned d, int hh, int mm) {
  return Timestamp(sys_days(year(y) / month(m) / day(d)) + hours(hh) + minutes(mm) - 7h);
}

Rule capped_rule(Limits limits) {
  return Rule{.name = "payout-low", .account = "payout", .enabled = true,
              .when = {Condition::Kind::below, rp(100), Duration(0), Duration(0), std::nullopt},
              .hold_for = Duration(0), .clear = std::nullopt, .alert = std::nullopt,
              .top_up = TopUpSpec{TopUpMethod::direct_debit, "bank", "123",
                                  AmountSpec{AmountSpec::Kind::fixed, rp(1'000), 0, std::nullopt, std::nullopt, std::nullopt},
                                  std::nullopt, limits, Verification{}}};
}

TopUpRecord top_up(std::string key, Timestamp created, std::int64_t major, TopUpState state = TopUpState::succeeded,
                   std::string rule = "payout-low") {
  return TopUpRecord{std::move(key), std::move(rule), "payout", "bank", TopUpMethod::direct_debit, "payout-id", "123",
                     rp(major), state, "", "", created, std::nullopt};
}

TEST(CapsTest, UsageCountsTheLocalDayWeekFromMondayAndMonth) {
  // Wednesday 2 December 2026, 10:00 in Jakarta.
  const Timestamp now = wib(2026, 12, 2, 10, 0);
  const std::vector<TopUpRecord> journal = {
      top_up("sunday-late", wib(2026, 11, 29, 23, 30), 1),       // last week, last month
      top_up("monday-early", wib(2026, 11, 30, 0, 10), 10),      // this week, last month
      top_up("tuesday", wib(2026, 12, 1, 12, 0), 100),           // this week, this month
      top_up("today", wib(2026, 12, 2, 0, 5), 1'000),            // today
      top_up("today-failed", wib(2026, 12, 2, 1, 0), 10'000, TopUpState::failed),  // moved nothing
      top_up("today-open", wib(2026, 12, 2, 9, 0), 20'000, TopUpState::pending),   // may move: counts
      top_up("other-rule", wib(2026, 12, 2, 9, 0), 100'000, TopUpState::succeeded, "other"),
  };
  const Rule rule = capped_rule(Limits{});
  const CapUsage usage = usage_now(journal, rule, idr(), jakarta(), now);
  EXPECT_EQ(usage.amount, rp(21'000));
  EXPECT_EQ(usage.count, 2u);
  EXPECT_EQ(usage.week_amount, rp(21'110));
  EXPECT_EQ(usage.month_amount, rp(21'100));
  // In UTC the same instants fall into other days (Monday 00:10 in Jakarta is Sunday
  // there): the config's zone decides.
  const CapUsage in_utc = usage_now(journal, rule, idr(), TimeZone::utc(), now);
  EXPECT_EQ(in_utc.amount, rp(20'000));
  EXPECT_EQ(in_utc.week_amount, rp(21'100));
}

TEST(CapsTest, EachCapShapesTheAmountOrHoldsItBackNamingItsPeriod) {
  Limits limits;
  limits.per_day = rp(5'000);
  limits.per_week = rp(3'000);
  limits.per_month = rp(10'000);
  Rule rule = capped_rule(limits);
  CapUsage usage{sys_days{}, rp(500), 1, rp(2'500), rp(9'000)};
  // fixed IDR 1,000, but only 500 left this week.
  auto shaped = compute_amount(*rule.top_up, rp(50), std::nullopt, usage);
  ASSERT_TRUE(shaped.amount);
  EXPECT_EQ(*shaped.amount, rp(500));
  EXPECT_EQ(shaped.shaped_by, std::vector<std::string>{"per_week"});
  const auto left = caps_left(limits, usage);
  ASSERT_EQ(left.size(), 3u);
  EXPECT_STREQ(left[0].cap, "per_day");
  EXPECT_EQ(left[0].remaining, rp(4'500));
  EXPECT_EQ(left[1].remaining, rp(500));
  EXPECT_EQ(left[2].remaining, rp(1'000));
  // The month used up: held back, no top-up, and the reason says which cap.
  usage.month_amount = rp(10'000);
  const auto held = compute_amount(*rule.top_up, rp(50), std::nullopt, usage);
  EXPECT_FALSE(held.amount);
  EXPECT_NE(held.why.find("per_month IDR 10,000.00 already used this month"), std::string::npos) << held.why;
  EXPECT_EQ(caps_left(limits, usage)[2].remaining, rp(0));
}

TEST(CapsTest, TheJournalKeepsWhatTheLongestCapLooksAt) {
  Limits weekly;
  weekly.per_week = rp(1);
  Limits monthly;
  monthly.per_month = rp(1);
  EXPECT_EQ(keep_top_ups_for(std::vector<Rule>{capped_rule(Limits{})}), Duration(48h));
  EXPECT_EQ(keep_top_ups_for(std::vector<Rule>{capped_rule(weekly)}), Duration(days(8)));
  EXPECT_EQ(keep_top_ups_for(std::vector<Rule>{capped_rule(weekly), capped_rule(monthly)}), Duration(days(32)));
}

}  // namespace
}  // namespace topupd::core
