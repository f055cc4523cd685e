// The poller driven without sockets: a scripted gateway, the real rule runner and
// executor, the real SQLite store in memory.
#include "poller.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"
#include "fakes/loop.hpp"
#include "fakes/fake_provider.hpp"

namespace topupd::app {
namespace {

using namespace std::chrono_literals;
using testing::run_until;

const char* kConfig = R"(timezone: Asia/Jakarta
providers:
  bank: {type: sandbox, accounts: {payout: {balance: IDR 0}}}
accounts:
  payout: {provider: bank, currency: IDR, poll: {every: 1h, timeout: 5s, jitter: 0%}}
notifiers:
  ops: {type: log}
rules:
  - name: payout-low
    account: payout
    when: {below: IDR 100}
    alert: {severity: warning, notify: [ops]}
)";

// The same account with a rule that tops it up to IDR 150.00 when it falls below IDR 100.00.
const char* kTopUpConfig = R"(timezone: Asia/Jakarta
providers:
  bank: {type: sandbox, accounts: {payout: {balance: IDR 0}}}
accounts:
  payout: {provider: bank, currency: IDR, poll: {every: 1h, timeout: 5s, jitter: 0%}}
rules:
  - name: payout-low
    account: payout
    when: {below: IDR 100}
    top_up: {method: direct_debit, from_account: "123", amount: {to_target: IDR 150}}
)";

class PollerTest : public ::testing::Test {
 protected:
  explicit PollerTest(const char* yaml = kConfig, std::optional<core::Timestamp> start = std::nullopt) {
    if (start) clock_.advance(*start - clock_.now());
    auto loaded = config::load_string(yaml, "poller.yaml", config::SecretSources::from_process());
    if (!loaded.config) ADD_FAILURE() << loaded.diagnostics.at(0).to_string();
    config_ = std::move(*loaded.config);
    gateway_->balance_value = core::Money(50'00, *core::Currency::find("IDR"));
    executor_.configure({{"bank", gateway_}}, false);
    runner_.configure(config_);
    poller_.configure(config_, {{"bank", gateway_}});
    poller_.start(config_);
  }
  ~PollerTest() override {
    poller_.stop();
    io_.restart();
    io_.run_for(100ms);  // the loops end once stopped
  }

  config::Config config_;
  asio::io_context io_;
  testing::FakeClock clock_;
  testing::FixedRandom random_;
  adapters::Metrics metrics_{"test", "test"};
  std::unique_ptr<adapters::Store> store_ = adapters::open_sqlite_store(":memory:");
  adapters::Durability durability_{io_.get_executor(), ":memory:"};
  std::shared_ptr<testing::FakeProvider> gateway_ = std::make_shared<testing::FakeProvider>();
  std::vector<core::DecisionKind> alerts_;
  TopUpExecutor executor_{io_, clock_, metrics_, *store_, durability_,
                          ExecutorNeighbours{[this](const std::string& name) { return poller_.watch(name); },
                                             [this](const std::string& name) { return runner_.find(name); },
                                             [](const adapters::Notification&, const std::vector<std::string>&) {},
                                             [] {}}};
  RuleRunner runner_{metrics_, *store_, executor_,
                     RuleRunnerNeighbours{[this](const std::string& name) { return poller_.watch(name); },
                                          [this](const core::Decision& d, const std::string&, const std::string&) {
                                            alerts_.push_back(d.kind);
                                          }}};
  Poller poller_{io_, clock_, random_, metrics_, executor_, runner_};
};

TEST_F(PollerTest, TheFirstPollFeedsTheWatchAndTheRules) {
  ASSERT_TRUE(run_until(io_, [&] { return !alerts_.empty(); }));
  EXPECT_EQ(alerts_, std::vector<core::DecisionKind>{core::DecisionKind::alert_firing});
  ASSERT_NE(poller_.watch("payout"), nullptr);
  EXPECT_EQ(poller_.watch("payout")->latest->balance.minor(), 50'00);
  EXPECT_TRUE(poller_.fresh_latest("payout", clock_.now()));
  EXPECT_EQ(gateway_->balance_reads, 1);
}

TEST_F(PollerTest, AWebhookWakePollsAtOnce) {
  ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == 1 && !alerts_.empty(); }));
  gateway_->balance_value = core::Money(500'00, *core::Currency::find("IDR"));
  poller_.wake("payout");  // without it, the next poll is an hour away
  ASSERT_TRUE(run_until(io_, [&] { return alerts_.size() == 2; }));
  EXPECT_EQ(alerts_.back(), core::DecisionKind::alert_resolved);
  EXPECT_EQ(gateway_->balance_reads, 2);
}

TEST_F(PollerTest, AFailingGatewayKeepsItsBackoffAgainstWakes) {
  gateway_->balance_faults.push_back({adapters::FailureKind::retryable, "http_5xx", "HTTP 503"});
  // The read is asked for before its failure is counted: wait for the count.
  ASSERT_TRUE(run_until(io_, [&] { return poller_.watch("payout")->consecutive_failures == 1; }));
  EXPECT_EQ(gateway_->balance_reads, 1);
  EXPECT_FALSE(poller_.fresh_latest("payout", clock_.now()));
  poller_.wake("payout");
  io_.restart();
  io_.run_for(100ms);
  EXPECT_EQ(gateway_->balance_reads, 1);  // no storm of polls at a gateway that is down
}

TEST_F(PollerTest, ABalanceInAnotherCurrencyIsAFailedPollNotAReading) {
  // A gateway whose answer names its own currency (the generic API) may name another.
  gateway_->balance_value = core::Money(50'00, *core::Currency::find("PHP"));
  ASSERT_TRUE(run_until(io_, [&] { return poller_.watch("payout")->consecutive_failures == 1; }));
  EXPECT_FALSE(poller_.watch("payout")->latest.has_value());
  EXPECT_TRUE(alerts_.empty()) << "a PHP amount was compared with an IDR threshold";
  EXPECT_NE(metrics_.serialize().find(R"(topupd_poll_errors_total{account="payout",reason="currency_mismatch"} 1)"),
            std::string::npos)
      << metrics_.serialize();
}

TEST_F(PollerTest, RuleStatesTakenOverFromAnotherInstanceAreTakenAsOfThisClock) {
  // Another instance, its clock three hours ahead, kept the rule firing since its now.
  const core::Timestamp now = clock_.now();
  core::RuleState kept;
  kept.phase = core::RulePhase::firing;
  kept.condition_since = now + 3h;
  kept.fired_at = now + 3h;
  kept.last_alert_at = now + 3h;
  runner_.adopt_states({{"payout-low", kept}}, {"payout"}, now);
  const core::RuleState adopted = runner_.state("payout-low");
  EXPECT_EQ(adopted.phase, core::RulePhase::firing);
  EXPECT_EQ(adopted.fired_at, now);
  EXPECT_EQ(adopted.last_alert_at, now);
  EXPECT_EQ(adopted.condition_since, now);
}

TEST_F(PollerTest, AReloadKeepsWhatAnAccountAtTheSamePlaceHasSeen) {
  // The balance is asked for before the answer is recorded: wait for the record.
  ASSERT_TRUE(run_until(io_, [&] { return poller_.watch("payout")->latest.has_value(); }));
  EXPECT_EQ(gateway_->balance_reads, 1);
  const core::Timestamp first = poller_.watch("payout")->latest->at;
  poller_.configure(config_, {{"bank", gateway_}});
  ASSERT_NE(poller_.watch("payout"), nullptr);
  ASSERT_TRUE(poller_.watch("payout")->latest);
  EXPECT_EQ(poller_.watch("payout")->latest->at, first);
  // At another provider it starts afresh.
  auto other = std::make_shared<testing::FakeProvider>();
  poller_.configure(config_, {{"bank", other}});
  EXPECT_FALSE(poller_.watch("payout")->latest);
}

TEST_F(PollerTest, AnAccountWithoutARunwayRuleExportsItsRunwayOnceHalfAnHourIsSampled) {
  ASSERT_TRUE(run_until(io_, [&] { return poller_.watch("payout")->latest.has_value(); }));
  const auto runway_line = [&] {
    const std::string text = metrics_.serialize();
    const auto at = text.find("topupd_runway_seconds{account=\"payout\"} ");
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  // IDR 50.00 falling by IDR 1.00 every 2 minutes (IDR 30.00 an hour), with polls
  // every 30 s: only one poll in four is a sample.
  for (int poll = 1; poll <= 80; ++poll) {
    clock_.advance(30s);
    gateway_->balance_value = core::Money(50'00 - poll / 4 * 1'00, *core::Currency::find("IDR"));
    poller_.wake("payout");
    // Read and recorded: the observation is dated when its balance was asked for.
    ASSERT_TRUE(run_until(io_, [&] {
      const auto& latest = poller_.watch("payout")->latest;
      return gateway_->balance_reads == poll + 1 && latest && latest->at == clock_.now();
    }));
    if (poll == 56) {
      EXPECT_EQ(runway_line(), "") << "28 minutes are not enough";
    }
  }
  EXPECT_EQ(poller_.watch("payout")->runway_samples.size(), 21u);
  // 40 minutes later IDR 30.00 is left: an hour at IDR 30.00 an hour.
  EXPECT_EQ(runway_line(), "topupd_runway_seconds{account=\"payout\"} 3600");
}

class PollerTopUpTest : public PollerTest {
 protected:
  PollerTopUpTest() : PollerTest(kTopUpConfig) {}
};

// A top-up can end between the moment a poll asks for the balance and the moment its
// rules look at the answer: the gateway credited it after reading the balance, then a
// look-up found it succeeded. That balance lacks the credit, so a second top-up decided
// from it would fund a need that is gone. It waits for a poll asked after the end.
TEST_F(PollerTopUpTest, ABalanceAskedForBeforeATopUpEndedStartsNoOther) {
  const auto idr = [](std::int64_t minor) { return core::Money(minor, *core::Currency::find("IDR")); };
  std::vector<std::int64_t> submitted;  // amounts that reached the gateway
  gateway_->on_submit = [&](const adapters::TopUpRequest& r) { submitted.push_back(r.amount.minor()); };
  gateway_->outcome = adapters::ProviderTopUpStatus::pending;
  ASSERT_TRUE(run_until(io_, [&] { return submitted.size() == 1; }));
  EXPECT_EQ(submitted.front(), 100'00);  // IDR 50.00 up to IDR 150.00

  // The gateway reads the balance, then credits the top-up: the next poll sees IDR
  // 50.00 and its look-up finds the top-up succeeded.
  gateway_->ledger.begin()->second.status = adapters::ProviderTopUpStatus::succeeded;
  clock_.advance(1s);
  poller_.wake("payout");
  ASSERT_TRUE(run_until(io_, [&] { return executor_.journal().front().state == core::TopUpState::succeeded; }));
  ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == 2; }));
  io_.restart();
  io_.run_for(100ms);
  EXPECT_EQ(submitted.size(), 1u) << "a second top-up from a balance read before the first one ended";

  // The next poll shows the credit: nothing more is needed.
  gateway_->balance_value = idr(150'00);
  clock_.advance(1s);
  poller_.wake("payout");
  ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == 3; }));
  io_.restart();
  io_.run_for(100ms);
  EXPECT_EQ(submitted.size(), 1u);
  // Held back, not stopped: a balance that falls again is topped up again.
  gateway_->balance_value = idr(40'00);
  clock_.advance(1s);
  poller_.wake("payout");
  ASSERT_TRUE(run_until(io_, [&] { return submitted.size() == 2; }));
  EXPECT_EQ(submitted.back(), 110'00);
}

// A top-up every day at 09:00 in Jakarta; the fake clock starts a minute before it.
const char* kScheduleConfig = R"(timezone: Asia/Jakarta
providers:
  bank: {type: sandbox, accounts: {payout: {balance: IDR 0}}}
accounts:
  payout: {provider: bank, currency: IDR, poll: {every: 1h, timeout: 5s, jitter: 0%}}
rules:
  - name: payout-morning
    account: payout
    schedule: "0 9 * * *"
    top_up: {method: direct_debit, from_account: "123", amount: {fixed: IDR 10}}
)";

class PollerScheduleTest : public PollerTest {
 protected:
  // 2026-11-18T08:59:00+07:00
  PollerScheduleTest() : PollerTest(kScheduleConfig, core::Timestamp(std::chrono::seconds(1'794'967'140))) {
    poller_.start_freshness_pass();
  }
  // Runs the loop until `done`, for up to about five seconds (the freshness pass that
  // notices a step of the wall clock comes once a second).
  template <typename Done>
  bool within_seconds(Done done) {
    for (int i = 0; i < 5 && !done(); ++i) run_until(io_, done);
    return done();
  }
};

TEST_F(PollerScheduleTest, AStepForwardsPastADueTimeRunsItOnceInsteadOfSkippingTheDay) {
  ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == 1; }));
  EXPECT_TRUE(gateway_->submits.empty());
  clock_.step_wall(3h);  // 11:59: 09:00 came while the wait was measured on the old time
  ASSERT_TRUE(within_seconds([&] { return !gateway_->submits.empty(); })) << "09:00 was skipped";
  EXPECT_EQ(gateway_->submits.size(), 1u);
  EXPECT_EQ(gateway_->submits.begin()->second, 1);
}

}  // namespace
}  // namespace topupd::app
