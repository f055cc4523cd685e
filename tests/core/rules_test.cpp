#include "topupd/core/rules.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Money idr(std::int64_t major) { return Money(major * 100, *Currency::find("IDR")); }

Condition below(std::int64_t major) { return {Condition::Kind::below, idr(major), Duration(0), Duration(0), std::nullopt}; }
Condition above(std::int64_t major) { return {Condition::Kind::above, idr(major), Duration(0), Duration(0), std::nullopt}; }

Rule rule_when(Condition when) {
  return Rule{.name = "payout-low", .account = "payout", .enabled = true, .when = std::move(when),
              .hold_for = Duration(0), .clear = std::nullopt, .alert = AlertSpec{"warning", {"log"}, Duration(0), true},
              .top_up = std::nullopt};
}

TopUpSpec top_up(AmountSpec::Kind kind, std::int64_t value_major, TopUpMethod method = TopUpMethod::direct_debit) {
  return TopUpSpec{method, "bank", method == TopUpMethod::sweep ? "settlement" : "123",
                   AmountSpec{kind, idr(value_major), 0, std::nullopt, std::nullopt, std::nullopt}, std::nullopt,
                   Limits{}, Verification{}};
}

// Steps a rule through observations on a fake clock, recording decisions, and keeps
// the daily usage the way the daemon derives it from its journal.
class RuleDriver {
 public:
  explicit RuleDriver(Rule rule) : rule_(std::move(rule)) {}

  std::vector<DecisionKind> observe(std::optional<std::int64_t> balance_major, bool in_flight = false) {
    if (balance_major) {
      history_.push_back({rule_.account, idr(*balance_major), clock_.now()});
      latest_ = history_.back();
    }
    return evaluate_now(in_flight, false);
  }
  std::vector<DecisionKind> tick(bool due = false) { return evaluate_now(false, due); }

  void advance(Duration by) { clock_.advance(by); }
  // The wall clock stepped by `by`: the daemon takes its states as of the new time.
  void step_clock(Duration by) {
    clock_.advance(by);
    state_ = clamped_to(state_, clock_.now());
  }
  void credit(std::int64_t major) { credits_.push_back({clock_.now(), idr(major)}); }
  void set_source(std::int64_t major) { source_ = idr(major); }
  const RuleState& state() const { return state_; }
  const Evaluation& last() const { return last_; }
  const Decision& last_top_up() const { return last_.decisions.back(); }
  Timestamp now() const { return clock_.now(); }
  void start_monitoring() { monitoring_since_ = clock_.now(); }

 private:
  std::vector<DecisionKind> evaluate_now(bool in_flight, bool due) {
    RuleInputs in;
    in.now = clock_.now();
    in.latest = latest_;
    in.latest_is_fresh = latest_.has_value();
    in.monitoring_since = monitoring_since_;
    in.history = history_;
    in.own_credits = credits_;
    in.source_balances[0] = source_;
    in.top_up_in_flight = in_flight;
    in.schedule_due = due;
    const auto day = std::chrono::floor<std::chrono::days>(in.now);
    if (usage_.day != day) usage_ = CapUsage{day, idr(0), 0};
    in.usage = usage_;
    last_ = evaluate(rule_, state_, in);
    state_ = last_.next;
    std::vector<DecisionKind> kinds;
    for (const auto& d : last_.decisions) {
      kinds.push_back(d.kind);
      if (d.kind == DecisionKind::top_up) {
        usage_.amount = *usage_.amount.checked_add(*d.amount);
        usage_.count += 1;
      }
    }
    return kinds;
  }

  Rule rule_;
  RuleState state_;
  Evaluation last_{};
  testing::FakeClock clock_;
  std::vector<Observation> history_;
  std::optional<Observation> latest_;
  std::vector<Credit> credits_;
  std::optional<Money> source_;
  std::optional<Timestamp> monitoring_since_;
  CapUsage usage_{std::chrono::sys_days{}, idr(0), 0};
};

using Kinds = std::vector<DecisionKind>;
constexpr auto kFire = DecisionKind::alert_firing;
constexpr auto kResolve = DecisionKind::alert_resolved;
constexpr auto kRepeat = DecisionKind::alert_repeat;
constexpr auto kTopUp = DecisionKind::top_up;

// ---- below / above, for, clear ----------------------------------------------------

TEST(RuleTest, BelowIsStrictAndFiresOnce) {
  RuleDriver rule(rule_when(below(10'000)));
  EXPECT_EQ(rule.observe(10'000), Kinds{});  // exactly the threshold: not below
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
  EXPECT_EQ(rule.observe(9'999), Kinds{kFire});
  EXPECT_EQ(rule.state().phase, RulePhase::firing);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
}

TEST(RuleTest, AboveIsStrict) {
  RuleDriver rule(rule_when(above(10'000)));
  EXPECT_EQ(rule.observe(10'000), Kinds{});
  EXPECT_EQ(rule.observe(10'001), Kinds{kFire});
  EXPECT_NE(rule.last().decisions[0].reason.find("> IDR 10,000.00"), std::string::npos);
  EXPECT_EQ(rule.observe(10'000), Kinds{kResolve});
}

TEST(RuleTest, NothingHappensBeforeTheFirstObservation) {
  RuleDriver rule(rule_when(below(10'000)));
  EXPECT_EQ(rule.tick(), Kinds{});
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

TEST(RuleTest, ForRequiresTheConditionOnEveryObservationUntilItElapses) {
  Rule r = rule_when(below(10'000));
  r.hold_for = Duration(60s);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  EXPECT_EQ(rule.state().phase, RulePhase::pending);
  rule.advance(59s);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(1s);
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});
  EXPECT_NE(rule.last().decisions[0].reason.find("for 1m"), std::string::npos);
}

TEST(RuleTest, ForIsInterruptedByOneGoodObservation) {
  Rule r = rule_when(below(10'000));
  r.hold_for = Duration(60s);
  RuleDriver rule(r);
  rule.observe(9'000);
  rule.advance(30s);
  EXPECT_EQ(rule.observe(10'000), Kinds{});
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
  rule.advance(30s);
  EXPECT_EQ(rule.observe(9'000), Kinds{});  // the wait starts again here
  rule.advance(59s);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(1s);
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});
}

TEST(RuleTest, FiresOnTheFirstObservationAtOrPastFor) {
  Rule r = rule_when(below(10'000));
  r.hold_for = Duration(60s);
  RuleDriver rule(r);
  rule.observe(9'000);
  rule.advance(45s);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(45s);  // polls are 45 s apart: fires at 90 s, the first observation past 60 s
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});
}

TEST(RuleTest, ResolvesWhenConditionStopsWithoutClear) {
  RuleDriver rule(rule_when(below(10'000)));
  rule.observe(9'000);
  EXPECT_EQ(rule.observe(10'000), Kinds{kResolve});
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

TEST(RuleTest, HysteresisResolvesOnlyAboveClearAndThenReArms) {
  Rule r = rule_when(below(10'000));
  r.clear = Clear{true, idr(15'000)};
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});
  EXPECT_EQ(rule.observe(12'000), Kinds{});
  EXPECT_EQ(rule.observe(15'000), Kinds{});  // clear is strict too
  EXPECT_EQ(rule.state().phase, RulePhase::firing);
  EXPECT_EQ(rule.observe(9'500), Kinds{});   // dipping again does not fire twice
  EXPECT_EQ(rule.observe(15'001), Kinds{kResolve});
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});  // re-armed
}

TEST(RuleTest, AboveRuleClearsBelowAValue) {
  Rule r = rule_when(above(100'000));
  r.clear = Clear{false, idr(80'000)};
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(100'001), Kinds{kFire});
  EXPECT_EQ(rule.observe(90'000), Kinds{});
  EXPECT_EQ(rule.observe(79'999), Kinds{kResolve});
}

TEST(RuleTest, RepeatsWhileFiringAtTheConfiguredInterval) {
  Rule r = rule_when(below(10'000));
  r.alert->repeat = Duration(1h);
  RuleDriver rule(r);
  rule.observe(9'000);
  rule.advance(59min);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(1min);
  EXPECT_EQ(rule.observe(9'000), Kinds{kRepeat});
  rule.advance(30min);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
}

TEST(RuleTest, AfterTheWallClockStepsBackARepeatComesAnIntervalLaterNotWhenTheClockCatchesUp) {
  Rule r = rule_when(below(10'000));
  r.alert->repeat = Duration(10min);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});
  rule.step_clock(-1h);  // the clock is set back an hour: the alert was sent "in the future"
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  EXPECT_EQ(rule.state().last_alert_at, rule.now());
  rule.advance(9min);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  rule.advance(1min);
  EXPECT_EQ(rule.observe(9'000), Kinds{kRepeat});
}

TEST(RuleTest, InstantsLaterThanNowAreTakenAsNow) {
  const Timestamp now{std::chrono::milliseconds(1'795'000'000'000)};
  RuleState state;
  state.phase = RulePhase::firing;
  state.condition_since = now - 1h;
  state.fired_at = now + 2h;
  state.last_alert_at = now + 3h;
  state.last_top_up_at = now + 1ms;
  const RuleState clamped = clamped_to(state, now);
  EXPECT_EQ(clamped.condition_since, now - 1h);  // in the past: kept
  EXPECT_EQ(clamped.fired_at, now);
  EXPECT_EQ(clamped.last_alert_at, now);
  EXPECT_EQ(clamped.last_top_up_at, now);
  EXPECT_EQ(clamped.phase, RulePhase::firing);
}

TEST(RuleTest, DisabledRuleDecidesNothing) {
  Rule r = rule_when(below(10'000));
  r.enabled = false;
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(1), Kinds{});
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

// ---- runway -----------------------------------------------------------------------

Rule runway_rule(Duration runway, Duration window) {
  return rule_when({Condition::Kind::runway_below, idr(0), runway, window, std::nullopt});
}

TEST(RunwayRuleTest, FiresWhenTheBalanceRunsOutSoonerThanTheLimit) {
  RuleDriver rule(runway_rule(Duration(2h), Duration(1h)));
  // Falling 10,000 every 10 minutes (60,000 an hour) from 160,000: at 120,000 the
  // runway is exactly 2h (not below), at 110,000 it is 1h50m.
  for (std::int64_t balance = 160'000; balance > 110'000; balance -= 10'000) {
    EXPECT_EQ(rule.observe(balance), Kinds{}) << balance;
    rule.advance(10min);
  }
  EXPECT_EQ(rule.observe(110'000), Kinds{kFire});
  const Decision& fired = rule.last().decisions.at(0);
  ASSERT_TRUE(fired.runway);
  EXPECT_EQ(*fired.runway, Duration(110min));
  EXPECT_NE(fired.reason.find("runway 1h50m < 2h"), std::string::npos) << fired.reason;
  EXPECT_NE(fired.reason.find("burning IDR 60,000.00 an hour"), std::string::npos) << fired.reason;
}

TEST(RunwayRuleTest, NeedsEnoughObservations) {
  RuleDriver rule(runway_rule(Duration(2h), Duration(1h)));
  rule.observe(1'000);
  rule.advance(1min);
  rule.observe(500);
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

TEST(RunwayRuleTest, ARisingOrFlatBalanceHasNoRunwayLimit) {
  RuleDriver rule(runway_rule(Duration(100h), Duration(1h)));
  for (int i = 0; i < 10; ++i) {
    rule.observe(1'000 + i);
    rule.advance(10min);
  }
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

// Burning 60,000 an hour; topupd adds 100,000 half-way through the hour.
bool fires_with_credit(bool register_credit) {
  RuleDriver rule(runway_rule(Duration(5h), Duration(1h)));
  std::int64_t balance = 200'000;
  for (int i = 0; i <= 6; ++i) {
    if (i == 3) {
      balance += 100'000;
      if (register_credit) rule.credit(100'000);
    }
    rule.observe(balance);
    rule.advance(10min);
    balance -= 10'000;
  }
  return rule.state().phase == RulePhase::firing;
}

TEST(RunwayRuleTest, CreditsTopupdMadeDoNotHideTheBurn) {
  // With the credit removed the burn is seen (240,000 left: 4h < 5h) ...
  EXPECT_TRUE(fires_with_credit(true));
  // ... while counting it as the outside world's money would look like growth.
  EXPECT_FALSE(fires_with_credit(false));
}

// ---- stale_for --------------------------------------------------------------------

TEST(StaleRuleTest, FiresWhenNoSuccessfulObservationForTheDuration) {
  RuleDriver rule(rule_when({Condition::Kind::stale_for, idr(0), Duration(5min), Duration(0), std::nullopt}));
  rule.observe(1'000);
  rule.advance(4min);
  EXPECT_EQ(rule.tick(), Kinds{});
  rule.advance(1min);
  EXPECT_EQ(rule.tick(), Kinds{kFire});
  EXPECT_NE(rule.last().decisions[0].reason.find("no successful poll for 5m"), std::string::npos);
  EXPECT_EQ(rule.observe(1'000), Kinds{kResolve});
}

TEST(StaleRuleTest, CountsFromTheStartOfMonitoringWhenNothingEverSucceeded) {
  RuleDriver rule(rule_when({Condition::Kind::stale_for, idr(0), Duration(5min), Duration(0), std::nullopt}));
  rule.start_monitoring();
  rule.advance(5min);
  EXPECT_EQ(rule.tick(), Kinds{kFire});
}

// ---- schedule ---------------------------------------------------------------------

TEST(ScheduleRuleTest, EachDueTimeAsksForOneTopUpWithItsOwnKey) {
  Rule r = rule_when({Condition::Kind::schedule, idr(0), Duration(0), Duration(0), parse_cron("0 9 * * *").value});
  r.alert.reset();
  r.top_up = top_up(AmountSpec::Kind::percent_of_source, 0, TopUpMethod::sweep);
  r.top_up->amount.percent_basis_points = 5000;
  RuleDriver rule(r);
  rule.set_source(1'000'001);
  rule.observe(10);
  EXPECT_EQ(rule.tick(false), Kinds{});
  EXPECT_EQ(rule.tick(true), Kinds{kTopUp});
  EXPECT_EQ(*rule.last_top_up().amount, Money(50'000'050, *Currency::find("IDR")));  // 50 %, rounded down
  const std::string first = rule.last_top_up().idempotency_key;
  rule.advance(24h);
  EXPECT_EQ(rule.tick(true), Kinds{kTopUp});
  EXPECT_NE(rule.last_top_up().idempotency_key, first);
  EXPECT_EQ(rule.state().phase, RulePhase::inactive);
}

// ---- top-ups and limits -----------------------------------------------------------

TEST(TopUpTest, ToTargetWhenFiring) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::to_target, 50'000);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), (Kinds{kFire, kTopUp}));
  EXPECT_EQ(*rule.last_top_up().amount, idr(41'000));
  EXPECT_FALSE(rule.last_top_up().needs_approval);
  EXPECT_TRUE(rule.last_top_up().shaped_by.empty());
  EXPECT_NE(rule.last_top_up().reason.find("to target IDR 50,000.00"), std::string::npos);
}

TEST(TopUpTest, RuleWithoutAlertStillTopsUp) {
  Rule r = rule_when(below(10'000));
  r.alert.reset();
  r.top_up = top_up(AmountSpec::Kind::fixed, 5'000);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{kTopUp});
}

TEST(TopUpTest, NoTopUpWhileOneIsInFlight) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::to_target, 50'000);
  RuleDriver rule(r);
  rule.observe(9'000);
  EXPECT_EQ(rule.observe(8'000, /*in_flight=*/true), Kinds{});
  EXPECT_NE(rule.last().top_up_held_back->find("in flight"), std::string::npos);
  EXPECT_EQ(rule.observe(8'000, false), Kinds{kTopUp});
}

TEST(TopUpTest, CooldownSpacesTopUpsAndKeysDiffer) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::to_target, 50'000);
  r.top_up->limits.cooldown = Duration(30min);
  RuleDriver rule(r);
  rule.observe(9'000);
  const std::string first_key = rule.last_top_up().idempotency_key;
  rule.advance(29min);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  EXPECT_NE(rule.last().top_up_held_back->find("cooldown"), std::string::npos);
  rule.advance(1min);
  EXPECT_EQ(rule.observe(9'000), Kinds{kTopUp});
  EXPECT_NE(rule.last_top_up().idempotency_key, first_key);
}

TEST(TopUpTest, PerDayCapsTheAmountAndNamesItself) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::fixed, 30'000);
  r.top_up->limits.per_day = idr(50'000);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), (Kinds{kFire, kTopUp}));
  EXPECT_EQ(*rule.last_top_up().amount, idr(30'000));
  EXPECT_EQ(rule.observe(9'000), Kinds{kTopUp});
  EXPECT_EQ(*rule.last_top_up().amount, idr(20'000));
  EXPECT_EQ(rule.last_top_up().shaped_by, std::vector<std::string>{"per_day"});
  EXPECT_NE(rule.last_top_up().reason.find("shaped by per_day"), std::string::npos);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  EXPECT_NE(rule.last().top_up_held_back->find("per_day IDR 50,000.00 already used"), std::string::npos);
  rule.advance(24h);  // a new day
  EXPECT_EQ(rule.observe(9'000), Kinds{kTopUp});
}

TEST(TopUpTest, MaxPerDayCountsTopUps) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::fixed, 1'000);
  r.top_up->limits.max_per_day = 2;
  RuleDriver rule(r);
  rule.observe(9'000);
  rule.observe(9'000);
  EXPECT_EQ(rule.observe(9'000), Kinds{});
  EXPECT_NE(rule.last().top_up_held_back->find("max_per_day 2 reached"), std::string::npos);
}

TEST(TopUpTest, AboveApprovalAboveTheDecisionWaitsForAPerson) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::to_target, 100'000);
  r.top_up->limits.approval_above = idr(75'000);
  RuleDriver rule(r);
  rule.observe(9'000);
  EXPECT_TRUE(rule.last_top_up().needs_approval);
  EXPECT_NE(rule.last_top_up().reason.find("approval_above"), std::string::npos);
}

TEST(TopUpTest, SweepKeepsTheReserveInTheSource) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::to_target, 50'000, TopUpMethod::sweep);
  r.top_up->keep_in_source = idr(5'000);
  RuleDriver rule(r);
  rule.set_source(20'000);
  rule.observe(9'000);
  EXPECT_EQ(*rule.last_top_up().amount, idr(15'000));
  EXPECT_EQ(rule.last_top_up().shaped_by, std::vector<std::string>{"keep_in_source"});
}

TEST(TopUpTest, SweepNeedsAFreshSourceBalance) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::fixed, 1'000, TopUpMethod::sweep);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});
  EXPECT_NE(rule.last().top_up_held_back->find("no fresh balance of the source"), std::string::npos);
}

TEST(TopUpTest, NoTopUpWhenTheAmountIsNotPositive) {
  Rule r = rule_when(below(10'000));
  r.top_up = top_up(AmountSpec::Kind::to_target, 5'000);
  RuleDriver rule(r);
  EXPECT_EQ(rule.observe(9'000), Kinds{kFire});
  EXPECT_NE(rule.last().top_up_held_back->find("not positive"), std::string::npos);
}

// ---- amounts ------------------------------------------------------------------------

TEST(AmountTest, RoundsUpThenClampsAndNamesEachStep) {
  TopUpSpec spec = top_up(AmountSpec::Kind::to_target, 50'000'000);
  spec.amount.round_up_to = idr(1'000'000);
  spec.amount.min = idr(5'000'000);
  spec.amount.max = idr(100'000'000);
  auto at = [&](std::int64_t balance) { return compute_amount(spec, idr(balance), std::nullopt, std::nullopt); };
  EXPECT_EQ(*at(9'500'000).amount, idr(41'000'000));
  EXPECT_EQ(at(9'500'000).shaped_by, std::vector<std::string>{"round_up_to"});
  EXPECT_EQ(*at(46'000'000).amount, idr(5'000'000));
  EXPECT_EQ(at(46'000'000).shaped_by, std::vector<std::string>{"min"});
  EXPECT_EQ(*at(-80'000'000).amount, idr(100'000'000));
  EXPECT_EQ(at(-80'000'000).shaped_by, std::vector<std::string>{"max"});
  EXPECT_EQ(*at(40'000'000).amount, idr(10'000'000));
}

TEST(AmountTest, OverflowIsNotATopUp) {
  TopUpSpec spec = top_up(AmountSpec::Kind::to_target, 0);
  spec.amount.value = Money(INT64_MAX, *Currency::find("IDR"));
  auto result = compute_amount(spec, Money(-1, *Currency::find("IDR")), std::nullopt, std::nullopt);
  EXPECT_FALSE(result.amount);
  EXPECT_NE(result.why.find("overflow"), std::string::npos);
}

TEST(IdempotencyKeyTest, IsDeterministicPerRuleAccountWindowAndSequence) {
  const Timestamp window{std::chrono::milliseconds(1'000)};
  EXPECT_EQ(idempotency_key("r", "a", window, 0), idempotency_key("r", "a", window, 0));
  EXPECT_NE(idempotency_key("r", "a", window, 0), idempotency_key("r", "a", window, 1));
  EXPECT_NE(idempotency_key("r", "a", window, 0), idempotency_key("r", "b", window, 0));
  EXPECT_NE(idempotency_key("r", "a", window, 0), idempotency_key("r", "a", window + std::chrono::milliseconds(1), 0));
}

}  // namespace
}  // namespace topupd::core
