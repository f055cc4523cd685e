// cover_demands, stepped by hand: the demands due within the window, the burn until the
// last of them and the floor to keep make the balance a rule tops up to — once, ahead
// of the payouts — and a demand outside the window, in another currency, or already
// covered asks for nothing.
#include "topupd/core/demands.hpp"

#include <map>

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "topupd/core/runway.hpp"
#include "topupd/core/simulation.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Money idr(std::int64_t major) { return Money(major * 100, *Currency::find("IDR")); }

Condition cover(Duration within, Duration lead, std::int64_t keep_major, Duration window = 6h) {
  Condition c{Condition::Kind::cover_demands, idr(keep_major), within, window, std::nullopt};
  c.lead = lead;
  return c;
}

Rule cover_rule(Condition when) {
  return Rule{.name = "payroll", .account = "payout", .enabled = true, .when = std::move(when),
              .hold_for = Duration(0), .clear = std::nullopt, .alert = std::nullopt,
              .top_up = TopUpSpec{TopUpMethod::direct_debit, "bank", "123",
                                  AmountSpec{AmountSpec::Kind::to_target, idr(0), 0, idr(100'000), std::nullopt,
                                             std::nullopt},
                                  std::nullopt, Limits{}, Verification{}}};
}

class CoverDemandsTest : public ::testing::Test {
 protected:
  Evaluation evaluate_at(const Rule& rule, std::int64_t balance_major) {
    latest_ = Observation{"payout", idr(balance_major), clock_.now()};
    RuleInputs in;
    in.now = clock_.now();
    in.latest = latest_;
    in.latest_is_fresh = true;
    in.history = history_;
    in.demands = demands_;
    auto out = evaluate(rule, state_, in);
    state_ = out.next;
    return out;
  }
  Timestamp in(Duration d) const { return clock_.now() + d; }

  testing::FakeClock clock_;
  RuleState state_;
  std::optional<Observation> latest_;
  std::vector<Observation> history_;
  std::vector<DueDemand> demands_;
};

TEST_F(CoverDemandsTest, NoDemandAsksForNothing) {
  const auto out = evaluate_at(cover_rule(cover(24h, 2h, 1'000'000)), 10'000);
  EXPECT_TRUE(out.decisions.empty());
  EXPECT_EQ(out.next.phase, RulePhase::inactive);
}

TEST_F(CoverDemandsTest, ADemandWithinTheWindowIsFundedAheadToItsAmountAndTheFloor) {
  demands_ = {{"payroll-dec", idr(250'000'000), in(17h)}};
  const auto out = evaluate_at(cover_rule(cover(24h, 2h, 5'000'000)), 40'000'000);
  ASSERT_EQ(out.decisions.size(), 1u);
  const Decision& d = out.decisions[0];
  EXPECT_EQ(d.kind, DecisionKind::top_up);
  // 250M due + 5M kept − 40M there = 215M; round_up_to 100k leaves it as it is.
  EXPECT_EQ(d.amount, idr(215'000'000));
  EXPECT_NE(d.reason.find("1 demand of IDR 250,000,000.00 due from"), std::string::npos) << d.reason;
  EXPECT_EQ(d.reason.find("late"), std::string::npos) << d.reason;
  // The money is there: nothing more, and the rule resolves.
  EXPECT_TRUE(evaluate_at(cover_rule(cover(24h, 2h, 5'000'000)), 255'000'000).decisions.empty());
  EXPECT_EQ(state_.phase, RulePhase::inactive);
}

TEST_F(CoverDemandsTest, DemandsOutsideTheWindowInAnotherCurrencyOrPastAreNotCounted) {
  demands_ = {{"past", idr(1'000'000), in(-1h)},
              {"usd", Money(500'000, *Currency::find("USD")), in(3h)},
              {"next-month", idr(900'000'000), in(24h * 30)},
              {"vendors", idr(3'000'000), in(5h)}};
  const auto out = evaluate_at(cover_rule(cover(24h, 1h, 0)), 1'000'000);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_EQ(out.decisions[0].amount, idr(2'000'000));
}

TEST_F(CoverDemandsTest, TheBurnUntilTheLastDemandIsFundedToo) {
  // Falling by IDR 1,000,000 an hour for the last six hours.
  for (int h = 6; h >= 0; --h) {
    history_.push_back({"payout", idr(20'000'000 - (6 - h) * 1'000'000), clock_.now() - std::chrono::hours(h)});
  }
  demands_ = {{"a", idr(10'000'000), in(4h)}, {"b", idr(10'000'000), in(10h)}};
  const auto out = evaluate_at(cover_rule(cover(24h, 1h, 0)), 14'000'000);
  ASSERT_EQ(out.decisions.size(), 1u);
  // 20M due + 10 h × 1M burn − 14M there = 16M.
  EXPECT_EQ(out.decisions[0].amount, idr(16'000'000));
  EXPECT_NE(out.decisions[0].reason.find("2 demands of IDR 20,000,000.00"), std::string::npos);
  EXPECT_NE(out.decisions[0].reason.find("burn IDR 10,000,000.00"), std::string::npos) << out.decisions[0].reason;
}

TEST_F(CoverDemandsTest, ADecisionInsideTheLeadSaysItIsLate) {
  demands_ = {{"payroll", idr(1'000'000), in(30min)}};
  const auto out = evaluate_at(cover_rule(cover(24h, 2h, 0)), 0);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_NE(out.decisions[0].reason.find("late: less than the lead 2h before the first"), std::string::npos)
      << out.decisions[0].reason;
}

TEST_F(CoverDemandsTest, SumsBeyondInt64DecideNothing) {
  demands_ = {{"a", Money(INT64_MAX - 10, *Currency::find("IDR")), in(1h)}, {"b", idr(1), in(2h)}};
  const auto cover_of = cover_needed(cover(24h, 0h, 0), demands_, idr(0), RunwayEstimate{}, clock_.now());
  EXPECT_TRUE(cover_of.overflow);
  EXPECT_TRUE(evaluate_at(cover_rule(cover(24h, 0h, 0)), 0).decisions.empty());
}

}  // namespace
}  // namespace topupd::core

namespace topupd::core {
namespace {

// The backtest given demands: a cover_demands rule funds the one it sees coming and the
// report says it was covered, and when; a demand on an account no rule covers was not.
TEST(SimulateDemandsTest, EachDemandIsReportedCoveredOrNotWithTheTopUpThatFundedIt) {
  const TimeZone zone = TimeZone::fixed("WIB", 7 * 3600);
  Condition when{Condition::Kind::cover_demands, idr(1'000'000), 12h, 6h, std::nullopt};
  when.lead = 2h;
  const Rule rule = cover_rule(when);
  const Timestamp start(std::chrono::milliseconds(1'795'000'000'000));
  std::vector<HistoryRow> rows;
  for (int hour = 0; hour <= 48; ++hour) {
    rows.push_back({start + std::chrono::hours(hour), "payout", idr(2'000'000)});
    rows.push_back({start + std::chrono::hours(hour), "other", idr(2'000'000)});
  }
  const std::map<std::string, std::vector<DueDemand>> demands = {
      {"payout", {{"payroll", idr(30'000'000), start + 30h}, {"vendors", idr(500'000), start + 20h}}},
      {"other", {{"rent", idr(9'000'000), start + 10h}}},
  };
  const auto result = simulate({rule}, {{"payout", *Currency::find("IDR")}, {"other", *Currency::find("IDR")}}, zone,
                               rows, Duration(0), demands);
  ASSERT_EQ(result.demands.size(), 3u);
  std::map<std::string, const DemandOutcome*> by_reference;
  for (const auto& d : result.demands) by_reference[d.demand.reference] = &d;
  // The vendors' batch came within 12 h at hour 8 and needed nothing (500k + 1M kept,
  // 2M there); the payroll came within 12 h at hour 18, and one top-up then counted both:
  // 30M + 500k + 1M − 2M = 29.5M.
  const DemandOutcome& vendors = *by_reference.at("vendors");
  const DemandOutcome& payroll = *by_reference.at("payroll");
  EXPECT_TRUE(vendors.covered);
  ASSERT_TRUE(payroll.funded_at);
  EXPECT_EQ(*payroll.funded_at, start + 18h);
  EXPECT_EQ(vendors.funded_at, payroll.funded_at);
  EXPECT_FALSE(payroll.funded_by.empty());
  std::size_t top_ups = 0;
  for (const auto& e : result.events) top_ups += e.type == "top_up" ? 1 : 0;
  EXPECT_EQ(top_ups, 1u);
  EXPECT_TRUE(payroll.covered);
  EXPECT_EQ(payroll.balance_at_due, idr(2'000'000 + 29'500'000));
  // Rent on an account no rule covers: not covered, nothing funded it.
  const DemandOutcome& rent = *by_reference.at("rent");
  EXPECT_FALSE(rent.covered);
  EXPECT_FALSE(rent.funded_at);
  EXPECT_EQ(rent.balance_at_due, idr(2'000'000));
  EXPECT_FALSE(rent.after_history);
}

}  // namespace
}  // namespace topupd::core
