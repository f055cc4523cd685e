// The top-up executor sending, looking up and approving: each request leaves once,
// journalled first, and an unknown outcome is looked up, never sent blindly again.
#include <gtest/gtest.h>

#include "app/top_up_executor_fixture.hpp"

namespace topupd::app::testing_executor {
namespace {

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

TEST_F(TopUpExecutorTest, TheCountOfEachStateFollowsEveryRecordAsItArrivesMovesAndLeaves) {
  expect_state_gauges_count_the_journal("empty");
  execute(decision(1));  // planned, submitted, succeeded
  provider_->submit_faults.push_back({{FailureKind::not_retryable, "declined", "no"}, false});
  execute(decision(2));  // failed
  provider_->outcome = adapters::ProviderTopUpStatus::pending;
  const auto pending = decision(3);
  execute(pending);
  const auto approved = decision(4, true), rejected = decision(5, true), expiring = decision(6, true);
  for (const auto* d : {&approved, &rejected, &expiring}) execute(*d);
  expect_state_gauges_count_the_journal("planned and sent");
  EXPECT_EQ(executor_->decide(rejected.idempotency_key, false, "ana", "in the console").refused, std::nullopt);
  expect_state_gauges_count_the_journal("rejected");
  EXPECT_TRUE(executor_->decide(approved.idempotency_key, true, "ana", "in the console").released);
  expect_state_gauges_count_the_journal("released");
  io_.restart();
  io_.run();
  expect_state_gauges_count_the_journal("approved and sent");
  EXPECT_EQ(state_of(approved.idempotency_key), TopUpState::pending);

  // Another instance on the same store settles the pending two and starts one of its own;
  // this one reads the account's records again, as when it takes the account over.
  provider_->ledger.at(pending.idempotency_key).status = adapters::ProviderTopUpStatus::succeeded;
  provider_->ledger.at(approved.idempotency_key).status = adapters::ProviderTopUpStatus::succeeded;
  adapters::Metrics their_metrics{"test", "test"};
  auto other = make_executor(&their_metrics);
  other->load(store_->open_top_ups());
  run(other->reconcile("payout"));
  const auto theirs = decision(7);
  run(other->execute(theirs, TopUpRoute{"bank", "payout-id", "123"}, core::RuleState{}));
  other.reset();
  executor_->adopt("payout", store_->top_ups_created_since(clock_.now() - 1h));
  EXPECT_EQ(state_of(pending.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(state_of(theirs.idempotency_key), TopUpState::pending);
  expect_state_gauges_count_the_journal("adopted");
  run(executor_->reconcile("payout"));
  expect_state_gauges_count_the_journal("looked up");

  clock_.advance(rule_.top_up->limits.approval_expires);
  run(executor_->reconcile("payout"));
  EXPECT_EQ(state_of(expiring.idempotency_key), TopUpState::expired);
  expect_state_gauges_count_the_journal("expired");

  // A restart: the open one is looked up again.
  executor_->load(store_->top_ups_created_since(clock_.now() - 48h));
  expect_state_gauges_count_the_journal("loaded");

  for (auto& [key, entry] : provider_->ledger) entry.status = adapters::ProviderTopUpStatus::succeeded;
  clock_.advance(49h);
  run(executor_->reconcile("payout"));  // the last open one settles now: it stays two days more
  const std::size_t before = executor_->journal().size();
  executor_->forget_old_top_ups(clock_.now());
  EXPECT_LT(executor_->journal().size(), before);
  EXPECT_FALSE(executor_->journal().empty());
  expect_state_gauges_count_the_journal("some forgotten");
  clock_.advance(49h);
  executor_->forget_old_top_ups(clock_.now());
  EXPECT_TRUE(executor_->journal().empty());
  expect_state_gauges_count_the_journal("all forgotten");
}

}  // namespace
}  // namespace topupd::app::testing_executor
