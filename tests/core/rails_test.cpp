// Rails in order: which rail a need goes to, which are passed over and why, and how a
// need whose rail failed at the gateway goes on to the next rail — from the journal.
#include <gtest/gtest.h>

#include "topupd/core/rule_inputs.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Currency idr() { return *Currency::find("IDR"); }
Money rp(std::int64_t major) { return Money(major * 100, idr()); }
const Timestamp t0 = Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 11 / 30));

// payout-low tops `payout` up to IDR 1,000: first by direct debit from the bank account
// 111 (read as the account `ops-bank`), then by a sweep from `settlement` keeping 100.
Rule two_rail_rule() {
  TopUpSpec spec{TopUpMethod::direct_debit, "bank", "111",
                 AmountSpec{AmountSpec::Kind::to_target, rp(1'000), 0, std::nullopt, std::nullopt, std::nullopt},
                 rp(50), Limits{}, Verification{}};
  spec.check_balance_of = "ops-bank";
  spec.limits.cooldown = 1h;
  spec.more_rails.push_back(Rail{TopUpMethod::sweep, "bank", "settlement", rp(100)});
  return Rule{.name = "payout-low", .account = "payout", .enabled = true,
              .when = {Condition::Kind::below, rp(500), Duration(0), Duration(0), std::nullopt},
              .hold_for = Duration(0), .clear = std::nullopt, .alert = std::nullopt, .top_up = spec};
}

// The payout account at IDR 200: the need is IDR 800.
RuleInputs inputs(Timestamp now, std::optional<Money> debited, std::optional<Money> settlement) {
  RuleInputs in;
  in.now = now;
  in.latest = Observation{"payout", rp(200), now};
  in.latest_is_fresh = true;
  in.source_balances[0] = debited;
  in.source_balances[1] = settlement;
  return in;
}

TEST(RailsTest, TheFirstRailThatCanCoverTheNeedTakesIt) {
  const Rule rule = two_rail_rule();
  const Evaluation e = evaluate(rule, RuleState{}, inputs(t0, rp(5'000), rp(5'000)));
  ASSERT_EQ(e.decisions.size(), 1u);
  const Decision& d = e.decisions[0];
  EXPECT_EQ(d.kind, DecisionKind::top_up);
  EXPECT_EQ(d.rail, 0u);
  EXPECT_EQ(d.need, "");
  EXPECT_EQ(*d.amount, rp(800));
  EXPECT_EQ(d.top_up->method, TopUpMethod::direct_debit);
  EXPECT_EQ(d.idempotency_key, idempotency_key("payout-low", "payout", t0, 0));
}

TEST(RailsTest, ASourceThatCannotCoverTheWholeAmountPassesTheNeedOnAndTheDecisionSaysWhy) {
  const Rule rule = two_rail_rule();
  // ops-bank holds 849: 800 would leave 49, less than its keep_in_source 50.
  const Evaluation e = evaluate(rule, RuleState{}, inputs(t0, rp(849), rp(5'000)));
  ASSERT_EQ(e.decisions.size(), 1u);
  const Decision& d = e.decisions[0];
  EXPECT_EQ(d.rail, 1u);
  EXPECT_EQ(*d.amount, rp(800));  // the whole need, not what the first source could spare
  EXPECT_EQ(d.top_up->method, TopUpMethod::sweep);
  EXPECT_EQ(d.top_up->source, "settlement");
  const std::string base = idempotency_key("payout-low", "payout", t0, 0);
  EXPECT_EQ(d.need, base);
  EXPECT_EQ(d.idempotency_key, base + "-rail2");
  EXPECT_NE(d.reason.find("on rail 2; rail 1 (direct_debit from 111 via bank) skipped: source ops-bank holds"),
            std::string::npos)
      << d.reason;
  EXPECT_FALSE(e.held_back_by_source);
}

TEST(RailsTest, AnUnreadableSourceIsASkipNeverABlindPull) {
  const Rule rule = two_rail_rule();
  const Evaluation e = evaluate(rule, RuleState{}, inputs(t0, std::nullopt, rp(5'000)));
  ASSERT_EQ(e.decisions.size(), 1u);
  EXPECT_EQ(e.decisions[0].rail, 1u);
  EXPECT_NE(e.decisions[0].reason.find("no fresh balance of the source ops-bank"), std::string::npos);
}

TEST(RailsTest, WhenNoSourceCanCoverItNothingIsPlannedAndTheHoldIsForTheSources) {
  const Rule rule = two_rail_rule();
  // The last rail moves what its source can spare: only an empty one holds it back.
  const Evaluation e = evaluate(rule, RuleState{}, inputs(t0, rp(10), rp(100)));
  EXPECT_TRUE(e.decisions.empty());
  ASSERT_TRUE(e.top_up_held_back);
  EXPECT_TRUE(e.held_back_by_source);
  EXPECT_NE(e.top_up_held_back->find("rail 1 (direct_debit from 111 via bank) skipped"), std::string::npos);
  EXPECT_NE(e.top_up_held_back->find("rail 2 (sweep from settlement via bank) skipped: source settlement holds"),
            std::string::npos)
      << *e.top_up_held_back;
  EXPECT_EQ(e.next.top_ups_in_episode, 0u);
}

TEST(RailsTest, TheLastRailMovesWhatItsSourceCanSpare) {
  const Rule rule = two_rail_rule();
  const Evaluation e = evaluate(rule, RuleState{}, inputs(t0, rp(10), rp(400)));
  ASSERT_EQ(e.decisions.size(), 1u);
  EXPECT_EQ(e.decisions[0].rail, 1u);
  EXPECT_EQ(*e.decisions[0].amount, rp(300));
  EXPECT_EQ(e.decisions[0].shaped_by, std::vector<std::string>{"keep_in_source"});
}

TEST(RailsTest, ADirectDebitIsNeverCutDownToItsSourcesFloorEvenAsTheLastRail) {
  Rule rule = two_rail_rule();
  rule.top_up->more_rails.clear();
  const Evaluation e = evaluate(rule, RuleState{}, inputs(t0, rp(849), std::nullopt));
  EXPECT_TRUE(e.decisions.empty());
  EXPECT_TRUE(e.held_back_by_source);
  EXPECT_EQ(*e.top_up_held_back,
            "source ops-bank holds IDR 849.00, which cannot cover the amount above keep_in_source IDR 50.00");
}

TEST(RailsTest, ANeedWhoseRailFailedGoesOnToTheNextRailBeforeTheCooldownUnderItsOwnKey) {
  const Rule rule = two_rail_rule();
  const Evaluation first = evaluate(rule, RuleState{}, inputs(t0, rp(5'000), rp(5'000)));
  ASSERT_EQ(first.decisions.size(), 1u);
  const std::string need = first.decisions[0].idempotency_key;
  // The debit was declined; a minute later (the cooldown is an hour) the journal says so.
  RuleInputs in = inputs(t0 + 1min, rp(5'000), rp(5'000));
  in.continues = RailContinuation{need, 1, "insufficient funds at the bank", t0};
  const Evaluation next = evaluate(rule, first.next, in);
  ASSERT_EQ(next.decisions.size(), 1u);
  const Decision& d = next.decisions[0];
  EXPECT_EQ(d.rail, 1u);
  EXPECT_EQ(d.need, need);
  EXPECT_EQ(d.idempotency_key, need + "-rail2");
  EXPECT_NE(d.reason.find("rail 1 (direct_debit from 111 via bank) skipped: failed: insufficient funds at the bank"),
            std::string::npos)
      << d.reason;
  EXPECT_EQ(next.next.top_ups_in_episode, 1u);  // the same need, not a new one
  // Without the failure the cooldown holds.
  const Evaluation held = evaluate(rule, first.next, inputs(t0 + 1min, rp(5'000), rp(5'000)));
  EXPECT_TRUE(held.decisions.empty());
}

TEST(RailsTest, AFailureFromAnEarlierFiringIsNotThisNeed) {
  const Rule rule = two_rail_rule();
  RuleState state;
  state.phase = RulePhase::firing;
  state.fired_at = t0 + 2h;
  RuleInputs in = inputs(t0 + 3h, rp(5'000), rp(5'000));
  in.continues = RailContinuation{"old-need", 1, "declined", t0};
  const Evaluation e = evaluate(rule, state, in);
  ASSERT_EQ(e.decisions.size(), 1u);
  EXPECT_EQ(e.decisions[0].rail, 0u);  // a new need, from the first rail
  EXPECT_EQ(e.decisions[0].need, "");
}

TopUpRecord record(std::string key, std::uint32_t rail, std::string need, TopUpState state, Timestamp created,
                   std::string rule = "payout-low") {
  return TopUpRecord{std::move(key), std::move(rule), "payout", "bank", TopUpMethod::direct_debit, "payout-id", "111",
                     rp(800), state, "", "declined by the bank", created, std::nullopt, rail, std::move(need)};
}

TEST(RailContinuationTest, OnlyAFailedRailWithARailAfterItContinuesItsNeed) {
  const Rule rule = two_rail_rule();
  const TimeZone utc = TimeZone::utc();
  const Timestamp now = t0 + 1min;
  {
    const std::vector<TopUpRecord> journal{record("n1", 0, "", TopUpState::failed, t0)};
    const auto c = rail_continuation(rule, journal, utc, now);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->need, "n1");
    EXPECT_EQ(c->rail, 1u);
    EXPECT_EQ(c->failed, "declined by the bank");
    EXPECT_EQ(c->since, t0);
  }
  for (auto state : {TopUpState::unknown, TopUpState::submitted, TopUpState::succeeded, TopUpState::rejected,
                     TopUpState::expired, TopUpState::pending}) {
    // Never a second rail while the first one's outcome is open or known good; a
    // person's rejection or an expired approval ends the need.
    const std::vector<TopUpRecord> journal{record("n1", 0, "", state, t0)};
    EXPECT_FALSE(rail_continuation(rule, journal, utc, now)) << to_string(state);
  }
  {
    // The last rail failed: the need failed.
    const std::vector<TopUpRecord> journal{record("n1", 0, "", TopUpState::failed, t0),
                                           record("n1-rail2", 1, "n1", TopUpState::failed, t0 + 30s)};
    EXPECT_FALSE(rail_continuation(rule, journal, utc, now));
  }
  {
    // Another rule's failure is not this rule's need; the latest of this rule's decides.
    const std::vector<TopUpRecord> journal{record("n0", 0, "", TopUpState::failed, t0 - 1h),
                                           record("n1", 0, "", TopUpState::succeeded, t0),
                                           record("x", 0, "", TopUpState::failed, t0, "other-rule")};
    EXPECT_FALSE(rail_continuation(rule, journal, utc, now));
  }
}

TEST(RailContinuationTest, AScheduledNeedGoesOnOnlyUntilItsNextDueTime) {
  Rule rule = two_rail_rule();
  rule.when = Condition{Condition::Kind::schedule, rp(0), Duration(0), Duration(0), parse_cron("0 9 * * *").value};
  const TimeZone utc = TimeZone::utc();
  const std::vector<TopUpRecord> journal{record("n1", 0, "", TopUpState::failed, t0 + 9h)};
  EXPECT_TRUE(rail_continuation(rule, journal, utc, t0 + 9h + 5min));
  EXPECT_FALSE(rail_continuation(rule, journal, utc, t0 + 33h));  // the next morning is a new need
  // evaluate goes on with it between due times, and only with it.
  RuleInputs in = inputs(t0 + 9h + 5min, rp(5'000), rp(5'000));
  EXPECT_TRUE(evaluate(rule, RuleState{}, in).decisions.empty());
  in.continues = rail_continuation(rule, journal, utc, in.now);
  const Evaluation e = evaluate(rule, RuleState{}, in);
  ASSERT_EQ(e.decisions.size(), 1u);
  EXPECT_EQ(e.decisions[0].idempotency_key, "n1-rail2");
}

TEST(RailsTest, GatheredInputsReadEachRailsSourceAndTheContinuation) {
  const Rule rule = two_rail_rule();
  AccountWatch payout, ops, settlement;
  payout.latest = Observation{"payout", rp(200), t0};
  ops.latest = Observation{"ops-bank", rp(700), t0};
  settlement.latest = Observation{"settlement", rp(9'000), t0};
  const WatchOf watch_of = [&](const std::string& name) -> const AccountWatch* {
    if (name == "ops-bank") return &ops;
    if (name == "settlement") return &settlement;
    return nullptr;
  };
  const std::vector<TopUpRecord> journal{record("n1", 0, "", TopUpState::failed, t0)};
  std::vector<Credit> credits;
  const RuleInputs in =
      gather_rule_inputs(rule, payout, watch_of, journal, journal, idr(), TimeZone::utc(), t0 + 1s, credits);
  EXPECT_EQ(in.source_balances[0], rp(700));
  EXPECT_EQ(in.source_balances[1], rp(9'000));
  ASSERT_TRUE(in.continues);
  EXPECT_EQ(in.continues->need, "n1");
}

// The need the first rail failed for goes on to the second only from a balance asked
// for after the failure: one asked before it may be older than anything the rail did.
TEST(RailsTest, ANeedGoesOnOnlyFromABalanceAskedForAfterItsRailEnded) {
  const Rule rule = two_rail_rule();
  AccountWatch payout;
  payout.poll_every = 1min;
  TopUpRecord failed = record("n1", 0, "", TopUpState::failed, t0);
  failed.balance_shows_from = t0 + 2s;  // it ended at t0 + 2s - 1ms
  const std::vector<TopUpRecord> journal{failed};
  AccountWatch ops, settlement;
  ops.latest = Observation{"ops-bank", rp(5'000), t0};
  settlement.latest = Observation{"settlement", rp(5'000), t0};
  const WatchOf watch_of = [&](const std::string& name) -> const AccountWatch* {
    return name == "ops-bank" ? &ops : name == "settlement" ? &settlement : nullptr;
  };
  std::vector<Credit> credits;
  for (const auto& [asked, predates] : {std::pair{t0 + 1s, true}, {t0 + 2s - 1ms, true}, {t0 + 2s, false}}) {
    payout.latest = Observation{"payout", rp(200), asked};
    const RuleInputs in =
        gather_rule_inputs(rule, payout, watch_of, journal, journal, idr(), TimeZone::utc(), t0 + 3s, credits);
    EXPECT_EQ(in.balance_predates_last_outcome, predates) << format_rfc3339(asked);
    const Evaluation e = evaluate(rule, RuleState{}, in);
    EXPECT_EQ(e.decisions.empty(), predates);
    if (predates) {
      EXPECT_NE(e.top_up_held_back.value_or("").find("read before its last top-up ended"), std::string::npos);
    }
  }
  // Another account's top-up says nothing about this balance.
  TopUpRecord elsewhere = failed;
  elsewhere.account = "other";
  EXPECT_FALSE(ended_after(std::vector<TopUpRecord>{elsewhere}, "payout", t0));
}

}  // namespace
}  // namespace topupd::core

namespace topupd::core {
namespace {

TEST(DepositBanks, NamesAndCodesGoBothWays) {
  EXPECT_EQ(bi_bank_code("BNI"), "009");
  EXPECT_EQ(bi_bank_code("bca"), "014");
  EXPECT_EQ(bank_name("009"), "BNI");
  EXPECT_EQ(bank_name("014"), "BCA");
  EXPECT_EQ(bank_name("mandiri"), "MANDIRI");  // a name, upper-cased as channel codes spell it
  EXPECT_EQ(bank_name("999"), "999");          // unknown: as it is
  for (const char* name : {"BCA", "BNI", "BRI", "MANDIRI", "PERMATA", "CIMB", "BSI", "BJB", "DBS"}) {
    EXPECT_EQ(bank_name(bi_bank_code(name)), name);
  }
}

}  // namespace
}  // namespace topupd::core

namespace topupd::core {
namespace {

TEST(DepositBanks, AQrisCodeIsExpectedToCreditTheAmountLessTheFee) {
  const Currency idr = *Currency::find("IDR");
  DepositDestination qris;
  qris.kind = DepositDestination::Kind::qris;
  qris.fee_basis_points = 70;  // 0.7 %
  EXPECT_EQ(expected_credit(qris, Money(1'000'000'00, idr)), Money(993'000'00, idr));
  EXPECT_EQ(expected_credit(qris, Money(1'01, idr)), Money(1'01, idr));  // 0.7 % of 101 minor units rounds to 0
  EXPECT_EQ(expected_credit(qris, Money(1'43, idr)), Money(1'42, idr));
  qris.fee_basis_points = 0;
  EXPECT_EQ(expected_credit(qris, Money(5'00, idr)), Money(5'00, idr));
  DepositDestination va;
  va.kind = DepositDestination::Kind::ticket;
  va.fee_basis_points = 70;  // only QRIS keeps a fee
  EXPECT_EQ(expected_credit(va, Money(1'000'000'00, idr)), Money(1'000'000'00, idr));
}

// The journal as core reads it: the whole of it, or the records at some numbers (one
// account's, one rule's), in journal order both ways.
TEST(JournalViewTest, PicksTheNumberedRecordsInJournalOrderBothWays) {
  TopUpRecord other = record("b", 0, "", TopUpState::submitted, t0, "other-low");
  other.account = "other";
  // Numbered from 10: 10 and 12 are payout's, 11 and 13 another account's.
  const std::vector<TopUpRecord> journal{record("a", 0, "", TopUpState::succeeded, t0), other,
                                         record("c", 0, "", TopUpState::failed, t0 + 1s), other};
  const auto keys = [](const JournalView& view) {
    std::vector<std::string> out;
    for (const auto& r : view) out.push_back(r.key);
    return out;
  };
  const std::vector<std::size_t> payout{10, 12};
  const JournalView picked(journal, payout, 10);
  EXPECT_EQ(picked.size(), 2u);
  EXPECT_EQ(keys(picked), (std::vector<std::string>{"a", "c"}));
  std::vector<std::string> backwards;
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) backwards.push_back(it->key);
  EXPECT_EQ(backwards, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(keys(JournalView(journal)), (std::vector<std::string>{"a", "b", "c", "b"}));
  EXPECT_TRUE(JournalView(journal, {}, 10).empty());
}

// What payout-low sees of its in-flight top-ups, caps and continuation is the same from
// its own records as from the whole journal, where another account's open top-up and
// another rule's spending sit between its own.
TEST(JournalViewTest, ARulesInputsFromItsOwnRecordsAreThoseFromTheWholeJournal) {
  Rule rule = two_rail_rule();
  rule.top_up->limits.per_day = rp(10'000);
  TopUpRecord elsewhere = record("x1", 0, "", TopUpState::submitted, t0 + 1s, "other-low");
  elsewhere.account = "other";
  const std::vector<TopUpRecord> journal{record("n0", 0, "", TopUpState::succeeded, t0), elsewhere,
                                         record("y2", 0, "", TopUpState::succeeded, t0 + 2s, "payout-sweep"),
                                         record("n3", 0, "", TopUpState::failed, t0 + 3s)};
  const std::vector<std::size_t> account{0, 2, 3};
  const std::vector<std::size_t> own_rule{0, 3};
  AccountWatch payout;
  payout.latest = Observation{"payout", rp(200), t0 + 4s};
  const WatchOf none = [](const std::string&) -> const AccountWatch* { return nullptr; };
  std::vector<Credit> whole_credits, picked_credits;
  const RuleInputs whole =
      gather_rule_inputs(rule, payout, none, journal, journal, idr(), TimeZone::utc(), t0 + 5s, whole_credits);
  const RuleInputs picked = gather_rule_inputs(rule, payout, none, JournalView(journal, account, 0),
                                               JournalView(journal, own_rule, 0), idr(), TimeZone::utc(), t0 + 5s,
                                               picked_credits);
  EXPECT_FALSE(whole.top_up_in_flight);  // the other account's open top-up is not this one's
  EXPECT_EQ(picked.top_up_in_flight, whole.top_up_in_flight);
  ASSERT_TRUE(whole.continues);
  ASSERT_TRUE(picked.continues);
  EXPECT_EQ(picked.continues->need, "n3");
  EXPECT_EQ(picked.continues->rail, whole.continues->rail);
  ASSERT_TRUE(whole.usage);
  ASSERT_TRUE(picked.usage);
  EXPECT_EQ(whole.usage->count, 1u);  // n0 today; the failed n3 and the sweep rule's y2 do not count
  EXPECT_EQ(picked.usage->count, whole.usage->count);
  EXPECT_EQ(picked.usage->amount, whole.usage->amount);
}

}  // namespace
}  // namespace topupd::core
