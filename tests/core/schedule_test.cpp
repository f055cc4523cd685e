#include "topupd/core/schedule.hpp"

#include <gtest/gtest.h>

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
