// The alert dispatcher driven without processes or sockets: recording notifiers, the
// real SQLite store in memory (the outbox), a fake clock.
#include "alert_dispatcher.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/loop.hpp"
#include "fakes/recording_notifier.hpp"

namespace topupd::app {
namespace {

using namespace std::chrono_literals;
using testing::run_until;

class AlertDispatcherTest : public ::testing::Test {
 protected:
  AlertDispatcherTest() {
    dispatcher_.configure({notifier_config("ops"), notifier_config("am")});
  }

  static config::NotifierConfig notifier_config(const std::string& name) {
    config::NotifierConfig c;
    c.name = name;
    c.type = name == "am" ? config::NotifierType::alertmanager : config::NotifierType::webhook;
    return c;
  }

  adapters::Notification alert(core::DecisionKind kind, const std::string& rule = "payout-low") {
    adapters::Notification n;
    n.kind = kind;
    n.rule = rule;
    n.account = "payout";
    n.severity = "warning";
    n.reason = "balance low";
    n.at = n.fired_at = clock_.now();
    return n;
  }

  asio::io_context io_;
  testing::FakeClock clock_;
  testing::FixedRandom random_;
  adapters::Metrics metrics_{"test", "test"};
  std::unique_ptr<adapters::Store> store_ = adapters::open_sqlite_store(":memory:");
  std::shared_ptr<testing::RecordingNotifier> ops_ = std::make_shared<testing::RecordingNotifier>();
  std::shared_ptr<testing::RecordingNotifier> am_ = std::make_shared<testing::RecordingNotifier>(true);
  AlertDispatcher dispatcher_{io_, clock_, random_, metrics_, *store_, *store_,
                              [this](const config::NotifierConfig& c) -> std::shared_ptr<adapters::Notifier> {
                                if (c.name == "am") return am_;
                                return ops_;
                              }};
};

TEST_F(AlertDispatcherTest, EveryNotifierNamedGetsTheMessageInOrderAndTheOutboxEmpties) {
  dispatcher_.enqueue(alert(core::DecisionKind::alert_firing), {"ops", "am"});
  dispatcher_.enqueue(alert(core::DecisionKind::alert_resolved), {"ops", "am"});
  ASSERT_TRUE(run_until(io_, [&] { return ops_->batches.size() + am_->batches.size() >= 2 &&
                                     store_->pending_notifications("ops", 10).empty() &&
                                     store_->pending_notifications("am", 10).empty(); }));
  std::vector<core::DecisionKind> ops_kinds;
  for (const auto& batch : ops_->batches) {
    for (const auto& n : batch) ops_kinds.push_back(n.kind);
  }
  EXPECT_EQ(ops_kinds, (std::vector<core::DecisionKind>{core::DecisionKind::alert_firing,
                                                         core::DecisionKind::alert_resolved}));
  dispatcher_.stop();
}

TEST_F(AlertDispatcherTest, WhatPeopleAreSparedGoesOnlyToNotifiersThatHearEveryChange) {
  dispatcher_.enqueue(alert(core::DecisionKind::alert_resolved), {"ops", "am"}, true);
  ASSERT_TRUE(run_until(io_, [&] { return am_->batches.size() == 1; }));
  EXPECT_TRUE(ops_->batches.empty());
  EXPECT_TRUE(store_->pending_notifications("ops", 10).empty());  // never even queued for people
  dispatcher_.stop();
}

TEST_F(AlertDispatcherTest, ASilenceHoldsEverythingBackUntilLifted) {
  dispatcher_.silence({"payout-low", adapters::SilenceKind::silence, "bank maintenance", clock_.now(), clock_.now() + 1h});
  dispatcher_.enqueue(alert(core::DecisionKind::alert_firing), {"ops"});
  EXPECT_TRUE(store_->pending_notifications("ops", 10).empty());
  EXPECT_EQ(store_->silences(clock_.now()).size(), 1u);  // it survives a restart
  EXPECT_TRUE(dispatcher_.unsilence("payout-low"));
  EXPECT_FALSE(dispatcher_.unsilence("payout-low"));
  dispatcher_.enqueue(alert(core::DecisionKind::alert_firing), {"ops"});
  ASSERT_TRUE(run_until(io_, [&] { return ops_->batches.size() == 1; }));
  dispatcher_.stop();
}

TEST_F(AlertDispatcherTest, AnAckHoldsBackRepeatsOnlyAndEndsWhenTheAlertResolves) {
  dispatcher_.silence({"payout", adapters::SilenceKind::ack, "on it", clock_.now(), clock_.now() + 1h});
  dispatcher_.enqueue(alert(core::DecisionKind::alert_repeat), {"ops"});
  EXPECT_TRUE(store_->pending_notifications("ops", 10).empty());
  dispatcher_.enqueue(alert(core::DecisionKind::alert_resolved), {"ops"});
  EXPECT_EQ(store_->pending_notifications("ops", 10).size(), 1u);
  EXPECT_TRUE(dispatcher_.active_silences(clock_.now()).empty());
  EXPECT_TRUE(store_->silences(clock_.now()).empty());
  dispatcher_.stop();
}

TEST_F(AlertDispatcherTest, ASilenceExpiresByItself) {
  dispatcher_.silence({"payout", adapters::SilenceKind::silence, "night", clock_.now(), clock_.now() + 1h});
  clock_.advance(1h);
  EXPECT_TRUE(dispatcher_.active_silences(clock_.now()).empty());
  dispatcher_.enqueue(alert(core::DecisionKind::alert_firing), {"ops"});
  EXPECT_EQ(store_->pending_notifications("ops", 10).size(), 1u);
  dispatcher_.stop();
}

TEST_F(AlertDispatcherTest, ARefusedMessageIsNotSentAgain) {
  ops_->answers.push_back(adapters::DeliveryResult::rejected("HTTP 404"));
  dispatcher_.enqueue(alert(core::DecisionKind::alert_firing), {"ops"});
  ASSERT_TRUE(run_until(io_, [&] { return ops_->batches.size() == 1 && store_->pending_notifications("ops", 10).empty(); }));
  io_.restart();
  io_.run_for(50ms);
  EXPECT_EQ(ops_->batches.size(), 1u);
  dispatcher_.stop();
}

}  // namespace
}  // namespace topupd::app
