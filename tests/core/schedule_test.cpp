#include "topupd/core/schedule.hpp"

#include <gtest/gtest.h>

#include <array>
#include <climits>
#include <set>
#include <utility>

#include "topupd/core/topup.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

TEST(ScheduleTest, JitterStaysWithinThePercentage) {
  for (std::uint64_t draw : {0ULL, 1ULL, 999ULL, 1000ULL, 2000ULL, ~0ULL}) {
    const Duration d = jittered(Duration(10s), 10, draw);
    EXPECT_GE(d, Duration(9s));
    EXPECT_LE(d, Duration(11s));
  }
  EXPECT_EQ(jittered(Duration(10s), 10, 0), Duration(9s));      // lowest draw
  EXPECT_EQ(jittered(Duration(10s), 10, 2000), Duration(11s));  // highest draw
  EXPECT_EQ(jittered(Duration(10s), 0, 12345), Duration(10s));
}

TEST(Schedule, TheFirstDelaySpreadsAccountsOverOneInterval) {
  EXPECT_EQ(first_delay(Duration(10s), 10, 0), Duration(1));            // lowest draw
  EXPECT_EQ(first_delay(Duration(10s), 10, 9999), Duration(10s));       // highest draw
  EXPECT_EQ(first_delay(Duration(10s), 10, 10000), Duration(1));        // wraps, never above `every`
  EXPECT_EQ(first_delay(Duration(10s), 0, 1234), Duration(10s));        // no jitter: lockstep
  // 10,000 draws fall evenly into the ten seconds of the interval.
  std::array<int, 10> per_second{};
  std::uint64_t draw = 88172645463325252ull;
  for (int i = 0; i < 10'000; ++i) {
    draw ^= draw << 13, draw ^= draw >> 7, draw ^= draw << 17;
    const Duration d = first_delay(Duration(10s), 10, draw);
    ASSERT_GE(d, Duration(1));
    ASSERT_LE(d, Duration(10s));
    per_second[static_cast<std::size_t>((d.count() - 1) / 1000)] += 1;
  }
  for (int count : per_second) EXPECT_NEAR(count, 1000, 150);
}

TEST(ScheduleTest, BackoffDoublesUpToTheCap) {
  EXPECT_EQ(failure_backoff(Duration(10s), Duration(5min), 1, 0, 0), Duration(20s));
  EXPECT_EQ(failure_backoff(Duration(10s), Duration(5min), 3, 0, 0), Duration(80s));
  EXPECT_EQ(failure_backoff(Duration(10s), Duration(5min), 10, 0, 0), Duration(5min));
  EXPECT_EQ(failure_backoff(Duration(10s), Duration(5min), 1000, 0, 0), Duration(5min));
  // A cap below the interval never polls faster than the interval.
  EXPECT_EQ(failure_backoff(Duration(10min), Duration(5min), 3, 0, 0), Duration(10min));
}

TEST(TopUpStateTest, FollowsTheJournalStateMachine) {
  using S = TopUpState;
  EXPECT_TRUE(can_transition(S::planned, S::submitted));
  EXPECT_TRUE(can_transition(S::submitted, S::unknown));
  EXPECT_TRUE(can_transition(S::unknown, S::submitted));  // resent under the same key after a look-up
  EXPECT_TRUE(can_transition(S::unknown, S::succeeded));
  EXPECT_TRUE(can_transition(S::pending, S::succeeded));
  EXPECT_FALSE(can_transition(S::planned, S::succeeded));  // never without a request
  EXPECT_FALSE(can_transition(S::succeeded, S::failed));
  EXPECT_FALSE(can_transition(S::failed, S::submitted));
  EXPECT_TRUE(can_transition(S::awaiting_approval, S::planned));
  EXPECT_TRUE(can_transition(S::awaiting_approval, S::rejected));
  EXPECT_TRUE(can_transition(S::awaiting_approval, S::expired));
  EXPECT_FALSE(can_transition(S::awaiting_approval, S::submitted));  // never sent without approval
  EXPECT_FALSE(can_transition(S::expired, S::planned));
  EXPECT_TRUE(is_terminal(S::expired));
  EXPECT_TRUE(is_terminal(S::rejected));
  EXPECT_FALSE(counts_toward_limits(S::expired));
  EXPECT_FALSE(counts_toward_limits(S::failed));
  EXPECT_TRUE(counts_toward_limits(S::awaiting_approval));  // reserved until decided
  EXPECT_TRUE(counts_toward_limits(S::unknown));            // may have moved
  for (auto state : kAllTopUpStates) EXPECT_EQ(top_up_state_from(to_string(state)), state);
  EXPECT_FALSE(top_up_state_from("settled"));
  EXPECT_TRUE(is_terminal(S::succeeded));
  EXPECT_TRUE(is_terminal(S::failed));
  EXPECT_FALSE(is_terminal(S::unknown));
}

}  // namespace
}  // namespace topupd::core

namespace topupd::core {
namespace {

// Every (from, to) pair against the journal's state machine, written out as a table:
// a transition the table does not list must be refused.
TEST(TopUpStateTest, EveryPairMatchesTheTable) {
  using S = TopUpState;
  const std::set<std::pair<S, S>> allowed = {
      {S::awaiting_approval, S::planned}, {S::awaiting_approval, S::rejected}, {S::awaiting_approval, S::expired},
      {S::planned, S::submitted},         {S::planned, S::failed},             {S::planned, S::expired},
      {S::planned, S::pending},           {S::pending, S::expired},
      {S::submitted, S::pending},         {S::submitted, S::succeeded},        {S::submitted, S::failed},
      {S::submitted, S::unknown},
      {S::pending, S::succeeded},         {S::pending, S::failed},             {S::pending, S::unknown},
      // timeout → reconcile: the look-up finds it pending, succeeded or failed, or
      // finds nothing and the same request goes again.
      {S::unknown, S::pending},           {S::unknown, S::succeeded},          {S::unknown, S::failed},
      {S::unknown, S::submitted},
  };
  int checked = 0;
  for (S from : kAllTopUpStates) {
    for (S to : kAllTopUpStates) {
      EXPECT_EQ(can_transition(from, to), allowed.count({from, to}) == 1)
          << to_string(from) << " -> " << to_string(to);
      ++checked;
    }
    if (is_terminal(from)) {
      for (S to : kAllTopUpStates) EXPECT_FALSE(can_transition(from, to)) << to_string(from);
    }
  }
  EXPECT_EQ(checked, 81);
}

TEST(VerificationTest, ARiseOfTheAmountLessTheToleranceReflectsTheTopUp) {
  const auto idr = [](std::int64_t major) { return Money(major * 100, *Currency::find("IDR")); };
  EXPECT_TRUE(reflects_top_up(idr(100), idr(2'100), idr(2'000), 0));
  EXPECT_FALSE(reflects_top_up(idr(100), idr(2'099), idr(2'000), 0));
  EXPECT_TRUE(reflects_top_up(idr(100), idr(1'900), idr(2'000), 10));   // 1,800 ≥ 90 % of 2,000
  EXPECT_FALSE(reflects_top_up(idr(100), idr(1'899), idr(2'000), 10));
  EXPECT_FALSE(reflects_top_up(idr(5'000), idr(0), idr(2'000), 5));     // the balance fell
  EXPECT_TRUE(reflects_top_up(idr(0), idr(0), idr(2'000), 100));        // 100 %: anything goes
  // Extreme values do not overflow.
  const Money huge(INT64_MAX, *Currency::find("IDR"));
  const Money tiny(INT64_MIN, *Currency::find("IDR"));
  EXPECT_TRUE(reflects_top_up(tiny, huge, huge, 0));
  EXPECT_FALSE(reflects_top_up(huge, tiny, huge, 0));
}

}  // namespace
}  // namespace topupd::core
