// The top-up executor after the answer: money verified in the balance, top-ups stuck
// on the way, finished ones leaving memory, and a journal the store refused to update
// catching up.
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "app/top_up_executor_fixture.hpp"

namespace topupd::app::testing_executor {
namespace {

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

TEST_F(TopUpExecutorTest, AnOutcomeTheStoreRefusedIsJournalledOnceItTakesWritesAgain) {
  // The store in a file, so that a second connection can make it refuse updates of the
  // journal, as a database restarting or a full disk does.
  char dir_template[] = "/tmp/topupd-executor-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::filesystem::path dir(dir_template);
  executor_.reset();
  store_ = adapters::open_sqlite_store((dir / "topupd.db").string());
  executor_ = make_executor();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "topupd.db").c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  auto exec = [&](const char* sql) { ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql; };
  auto store_errors = [&] {
    const std::string text = metrics_.serialize();
    const std::string series = "topupd_store_errors_total{operation=\"transition\"} ";
    const auto at = text.find(series);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + series.size()));
  };

  const auto d = decision();
  provider_->submit_faults.push_back({{FailureKind::outcome_unknown, "http_5xx", "HTTP 502"}, true});
  execute(d);
  ASSERT_EQ(journalled_states(d.idempotency_key), (std::vector<std::string>{"planned", "submitted", "unknown"}));

  exec("CREATE TRIGGER refuse BEFORE UPDATE ON top_ups BEGIN SELECT RAISE(ABORT, 'disk full'); END");
  run(executor_->reconcile("payout"));  // found: it succeeded
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(journalled_states(d.idempotency_key), (std::vector<std::string>{"planned", "submitted", "unknown"}));
  const double refused = store_errors();
  EXPECT_GE(refused, 1.0);
  executor_->catch_up_journal();  // still refused: kept, counted, tried again later
  EXPECT_GT(store_errors(), refused);
  clock_.advance(49h);
  executor_->forget_old_top_ups(clock_.now());  // what the journal lacks is not forgotten
  EXPECT_EQ(state_of(d.idempotency_key), TopUpState::succeeded);

  exec("DROP TRIGGER refuse");
  executor_->catch_up_journal();
  EXPECT_EQ(journalled_states(d.idempotency_key),
            (std::vector<std::string>{"planned", "submitted", "unknown", "succeeded"}));
  EXPECT_TRUE(store_->open_top_ups().empty());
  const double after = store_errors();
  executor_->catch_up_journal();  // written once
  EXPECT_EQ(journalled_states(d.idempotency_key).size(), 4u);
  EXPECT_EQ(store_errors(), after);
  executor_->forget_old_top_ups(clock_.now());
  EXPECT_TRUE(executor_->journal().empty());
  EXPECT_EQ(provider_->submits[d.idempotency_key], 1);

  sqlite3_close(db);
  executor_.reset();
  store_.reset();
  std::filesystem::remove_all(dir);
}

// The keys of the journal's records, and of those a poll of `payout` (its rule, `low`) reads.
std::vector<std::string> keys_of(const core::JournalView& records) {
  std::vector<std::string> out;
  for (const auto& record : records) out.push_back(record.key);
  return out;
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
  // What a poll of the account reads is what the journal still holds.
  const std::vector<std::string> kept{still_open.idempotency_key, newer_done.idempotency_key};
  EXPECT_EQ(keys_of(executor_->records_of_account("payout")), kept);
  EXPECT_EQ(keys_of(executor_->records_of_rule("low")), kept);
  EXPECT_TRUE(executor_->records_of_account("other").empty());
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
  EXPECT_TRUE(executor_->records_of_account("payout").empty());
  // The store keeps every one of them.
  EXPECT_EQ(journalled_states(old_done.idempotency_key), (std::vector<std::string>{"planned", "submitted", "succeeded"}));
  // A new top-up after forgetting is journalled, sent and found like any other.
  const auto later = decision(4);
  execute(later);
  EXPECT_EQ(state_of(later.idempotency_key), TopUpState::succeeded);
  EXPECT_EQ(provider_->ledger.size(), 4u);
  EXPECT_EQ(keys_of(executor_->records_of_rule("low")), std::vector<std::string>{later.idempotency_key});
}

}  // namespace
}  // namespace topupd::app::testing_executor
