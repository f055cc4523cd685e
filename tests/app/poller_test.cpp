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

class PollerTest : public ::testing::Test {
 protected:
  PollerTest() {
    auto loaded = config::load_string(kConfig, "poller.yaml", config::SecretSources::from_process());
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
  ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == 1; }));
  EXPECT_EQ(poller_.watch("payout")->consecutive_failures, 1);
  EXPECT_FALSE(poller_.fresh_latest("payout", clock_.now()));
  poller_.wake("payout");
  io_.restart();
  io_.run_for(100ms);
  EXPECT_EQ(gateway_->balance_reads, 1);  // no storm of polls at a gateway that is down
}

TEST_F(PollerTest, AReloadKeepsWhatAnAccountAtTheSamePlaceHasSeen) {
  ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == 1; }));
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
  ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == 1; }));
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
    ASSERT_TRUE(run_until(io_, [&] { return gateway_->balance_reads == poll + 1; }));
    if (poll == 56) {
      EXPECT_EQ(runway_line(), "") << "28 minutes are not enough";
    }
  }
  EXPECT_EQ(poller_.watch("payout")->runway_samples.size(), 21u);
  // 40 minutes later IDR 30.00 is left: an hour at IDR 30.00 an hour.
  EXPECT_EQ(runway_line(), "topupd_runway_seconds{account=\"payout\"} 3600");
}

}  // namespace
}  // namespace topupd::app
