// A rule that stops itself, stepped by hand.
#include "topupd/core/suspension.hpp"

#include <gtest/gtest.h>

#include "topupd/core/rules.hpp"

namespace topupd::core {
namespace {

TEST(SuspensionTest, TheStreakCountsFailuresInARowAndSuspendsOnceAtItsLength) {
  FailureStreak streak;
  EXPECT_FALSE(record_outcome(streak, "declined", "declined by the bank", 3));
  EXPECT_FALSE(record_outcome(streak, std::nullopt, "", 3));  // a success clears it
  EXPECT_EQ(streak.count, 0u);
  EXPECT_FALSE(record_outcome(streak, "declined", "declined by the bank", 3));
  EXPECT_FALSE(record_outcome(streak, "unknown_outcomes", "no answer", 3));
  EXPECT_TRUE(record_outcome(streak, "insufficient_funds", "HTTP 403 (insufficient funds)", 3));
  EXPECT_EQ(streak.count, 3u);
  EXPECT_EQ(streak.code, "insufficient_funds");  // the last failure names it
  EXPECT_EQ(streak.last_error, "HTTP 403 (insufficient funds)");
  EXPECT_FALSE(record_outcome(streak, "declined", "again", 3));  // suspended once, not again
  FailureStreak never;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(record_outcome(never, "declined", "", 0));
}

TEST(SuspensionTest, AGatewaysRefusalIsCoded) {
  EXPECT_EQ(failure_code("insufficient_funds"), "insufficient_funds");
  EXPECT_EQ(failure_code("unauthorized"), "unauthorized");
  EXPECT_EQ(failure_code("unknown_account"), "declined");
  EXPECT_EQ(failure_code(""), "declined");
}

TEST(SuspensionTest, ASuspendedRuleStillAlertsButPlansNoTopUp) {
  const Money low(50'00, *Currency::find("IDR"));
  const Rule rule{.name = "payout-low", .account = "payout", .enabled = true,
                  .when = {Condition::Kind::below, Money(100'00, *Currency::find("IDR")), Duration(0), Duration(0), std::nullopt},
                  .hold_for = Duration(0), .clear = std::nullopt, .alert = AlertSpec{"warning", {"ops"}, Duration(0), true},
                  .top_up = TopUpSpec{TopUpMethod::direct_debit, "bank", "123",
                                      AmountSpec{AmountSpec::Kind::fixed, Money(1'000'00, *Currency::find("IDR")), 0,
                                                 std::nullopt, std::nullopt, std::nullopt},
                                      std::nullopt, Limits{}, Verification{}}};
  RuleInputs in;
  in.now = Timestamp(std::chrono::milliseconds(1'790'000'000'000));
  in.latest = Observation{"payout", low, in.now};
  in.latest_is_fresh = true;
  in.suspended = "declined: 3 top-ups in a row failed";
  const auto held = evaluate(rule, RuleState{}, in);
  ASSERT_EQ(held.decisions.size(), 1u);
  EXPECT_EQ(held.decisions[0].kind, DecisionKind::alert_firing);
  ASSERT_TRUE(held.top_up_held_back);
  EXPECT_NE(held.top_up_held_back->find("the rule is suspended (declined"), std::string::npos);
  in.suspended.reset();
  const auto free = evaluate(rule, RuleState{}, in);
  EXPECT_EQ(free.decisions.size(), 2u);  // the alert and the top-up
}

}  // namespace
}  // namespace topupd::core
