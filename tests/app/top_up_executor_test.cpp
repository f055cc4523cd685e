// The top-up executor driven without processes or sockets: a scripted provider, the
// real SQLite store in memory, a fake clock. The provider's ledger is the witness.
#include "top_up_executor.hpp"

#include <boost/asio/co_spawn.hpp>
#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_provider.hpp"
#include "fakes/loop.hpp"

namespace topupd::app {
namespace {

using adapters::FailureKind;
using core::TopUpState;
using namespace std::chrono_literals;

core::Money idr(std::int64_t major) { return core::Money(major * 100, *core::Currency::find("IDR")); }

// A rule that tops `payout` up by IDR 1,000 through `bank` and alerts `ops`.
core::Rule top_up_rule() {
  return core::Rule{
      .name = "low", .account = "payout", .enabled = true,
      .when = {core::Condition::Kind::below, idr(100), core::Duration(0), core::Duration(0), std::nullopt},
      .hold_for = core::Duration(0), .clear = std::nullopt,
      .alert = core::AlertSpec{"warning", {"ops"}, core::Duration(0), true},
      .top_up = core::TopUpSpec{core::TopUpMethod::direct_debit, "bank", "123",
                                core::AmountSpec{core::AmountSpec::Kind::fixed, idr(1'000), 0, std::nullopt,
                                                 std::nullopt, std::nullopt},
                                std::nullopt, core::Limits{}, core::Verification{}}};
}

class TopUpExecutorTest : public ::testing::Test {
 protected:
  TopUpExecutorTest() {
    watch_.name = "payout";
    executor_ = std::make_unique<TopUpExecutor>(
        io_, clock_, metrics_, *store_, durability_,
        ExecutorNeighbours{
            [this](const std::string& name) { return name == "payout" ? &watch_ : nullptr; },
            [this](const std::string& name) { return name == rule_.name ? &rule_ : nullptr; },
            [this](const adapters::Notification& n, const std::vector<std::string>&) { alerts_.push_back(n); },
            [] {},
            [this](const std::string& rule, const std::optional<std::string>& failure, const std::string&) {
              outcomes_.push_back(rule + " " + failure.value_or("succeeded"));
            }});
    executor_->configure({{"bank", provider_}}, false);
  }

  core::Decision decision(std::uint32_t sequence = 0, bool needs_approval = false) {
    core::Decision d{core::DecisionKind::top_up, "low", "payout", "balance low", idr(50), idr(100), std::nullopt,
                     idr(1'000), core::idempotency_key("low", "payout", clock_.now(), sequence), rule_.top_up,
                     {}, needs_approval};
    return d;
  }

  // Runs a coroutine of the executor to its end on the test's io_context.
  template <class T>
  T run(asio::awaitable<T> work) {
    std::optional<T> out;
    asio::co_spawn(io_, std::move(work), [&](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      out = std::move(value);
    });
    io_.restart();
    io_.run();
    return *out;
  }
  void run(asio::awaitable<void> work) { ASSERT_TRUE(testing::run_to_end(io_, std::move(work))); }

  std::string execute(const core::Decision& d) {
    return run(executor_->execute(d, TopUpRoute{"bank", "payout-id", "123"}, core::RuleState{}));
  }
  TopUpState state_of(const std::string& key) {
    for (const auto& record : executor_->journal()) {
      if (record.key == key) return record.state;
    }
    ADD_FAILURE() << "no record " << key;
    return TopUpState::failed;
  }
  std::vector<std::string> journalled_states(const std::string& key) {
    std::vector<std::string> out;
    for (const auto& t : store_->transitions(key)) out.push_back(std::string(core::to_string(t.to)));
    return out;
  }

  asio::io_context io_;
  testing::FakeClock clock_;
  adapters::Metrics metrics_{"test", "test"};
  std::unique_ptr<adapters::Store> store_ = adapters::open_sqlite_store(":memory:");
  adapters::Durability durability_{io_.get_executor(), ":memory:"};
  std::shared_ptr<testing::FakeProvider> provider_ = std::make_shared<testing::FakeProvider>();
  core::Rule rule_ = top_up_rule();
  core::AccountWatch watch_;
  std::vector<adapters::Notification> alerts_;
  std::vector<std::string> outcomes_;  // "RULE succeeded" or "RULE CODE", as the executor reported them
  std::unique_ptr<TopUpExecutor> executor_;
};

TEST_F(TopUpExecutorTest, TheRecordIsDurableAndSubmittedBeforeTheRequestLeaves) {
  const auto d = decision();
  std::vector<TopUpState> seen_by_gateway;
  provider_->on_submit = [&](const adapters::TopUpRequest& request) {
    for (const auto& record : store_->open_top_ups()) {
      if (record.key == request.idempotency_key) seen_by_gateway.push_back(record.state);
    }
  };
  execute(d);
  EXPECT_EQ(seen_by_gateway, std::vector<TopUpState>{TopUpState::submitted});
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->ledger.size(), 1u);
}

TEST_F(TopUpExecutorTest, ALostAnswerIsLookedUpNotSentAgain) {
  const auto d = decision();
  provider_->submit_faults.push_back({{FailureKind::outcome_unknown, "http_5xx", "HTTP 502"}, true});
  execute(d);
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::unknown);
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);  // found by the look-up: never sent twice
  EXPECT_EQ(journalled_states(d.idempotency_key), (std::vector<std::string>{"planned", "submitted", "unknown", "succeeded"}));
}

TEST_F(TopUpExecutorTest, AnUnknownTopUpTheGatewayNeverSawIsSentAgainUnderTheSameKey) {
  const auto d = decision();
  provider_->submit_faults.push_back({{FailureKind::outcome_unknown, "timeout", "no answer"}, false});
  execute(d);
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::unknown);
  EXPECT_TRUE(provider_->ledger.empty());
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->submits[d.idempotency_key], 2);
  EXPECT_EQ(provider_->ledger.size(), 1u);  // one key, one movement
}

TEST_F(TopUpExecutorTest, AFailedLookUpChangesNothingAndIsTriedAgain) {
  const auto d = decision();
  provider_->submit_faults.push_back({{FailureKind::outcome_unknown, "timeout", "no answer"}, true});
  execute(d);
  provider_->look_up_faults.push_back({FailureKind::retryable, "http_5xx", "HTTP 503"});
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::unknown);
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);
}

TEST_F(TopUpExecutorTest, ARefusedRequestFailsAndIsNotRetried) {
  const auto d = decision();
  provider_->submit_faults.push_back({{FailureKind::not_retryable, "declined", "insufficient funds"}, false});
  execute(d);
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::failed);
  run(executor_->reconcile("payout"));
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);
  EXPECT_EQ(executor_->journal().back().last_error, "insufficient funds");
}

TEST_F(TopUpExecutorTest, AnApprovalSendsOnceAndARejectionNever) {
  const auto approved = decision(0, true);
  const auto rejected = decision(1, true);
  execute(approved);
  execute(rejected);
  EXPECT_EQ(state_of(approved.idempotency_key), TopUpState::awaiting_approval);
  EXPECT_TRUE(provider_->submits.empty());
  EXPECT_EQ(executor_->decide(rejected.idempotency_key, false, "topupctl", "with topupctl").refused, std::nullopt);
  const auto done = executor_->decide(approved.idempotency_key, true, "topupctl", "with topupctl");
  EXPECT_EQ(done.refused, std::nullopt);
  EXPECT_TRUE(done.released);
  EXPECT_EQ(done.needed, 1);
  io_.restart();
  io_.run();  // the approved request leaves from its own coroutine
  EXPECT_EQ(state_of(approved.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(state_of(rejected.idempotency_key), TopUpState::rejected);
  EXPECT_EQ(provider_->submits.count(rejected.idempotency_key), 0u);
  EXPECT_NE(executor_->decide(approved.idempotency_key, true, "topupctl", "with topupctl").refused,
            std::nullopt);  // not twice
  EXPECT_EQ(provider_->submits[approved.idempotency_key], 1);
}

TEST_F(TopUpExecutorTest, AboveTheDualThresholdTwoDistinctApproversReleaseItOnce) {
  rule_.top_up->limits.dual_approval_above = idr(500);  // the decisions are for IDR 1,000
  const auto d = decision(0, true);
  execute(d);
  const auto first = executor_->decide(d.idempotency_key, true, "ana", "in the console");
  EXPECT_EQ(first.refused, std::nullopt);
  EXPECT_FALSE(first.released);
  EXPECT_EQ(first.approvals, 1);
  EXPECT_EQ(first.needed, 2);
  const auto again = executor_->decide(d.idempotency_key, true, "ana", "in the console");
  EXPECT_FALSE(again.released) << "the same approver twice is one approval";
  EXPECT_EQ(again.approvals, 1);
  io_.restart();
  io_.run();
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::awaiting_approval);
  EXPECT_TRUE(provider_->submits.empty());

  const auto second = executor_->decide(d.idempotency_key, true, "budi", "in the console");
  EXPECT_TRUE(second.released);
  EXPECT_EQ(second.approvals, 2);
  io_.restart();
  io_.run();
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);
  const auto history = store_->transitions(d.idempotency_key);
  ASSERT_GE(history.size(), 2u);
  EXPECT_EQ(history[1].note, "approved in the console by ana, budi");
  EXPECT_NE(executor_->decide(d.idempotency_key, true, "citra", "in the console").refused, std::nullopt);
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);
}

TEST_F(TopUpExecutorTest, AnApprovalExpiresAtTheNextLookAfterItsTime) {
  const auto d = decision(0, true);
  execute(d);
  clock_.advance(rule_.top_up->limits.approval_expires);
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::expired);
  EXPECT_TRUE(provider_->submits.empty());
}

TEST_F(TopUpExecutorTest, PausedOrDryRunJournalsAndSendsNothing) {
  executor_->set_paused(true);
  EXPECT_EQ(execute(decision(0)), "not started: topupd is paused");
  executor_->set_paused(false);
  executor_->configure({{"bank", provider_}}, true);
  EXPECT_NE(execute(decision(1)).find("dry run"), std::string::npos);
  EXPECT_TRUE(executor_->journal().empty());
  EXPECT_TRUE(store_->open_top_ups().empty());
  EXPECT_TRUE(provider_->submits.empty());
}

TEST_F(TopUpExecutorTest, TheSameDecisionTwiceIsJournalledOnce) {
  const auto d = decision();
  provider_->outcome = adapters::ProviderTopUpStatus::pending;
  execute(d);
  EXPECT_NE(execute(d).find("already journalled"), std::string::npos);
  EXPECT_EQ(executor_->journal().size(), 1u);
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);
}

TEST_F(TopUpExecutorTest, ARestartMakesASubmittedTopUpUnknownAndLooksItUp) {
  const auto d = decision();
  provider_->outcome = adapters::ProviderTopUpStatus::pending;
  provider_->submit_faults.push_back({{FailureKind::outcome_unknown, "timeout", "no answer"}, true});
  execute(d);
  // As the journal would hold it had topupd died with the request on the wire.
  core::TopUpRecord on_the_wire = executor_->journal().back();
  on_the_wire.state = TopUpState::submitted;
  provider_->ledger.begin()->second.status = adapters::ProviderTopUpStatus::succeeded;
  executor_->load({on_the_wire});
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::unknown);
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);
}

TEST_F(TopUpExecutorTest, MoneyThatNeverShowsInTheBalanceRaisesTopUpNotReflected) {
  watch_.latest = core::Observation{"payout", idr(50), clock_.now()};
  clock_.advance(1s);
  const auto d = decision();
  execute(d);
  ASSERT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  // A poll that shows half of it is not enough.
  executor_->observed("payout", {"payout", idr(550), clock_.now() + 1s});
  executor_->expire_verifications(clock_.now() + rule_.top_up->verify.within - 1s);
  EXPECT_TRUE(alerts_.empty());
  executor_->expire_verifications(clock_.now() + rule_.top_up->verify.within + 1s);
  ASSERT_EQ(alerts_.size(), 1u);
  EXPECT_NE(alerts_[0].reason.find("TopUpNotReflected"), std::string::npos);
}

TEST_F(TopUpExecutorTest, MoneyThatShowsInTheBalanceIsVerifiedQuietly) {
  watch_.latest = core::Observation{"payout", idr(50), clock_.now()};
  clock_.advance(1s);
  execute(decision());
  executor_->observed("payout", {"payout", idr(1'040), clock_.now() + 1s});  // within the 5 % tolerance
  executor_->expire_verifications(clock_.now() + 1h);
  EXPECT_TRUE(alerts_.empty());
}

// A deposit's money can land before topupd hears it succeeded (a person paid, a payout
// settled, and the look-up comes later): the polls in between already show it, so the
// balance before it is the lowest seen since it was planned, not the poll before the news.
TEST_F(TopUpExecutorTest, ADepositWhoseMoneyLandedBeforeItsSuccessWasHeardIsStillVerified) {
  core::DepositSpec deposit;
  deposit.to.bank = "014";
  deposit.to.account_no = "7770001234";
  deposit.to.name = "PT Topup";
  deposit.pay_with.via = "bank";
  deposit.pay_with.from_account = "123";
  rule_.top_up->method = core::TopUpMethod::deposit;
  rule_.top_up->deposit = deposit;
  watch_.latest = core::Observation{"payout", idr(50), clock_.now()};
  clock_.advance(1s);
  provider_->outcome = adapters::ProviderTopUpStatus::pending;
  const auto d = decision();
  TopUpRoute route{"bank", "payout-id", "123"};
  route.destination = core::DepositTicket{"", "014", "7770001234", "PT Topup", std::nullopt};
  run(executor_->execute(d, route, core::RuleState{}));
  ASSERT_EQ(state_of(d.idempotency_key), TopUpState::pending);
  const auto poll = [&](std::int64_t balance) {
    clock_.advance(1s);
    watch_.previous = watch_.latest;
    watch_.latest = core::Observation{"payout", idr(balance), clock_.now()};
    executor_->observed("payout", *watch_.latest);
  };
  poll(48);
  poll(1'045);  // the money is there
  poll(1'044);
  provider_->ledger.begin()->second.status = adapters::ProviderTopUpStatus::succeeded;
  run(executor_->reconcile("payout"));  // and only now topupd hears it succeeded
  ASSERT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  poll(1'043);
  executor_->expire_verifications(clock_.now() + 1h);
  for (const auto& alert : alerts_) EXPECT_EQ(alert.reason.find("TopUpNotReflected"), std::string::npos) << alert.reason;
}

TEST_F(TopUpExecutorTest, ATopUpPendingPastStuckAfterAlertsOnceAndResolvesWhenItEnds) {
  watch_.latest = core::Observation{"payout", idr(50), clock_.now()};
  provider_->outcome = adapters::ProviderTopUpStatus::pending;
  const auto d = decision();
  execute(d);
  ASSERT_EQ(state_of(d.idempotency_key), TopUpState::pending);
  const core::Timestamp sent = clock_.now();
  executor_->watch_stuck(sent);
  executor_->watch_stuck(sent + 29min);
  EXPECT_TRUE(alerts_.empty());
  executor_->watch_stuck(sent + 31min);
  ASSERT_EQ(alerts_.size(), 1u);
  const adapters::Notification stuck = alerts_[0];
  EXPECT_EQ(stuck.kind, core::DecisionKind::alert_firing);
  EXPECT_EQ(stuck.alert, "TopUpStuck");
  EXPECT_EQ(stuck.rule, "low");
  ASSERT_TRUE(stuck.top_up);
  EXPECT_EQ(stuck.top_up->key, d.idempotency_key);
  EXPECT_EQ(stuck.top_up->state, "pending");
  for (const std::string& part : {d.idempotency_key, std::string("pending for 31m"), "ref-" + d.idempotency_key}) {
    EXPECT_NE(stuck.reason.find(part), std::string::npos) << stuck.reason;
  }
  executor_->watch_stuck(sent + 40min);
  EXPECT_EQ(alerts_.size(), 1u);  // once
  // The gateway settles it; the next look-up finds it, and the alert resolves.
  provider_->ledger.at(d.idempotency_key).status = adapters::ProviderTopUpStatus::succeeded;
  clock_.advance(45min);
  run(executor_->reconcile("payout"));
  executor_->watch_stuck(clock_.now());
  ASSERT_EQ(alerts_.size(), 2u);
  EXPECT_EQ(alerts_[1].kind, core::DecisionKind::alert_resolved);
  EXPECT_EQ(alerts_[1].fired_at, stuck.fired_at);
  EXPECT_NE(alerts_[1].reason.find("ended succeeded after 45m"), std::string::npos) << alerts_[1].reason;
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);
}

TEST_F(TopUpExecutorTest, EachEndIsReportedWithItsCodedReason) {
  execute(decision(1));
  provider_->submit_faults.push_back({{FailureKind::not_retryable, "insufficient_funds", "HTTP 403 (insufficient funds)"}, false});
  execute(decision(2));
  provider_->submit_faults.push_back({{FailureKind::not_retryable, "unknown_account", "HTTP 404"}, false});
  execute(decision(3));
  provider_->submit_faults.push_back({{FailureKind::outcome_unknown, "timeout", "no answer"}, true});
  execute(decision(4));
  run(executor_->reconcile("payout"));  // found: it succeeded after all
  EXPECT_EQ(outcomes_, (std::vector<std::string>{"low succeeded", "low insufficient_funds", "low declined",
                                                 "low unknown_outcomes", "low succeeded"}));
}

TEST_F(TopUpExecutorTest, FinishedTopUpsNoRuleLooksAtLeaveMemoryAndOpenOnesStay) {
  const auto old_done = decision(1);
  execute(old_done);
  clock_.advance(1min);
  provider_->outcome = adapters::ProviderTopUpStatus::pending;
  const auto still_open = decision(2);
  execute(still_open);
  provider_->outcome = adapters::ProviderTopUpStatus::succeeded;
  clock_.advance(1min);
  const auto newer_done = decision(3);
  execute(newer_done);
  ASSERT_EQ(state_of(still_open.idempotency_key), TopUpState::pending);

  // Two days on, only the oldest goes: an open top-up keeps itself and what follows it.
  clock_.advance(49h);
  executor_->forget_old_top_ups(clock_.now());
  ASSERT_EQ(executor_->journal().size(), 2u);
  EXPECT_EQ(executor_->journal().front().key, still_open.idempotency_key);
  // The open one is still looked up and settled, under its own key, with nothing sent twice.
  provider_->ledger.at(still_open.idempotency_key).status = adapters::ProviderTopUpStatus::succeeded;
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(still_open.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->ledger.size(), 3u);
  for (const auto* d : {&old_done, &still_open, &newer_done}) EXPECT_EQ(provider_->submits[d->idempotency_key], 1);
  // It settled just now: runway may count it for the next two days.
  executor_->forget_old_top_ups(clock_.now());
  EXPECT_EQ(executor_->journal().size(), 2u);
  clock_.advance(49h);
  executor_->forget_old_top_ups(clock_.now());
  EXPECT_TRUE(executor_->journal().empty());
  // The store keeps every one of them.
  EXPECT_EQ(journalled_states(old_done.idempotency_key), (std::vector<std::string>{"planned", "submitted", "succeeded"}));
  // A new top-up after forgetting is journalled, sent and found like any other.
  const auto later = decision(4);
  execute(later);
  EXPECT_EQ(state_of(later.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->ledger.size(), 4u);
}

}  // namespace
}  // namespace topupd::app
