// Properties of the engine over random histories: limits are never exceeded.
#include "topupd/core/simulation.hpp"

#include <map>
#include <random>

#include <gtest/gtest.h>

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Money idr(std::int64_t major) { return Money(major * 100, *Currency::find("IDR")); }

TEST(SimulationPropertyTest, NoRandomHistoryExceedsAnyCalendarCapMaxPerDayOrMax) {
  const TimeZone zone = TimeZone::fixed("WIB", 7 * 3600);
  std::mt19937_64 random(20261125);
  for (int run = 0; run < 200; ++run) {
    SCOPED_TRACE(run);
    // A rule with every limit, drawn at random.
    const std::int64_t per_day = 10'000 + static_cast<std::int64_t>(random() % 200'000);
    const std::uint32_t max_per_day = 1 + static_cast<std::uint32_t>(random() % 6);
    const std::int64_t max = 1'000 + static_cast<std::int64_t>(random() % 100'000);
    Rule rule{.name = "low", .account = "payout", .enabled = true,
              .when = {Condition::Kind::below, idr(50'000), Duration(0), Duration(0), std::nullopt},
              .hold_for = Duration((random() % 3) * 60'000), .clear = std::nullopt, .alert = std::nullopt,
              .top_up = TopUpSpec{TopUpMethod::direct_debit, "", "1",
                                  AmountSpec{AmountSpec::Kind::to_target, idr(200'000), 0,
                                             random() % 2 ? std::optional(idr(7'000)) : std::nullopt,
                                             std::nullopt, idr(max)},
                                  std::nullopt,
                                  Limits{idr(per_day), max_per_day, Duration((random() % 4) * 600'000), std::nullopt},
                                  Verification{}}};
    // Calendar caps over the week and the month, sometimes.
    const std::int64_t per_week = 30'000 + static_cast<std::int64_t>(random() % 400'000);
    const std::int64_t per_month = 60'000 + static_cast<std::int64_t>(random() % 800'000);
    if (random() % 2) rule.top_up->limits.per_week = idr(per_week);
    if (random() % 2) rule.top_up->limits.per_month = idr(per_month);
    // A jagged history over several days with random gaps and dips.
    std::vector<HistoryRow> rows;
    Timestamp at = Timestamp(std::chrono::milliseconds(1'793'000'000'000));
    for (int i = 0; i < 400; ++i) {
      at += Duration(60'000 * (1 + static_cast<std::int64_t>(random() % 120)));
      rows.push_back({at, "payout", idr(static_cast<std::int64_t>(random() % 120'000) - 20'000)});
    }
    const auto settle = Duration(static_cast<std::int64_t>(random() % 3) * 1'800'000);
    const auto result = simulate({rule}, {{"payout", *Currency::find("IDR")}}, zone, rows, settle);

    std::map<std::chrono::sys_days, std::pair<std::int64_t, std::uint32_t>> per_day_totals;
    std::map<std::chrono::sys_days, std::int64_t> per_week_totals;  // by Monday
    std::map<std::chrono::year_month, std::int64_t> per_month_totals;
    for (const auto& event : result.events) {
      if (event.type != "top_up") continue;
      ASSERT_TRUE(event.amount);
      EXPECT_GT(event.amount->minor(), 0);
      EXPECT_LE(*event.amount, idr(max));
      auto& [total, count] = per_day_totals[zone.local_day(event.at)];
      total += event.amount->minor();
      count += 1;
      const auto day = zone.local_day(event.at);
      const std::chrono::year_month_day date(day);
      per_week_totals[day - std::chrono::days((std::chrono::weekday(day).iso_encoding() + 6) % 7)] += event.amount->minor();
      per_month_totals[date.year() / date.month()] += event.amount->minor();
    }
    for (const auto& [day, totals] : per_day_totals) {
      EXPECT_LE(totals.first, idr(per_day).minor());
      EXPECT_LE(totals.second, max_per_day);
    }
    if (rule.top_up->limits.per_week) {
      for (const auto& [monday, total] : per_week_totals) EXPECT_LE(total, idr(per_week).minor());
    }
    if (rule.top_up->limits.per_month) {
      for (const auto& [month, total] : per_month_totals) EXPECT_LE(total, idr(per_month).minor());
    }
  }
}

TEST(SimulationTest, AppliesTopUpsToLaterRowsAfterTheSettleDelay) {
  Rule rule{.name = "low", .account = "payout", .enabled = true,
            .when = {Condition::Kind::below, idr(100), Duration(0), Duration(0), std::nullopt},
            .hold_for = Duration(0), .clear = std::nullopt, .alert = AlertSpec{},
            .top_up = TopUpSpec{TopUpMethod::direct_debit, "", "1",
                                AmountSpec{AmountSpec::Kind::fixed, idr(1'000), 0, std::nullopt, std::nullopt, std::nullopt},
                                std::nullopt, Limits{}, Verification{}}};
  const Timestamp t0 = Timestamp(std::chrono::milliseconds(1'793'000'000'000));
  std::vector<HistoryRow> rows;
  for (int i = 0; i < 4; ++i) rows.push_back({t0 + Duration(i * 600'000), "payout", idr(50 - i)});
  const auto result = simulate({rule}, {{"payout", *Currency::find("IDR")}}, TimeZone::utc(), rows, Duration(15min));
  // Fires at t0 and tops up 1,000; the money arrives at t0+15m: rows at +10m still show
  // 49 (in flight, no second top-up), the row at +20m shows 48 + 1,000 and resolves.
  ASSERT_EQ(result.events.size(), 3u);
  EXPECT_EQ(result.events[0].type, "alert_firing");
  EXPECT_EQ(result.events[1].type, "top_up");
  EXPECT_EQ(result.events[2].type, "alert_resolved");
  EXPECT_EQ(result.events[2].at, t0 + Duration(20min));
  const AccountSummary& payout = result.accounts.at("payout");
  EXPECT_EQ(payout.top_ups, 1);
  EXPECT_EQ(*payout.min_balance, idr(49));  // 50, 49, then 1,048 and 1,047
  EXPECT_EQ(*payout.min_balance_without_topupd, idr(47));
}

// ---- time between rows: the instants the daemon would act at --------------------

const Timestamp kT0 = Timestamp(std::chrono::milliseconds(1'793'000'000'000));

Rule alert_rule(std::string name, std::string account, Condition when, Duration hold_for = Duration(0)) {
  return Rule{.name = std::move(name), .account = std::move(account), .enabled = true, .when = std::move(when),
              .hold_for = hold_for, .clear = std::nullopt, .alert = AlertSpec{}, .top_up = std::nullopt};
}

std::vector<std::pair<std::string, Timestamp>> timeline(const SimulationResult& result) {
  std::vector<std::pair<std::string, Timestamp>> out;
  for (const auto& e : result.events) out.emplace_back(e.type, e.at);
  return out;
}

TEST(SimulationTest, StaleForFiresInsideAGapAndResolvesWhenRowsReturn) {
  const Rule rule = alert_rule("stale", "payout", {Condition::Kind::stale_for, idr(0), Duration(5min), Duration(0), std::nullopt});
  std::vector<HistoryRow> rows;
  for (int minute : {0, 1, 2, 3, 23, 24}) rows.push_back({kT0 + Duration(minute * 60'000), "payout", idr(100)});
  const auto result = simulate({rule}, {{"payout", *Currency::find("IDR")}}, TimeZone::utc(), rows, Duration(0));
  // The last row before the gap is at +3m: five minutes later, at +8m, not at the next row.
  using Events = std::vector<std::pair<std::string, Timestamp>>;
  EXPECT_EQ(timeline(result), (Events{{"alert_firing", kT0 + Duration(8min)}, {"alert_resolved", kT0 + Duration(23min)}}));
}

TEST(SimulationTest, StaleForCountsFromTheStartBeforeAnAccountsFirstRow) {
  const Rule rule = alert_rule("stale", "settlement", {Condition::Kind::stale_for, idr(0), Duration(5min), Duration(0), std::nullopt});
  std::vector<HistoryRow> rows;
  for (int minute = 0; minute <= 10; ++minute) rows.push_back({kT0 + Duration(minute * 60'000), "payout", idr(100)});
  rows.push_back({kT0 + Duration(12min), "settlement", idr(100)});
  const auto result = simulate({rule}, {{"payout", *Currency::find("IDR")}, {"settlement", *Currency::find("IDR")}},
                               TimeZone::utc(), rows, Duration(0));
  using Events = std::vector<std::pair<std::string, Timestamp>>;
  EXPECT_EQ(timeline(result), (Events{{"alert_firing", kT0 + Duration(5min)}, {"alert_resolved", kT0 + Duration(12min)}}));
}

TEST(SimulationTest, ARowAtTheDeadlineInstantComesFirst) {
  const Rule rule = alert_rule("stale", "payout", {Condition::Kind::stale_for, idr(0), Duration(5min), Duration(0), std::nullopt});
  std::vector<HistoryRow> rows;
  for (int minute = 0; minute <= 30; minute += 5) rows.push_back({kT0 + Duration(minute * 60'000), "payout", idr(100)});
  const auto result = simulate({rule}, {{"payout", *Currency::find("IDR")}}, TimeZone::utc(), rows, Duration(0));
  EXPECT_TRUE(result.events.empty());
}

TEST(SimulationTest, ForFiresAtItsDeadlineBetweenRows) {
  const Rule rule = alert_rule("low", "payout", {Condition::Kind::below, idr(100), Duration(0), Duration(0), std::nullopt},
                               Duration(5min));
  std::vector<HistoryRow> rows;
  for (int minute = 0; minute <= 30; minute += 15) rows.push_back({kT0 + Duration(minute * 60'000), "payout", idr(50)});
  const auto result = simulate({rule}, {{"payout", *Currency::find("IDR")}}, TimeZone::utc(), rows, Duration(0));
  using Events = std::vector<std::pair<std::string, Timestamp>>;
  EXPECT_EQ(timeline(result), (Events{{"alert_firing", kT0 + Duration(5min)}}));
}

TEST(SimulationTest, ASweepTakesNothingFromAStaleSource) {
  Rule sweep{.name = "sweep", .account = "payout", .enabled = true,
             .when = {Condition::Kind::below, idr(100), Duration(0), Duration(0), std::nullopt},
             .hold_for = Duration(0), .clear = std::nullopt, .alert = std::nullopt,
             .top_up = TopUpSpec{TopUpMethod::sweep, "", "settlement",
                                 AmountSpec{AmountSpec::Kind::fixed, idr(10), 0, std::nullopt, std::nullopt, std::nullopt},
                                 std::nullopt, Limits{}, Verification{}}};
  const std::vector<SimulationAccount> accounts{{"payout", *Currency::find("IDR"), Duration(1min), Duration(5s)},
                                                {"settlement", *Currency::find("IDR"), Duration(1min), Duration(5s)}};
  // The source was last seen 10 minutes before the need: older than 2 × 1m + 5s.
  const std::vector<HistoryRow> stale{{kT0, "settlement", idr(1'000)}, {kT0 + Duration(10min), "payout", idr(50)}};
  EXPECT_TRUE(simulate({sweep}, accounts, TimeZone::utc(), stale, Duration(0)).events.empty());
  // Seen two minutes before: fresh, and the sweep takes its amount.
  const std::vector<HistoryRow> fresh{{kT0 + Duration(8min), "settlement", idr(1'000)}, {kT0 + Duration(10min), "payout", idr(50)}};
  const auto result = simulate({sweep}, accounts, TimeZone::utc(), fresh, Duration(0));
  ASSERT_EQ(result.events.size(), 1u);
  EXPECT_EQ(result.events[0].type, "sweep");
  EXPECT_EQ(result.accounts.at("settlement").sweeps_out_total, idr(10));
}

}  // namespace
}  // namespace topupd::core
