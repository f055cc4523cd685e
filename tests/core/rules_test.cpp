#include "topupd/core/rules.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Money idr(std::int64_t major) { return Money(major * 100, *Currency::find("IDR")); }

Rule threshold_rule() {
  return Rule{.name = "payout-low", .account = "payout", .enabled = true, .below = idr(10'000),
              .hold_for = Duration(0), .clear_above = std::nullopt,
              .alert = AlertSpec{"warning", {"log"}, Duration(0)}, .top_up = std::nullopt};
}

TopUpSpec to_target(std::int64_t target_major) {
  return TopUpSpec{TopUpMethod::direct_debit, "bank", "123",
                   AmountSpec{AmountSpec::Kind::to_target, idr(target_major), std::nullopt,
                              std::nullopt, std::nullopt},
                   Duration(0)};
}

// Steps a rule through balances, one observation per `step`, recording decisions.
class RuleDriver {
 public:
  explicit RuleDriver(Rule rule) : rule_(std::move(rule)) {}

  std::vector<DecisionKind> observe(std::int64_t balance_major, bool in_flight = false) {
    auto evaluation = evaluate(rule_, state_, {rule_.account, idr(balance_major), clock_.now()},
                               TopUpGuard{in_flight});
    state_ = evaluation.next;
    last_ = evaluation;
    std::vector<DecisionKind> kinds;
    for (const auto& d : evaluation.decisions) kinds.push_back(d.kind);
    return kinds;
  }
  void advance(Duration by) { clock_.advance(by); }
  const RuleState& state() const { return state_; }
  const Evaluation& last() const { return last_; }

 private:
  Rule rule_;
  RuleState state_;
  Evaluation last_{};
  testing::FakeClock clock_;
};

using Kinds = std::vector<DecisionKind>;

TEST(RuleTest, FiresOnceWhenBalanceIsStrictlyBelow) {
  RuleDriver rule(threshold_rule());
  EXPECT_EQ(rule.observe(10'000), Kinds{});  // exactly the threshold: not below
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
  EXPECT_EQ(rule.observe(9'999), Kinds{DecisionKind::alert_firing});
  EXPECT_EQ(rule.state().phase, RulePhase::firing);
  EXPECT_EQ(rule.observe(9'000), Kinds{});  // still firing, no repeat configured
}

TEST(RuleTest, ForRequiresTheConditionOnEveryObservationUntilItElapses) {
  Rule r = threshold_rule();
  r.hold_for = Duration(60s);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  EXPECT_EQ(rule.state().phase, RulePhase::pending);
  rule.advance(59s);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(1s);
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::alert_firing});
}

TEST(RuleTest, ForIsInterruptedByOneGoodObservation) {
  Rule r = threshold_rule();
  r.hold_for = Duration(60s);
  RuleDriver rule(r);
  rule.observe(9'000);
  rule.advance(30s);
  EXPECT_EQ(rule.observe(10'000), Kinds{});  // back at the threshold: not below
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
  rule.advance(30s);
  EXPECT_EQ(rule.observe(9'000), Kinds{});  // the clock starts again here
  rule.advance(59s);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(1s);
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::alert_firing});
}

TEST(RuleTest, ResolvesWhenConditionStopsWithoutClear) {
  RuleDriver rule(threshold_rule());
  rule.observe(9'000);
  EXPECT_EQ(rule.observe(10'000), Kinds{DecisionKind::alert_resolved});
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

TEST(RuleTest, HysteresisResolvesOnlyAboveClearAndThenReArms) {
  Rule r = threshold_rule();
  r.clear_above = idr(15'000);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::alert_firing});
  EXPECT_EQ(rule.observe(12'000), Kinds{});  // above `below`, not above `clear`
  EXPECT_EQ(rule.observe(15'000), Kinds{});  // clear is strict too
  EXPECT_EQ(rule.state().phase, RulePhase::firing);
  EXPECT_EQ(rule.observe(9'500), Kinds{});   // dipping again does not fire twice
  EXPECT_EQ(rule.observe(15'001), Kinds{DecisionKind::alert_resolved});
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::alert_firing});  // re-armed
}

TEST(RuleTest, RepeatsWhileFiringAtTheConfiguredInterval) {
  Rule r = threshold_rule();
  r.alert->repeat = Duration(1h);
  RuleDriver rule(r);
  rule.observe(9'000);
  rule.advance(59min);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(1min);
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::alert_repeat});
  rule.advance(30min);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
}

TEST(RuleTest, DisabledRuleDecidesNothing) {
  Rule r = threshold_rule();
  r.enabled = false;
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(1), Kinds{});
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

TEST(RuleTest, RuleWithoutAlertStillTracksStateAndTopsUp) {
  Rule r = threshold_rule();
  r.alert.reset();
  r.top_up = to_target(50'000);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::top_up});
  EXPECT_EQ(rule.state().phase, RulePhase::firing);
}

TEST(RuleTest, TopUpToTargetWhenFiring) {
  Rule r = threshold_rule();
  r.top_up = to_target(50'000);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), (Kinds{DecisionKind::alert_firing, DecisionKind::top_up}));
  const Decision& top_up = rule.last().decisions.back();
  EXPECT_EQ(*top_up.amount, idr(41'000));
  EXPECT_FALSE(top_up.idempotency_key.empty());
  EXPECT_NE(top_up.reason.find("to target"), std::string::npos);
}

TEST(RuleTest, NoTopUpWhileOneIsInFlight) {
  Rule r = threshold_rule();
  r.top_up = to_target(50'000);
  RuleDriver rule(r);
  rule.observe(9'000);
  EXPECT_EQ(rule.observe(8'000, /*in_flight=*/true), Kinds{});
  EXPECT_NE(rule.last().top_up_held_back->find("in flight"), std::string::npos);
  EXPECT_EQ(rule.observe(8'000, /*in_flight=*/false), Kinds{DecisionKind::top_up});
}

TEST(RuleTest, CooldownSpacesTopUpsAndKeysDiffer) {
  Rule r = threshold_rule();
  r.top_up = to_target(50'000);
  r.top_up->cooldown = Duration(30min);
  RuleDriver rule(r);
  rule.observe(9'000);
  const std::string first_key = rule.last().decisions.back().idempotency_key;
  rule.advance(29min);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  EXPECT_NE(rule.last().top_up_held_back->find("cooldown"), std::string::npos);
  rule.advance(1min);
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::top_up});
  EXPECT_NE(rule.last().decisions.back().idempotency_key, first_key);
}

TEST(RuleTest, NoTopUpWhenTheAmountIsNotPositive) {
  Rule r = threshold_rule();
  r.top_up = to_target(5'000);  // target below the balance that fires
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{DecisionKind::alert_firing});
  EXPECT_NE(rule.last().top_up_held_back->find("not positive"), std::string::npos);
}

TEST(AmountTest, RoundsUpThenClamps) {
  AmountSpec spec{AmountSpec::Kind::to_target, idr(50'000'000), idr(1'000'000), idr(5'000'000), idr(100'000'000)};
  EXPECT_EQ(*compute_amount(spec, idr(9'500'000)).amount, idr(41'000'000));   // 40.5M → 41M
  EXPECT_EQ(*compute_amount(spec, idr(46'000'000)).amount, idr(5'000'000));   // 4M → min 5M
  EXPECT_EQ(*compute_amount(spec, idr(-80'000'000)).amount, idr(100'000'000)); // 130M → max
  EXPECT_EQ(*compute_amount(spec, idr(40'000'000)).amount, idr(10'000'000));  // exact multiple
}

TEST(AmountTest, FixedAmount) {
  AmountSpec spec{AmountSpec::Kind::fixed, idr(7'000), std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(*compute_amount(spec, idr(1)).amount, idr(7'000));
}

TEST(AmountTest, OverflowIsNotATopUp) {
  AmountSpec spec{AmountSpec::Kind::to_target, Money(INT64_MAX, *Currency::find("IDR")), std::nullopt,
                  std::nullopt, std::nullopt};
  auto result = compute_amount(spec, Money(-1, *Currency::find("IDR")));
  EXPECT_FALSE(result.amount);
  EXPECT_NE(result.why.find("overflow"), std::string::npos);
}

TEST(IdempotencyKeyTest, IsDeterministicPerRuleAccountEpisodeAndSequence) {
  const Timestamp episode{std::chrono::milliseconds(1'000)};
  EXPECT_EQ(idempotency_key("r", "a", episode, 0), idempotency_key("r", "a", episode, 0));
  EXPECT_NE(idempotency_key("r", "a", episode, 0), idempotency_key("r", "a", episode, 1));
  EXPECT_NE(idempotency_key("r", "a", episode, 0), idempotency_key("r", "b", episode, 0));
  EXPECT_NE(idempotency_key("r", "a", episode, 0),
            idempotency_key("r", "a", episode + std::chrono::milliseconds(1), 0));
}

}  // namespace
}  // namespace topupd::core
