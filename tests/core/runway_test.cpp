// The runway index answers exactly what a pass over the rows answers.
#include "topupd/core/runway.hpp"

#include <gtest/gtest.h>

#include <random>

#include "topupd/core/rule_inputs.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Currency idr() { return *Currency::find("IDR"); }

void expect_same(const RunwayEstimate& by_rows, const RunwayEstimate& by_index, const std::string& where) {
  EXPECT_EQ(by_rows.enough_data, by_index.enough_data) << where;
  EXPECT_EQ(by_rows.runway, by_index.runway) << where;
  EXPECT_EQ(by_rows.burn_per_hour_minor, by_index.burn_per_hour_minor) << where;
}

// Random walks of balances, polled at uneven intervals with repeats of one time, with
// top-ups credited now and then, trimmed the way the watch trims them; every few rows
// estimates over several windows and times are made both ways.
TEST(RunwayIndexTest, EveryEstimateEqualsThePassOverTheRows) {
  std::mt19937_64 random(20261130);
  int estimates = 0, with_runway = 0, falls_back = 0;
  for (int walk = 0; walk < 40; ++walk) {
    AccountWatch watch;
    watch.history_window = Duration(std::uniform_int_distribution<int>(10, 180)(random) * 60'000);
    watch.history_index.emplace();
    std::vector<Credit> credits;
    // Some walks use balances near the ends of int64, where sums must not overflow.
    const bool huge = walk % 10 == 9;
    std::int64_t balance = huge ? INT64_MAX / 2 : std::uniform_int_distribution<std::int64_t>(0, 1'000'000'000)(random);
    Timestamp at = Timestamp(std::chrono::milliseconds(1'790'000'000'000 + walk * 7'919));
    for (int row = 0; row < 1500; ++row) {
      at += Duration(std::uniform_int_distribution<int>(0, 4)(random) == 0 ? 0 : std::uniform_int_distribution<int>(1, 90'000)(random));
      const std::int64_t step = huge ? INT64_MAX / 8 : 10'000'000;
      balance -= std::uniform_int_distribution<std::int64_t>(-step / 3, step)(random);
      if (huge) balance = std::clamp(balance, INT64_MIN / 2, INT64_MAX / 2 + INT64_MAX / 4);
      if (std::uniform_int_distribution<int>(0, 60)(random) == 0) {
        const std::int64_t amount = huge ? INT64_MAX / 4 : std::uniform_int_distribution<std::int64_t>(1, 500'000'000)(random);
        credits.push_back({at - Duration(std::uniform_int_distribution<int>(0, 30'000)(random)), Money(amount, idr())});
        if (!huge) balance += amount;
      }
      record_observation(watch, Observation{"payout", Money(balance, idr()), at});
      ASSERT_EQ(watch.history_index->prefix.size(), watch.history.size());
      if (row % 7 != 0) continue;
      for (const Duration window : {watch.history_window, watch.history_window / 3, Duration(5min)}) {
        for (const Timestamp now : {at, at - Duration(40'000), at + Duration(3min)}) {
          const auto by_rows = estimate_runway(watch.history, credits, now, window);
          const auto by_index = estimate_runway(watch.history, credits, now, window, &*watch.history_index);
          expect_same(by_rows, by_index, "walk " + std::to_string(walk) + " row " + std::to_string(row));
          estimates += 1;
          with_runway += by_rows.runway.has_value();
        }
      }
      falls_back += !watch.history_index->valid;
    }
  }
  // The walks reach the cases that matter: falling balances with a runway, and more.
  EXPECT_GT(estimates, 20'000);
  EXPECT_GT(with_runway, estimates / 10);
  (void)falls_back;
}

TEST(RunwayIndexTest, RowsOutOfTimeOrderAreReadOneByOne) {
  AccountWatch watch;
  watch.history_window = Duration(1h);
  watch.history_index.emplace();
  const Timestamp t0 = Timestamp(std::chrono::milliseconds(1'790'000'000'000));
  for (int i = 0; i < 30; ++i) record_observation(watch, {"payout", Money(1'000'000 - i * 1000, idr()), t0 + i * 1min});
  EXPECT_TRUE(watch.history_index->valid);
  // The wall clock jumps back ten minutes.
  record_observation(watch, {"payout", Money(960'000, idr()), t0 + 19min});
  EXPECT_FALSE(watch.history_index->valid);
  const Timestamp now = t0 + 30min;
  expect_same(estimate_runway(watch.history, {}, now, 30min),
              estimate_runway(watch.history, {}, now, 30min, &*watch.history_index), "after the jump");
  // Rows dropped from the front start the sums again.
  for (int i = 31; i < 200; ++i) record_observation(watch, {"payout", Money(1'000'000 - i * 1000, idr()), t0 + i * 1min});
  EXPECT_TRUE(watch.history_index->valid);
  const auto estimate = estimate_runway(watch.history, {}, t0 + 199min, 1h, &*watch.history_index);
  ASSERT_TRUE(estimate.runway);
  EXPECT_EQ(estimate.burn_per_hour_minor, 60'000);
  // 801,000 left at 60,000 an hour.
  EXPECT_EQ(*estimate.runway, Duration(801'000LL * 3'600'000 / 60'000));
}

// How much history each account keeps: the longest window of its enabled burn-rate rules.
TEST(HistoryWindowsTest, EachAccountKeepsItsLongestEnabledBurnRateWindow) {
  auto rule = [](std::string account, Condition::Kind kind, Duration window, bool enabled = true) {
    const std::string name = account + "-" + std::to_string(window.count());
    return Rule{.name = name,
                .account = std::move(account),
                .enabled = enabled,
                .when = Condition{.kind = kind,
                                  .threshold = Money(0, idr()),
                                  .duration = Duration(0),
                                  .window = window,
                                  .schedule = std::nullopt,
                                  .lead = Duration(0)},
                .hold_for = Duration(0),
                .clear = std::nullopt,
                .alert = std::nullopt,
                .top_up = std::nullopt};
  };
  const std::vector<Rule> rules = {
      rule("payout", Condition::Kind::runway_below, Duration(1h)),
      rule("payout", Condition::Kind::cover_demands, Duration(3h)),
      rule("payout", Condition::Kind::runway_below, Duration(9h), false),  // disabled: not kept for
      rule("payout", Condition::Kind::below, Duration(12h)),               // no burn rate
      rule("wallet", Condition::Kind::runway_below, Duration(2h)),
      rule("idle", Condition::Kind::below, Duration(0)),
  };
  const HistoryWindows windows(rules);
  EXPECT_EQ(windows.of("payout"), Duration(3h));
  EXPECT_EQ(windows.of("wallet"), Duration(2h));
  EXPECT_EQ(windows.of("idle"), Duration(0));
  EXPECT_EQ(windows.of("nobody"), Duration(0));
}

}  // namespace
}  // namespace topupd::core
