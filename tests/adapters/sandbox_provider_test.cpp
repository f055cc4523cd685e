#include "topupd/adapters/providers/sandbox_provider.hpp"

#include <gtest/gtest.h>

#include "fakes/fake_clock.hpp"

namespace topupd::adapters {
namespace {

using namespace std::chrono_literals;
using core::Money;

Money idr(std::int64_t major) { return Money(major * 100, *core::Currency::find("IDR")); }

config::ProviderConfig sandbox_config(int noise_percent = 0) {
  config::ProviderConfig config;
  config.name = "demo";
  config.type = config::ProviderType::sandbox;
  config.settle_after = core::Duration(5s);
  config.accounts.push_back({"payout", idr(1'000'000), idr(60'000), idr(0), noise_percent, 0});
  config.accounts.push_back({"settlement", idr(500'000), idr(0), idr(6'000), noise_percent, 0});
  return config;
}

TopUpRequest debit(const std::string& key, std::int64_t major) {
  return {key, core::TopUpMethod::direct_debit, "payout", "1234567890", idr(major)};
}

TEST(SandboxProviderTest, BalancesDrainAndFillAtTheConfiguredRate) {
  testing::FakeClock clock;
  SandboxProvider sandbox(sandbox_config(), clock);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(1'000'000));
  clock.advance(30s);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(970'000));
  EXPECT_EQ(*sandbox.balance_now("settlement"), idr(503'000));
}

TEST(SandboxProviderTest, NoiseVariesTheDrainWithinItsBounds) {
  testing::FakeClock clock;
  SandboxProvider sandbox(sandbox_config(50), clock);
  Money previous = *sandbox.balance_now("payout");
  for (int i = 0; i < 12; ++i) {  // at most 12 × 90k: the balance stays positive
    clock.advance(1min);
    const Money now = *sandbox.balance_now("payout");
    const std::int64_t drained = previous.minor() - now.minor();
    EXPECT_GE(drained, idr(30'000).minor());
    EXPECT_LE(drained, idr(90'000).minor());
    previous = now;
  }
}

TEST(SandboxProviderTest, PayoutsStopAtZero) {
  testing::FakeClock clock;
  SandboxProvider sandbox(sandbox_config(), clock);
  clock.advance(24h);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(0));
}

TEST(SandboxProviderTest, DirectDebitSettlesAfterTheDelay) {
  testing::FakeClock clock;
  auto config = sandbox_config();
  config.accounts[0].drain_per_minute = idr(0);
  SandboxProvider sandbox(config, clock);
  auto receipt = sandbox.submit_now(debit("k1", 250'000));
  ASSERT_TRUE(receipt);
  EXPECT_EQ(receipt->status, ProviderTopUpStatus::pending);
  clock.advance(4999ms);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(1'000'000));
  EXPECT_EQ(sandbox.look_up_now("k1")->status, ProviderTopUpStatus::pending);
  clock.advance(1ms);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(1'250'000));
  EXPECT_EQ(sandbox.look_up_now("k1")->status, ProviderTopUpStatus::succeeded);
  ASSERT_EQ(sandbox.ledger().size(), 1u);
  EXPECT_EQ(sandbox.ledger()[0].idempotency_key, "k1");
  EXPECT_TRUE(sandbox.ledger()[0].settled);
}

TEST(SandboxProviderTest, SameKeyTwiceMovesMoneyOnce) {
  testing::FakeClock clock;
  auto config = sandbox_config();
  config.accounts[0].drain_per_minute = idr(0);
  SandboxProvider sandbox(config, clock);
  auto first = sandbox.submit_now(debit("k1", 100'000));
  auto second = sandbox.submit_now(debit("k1", 100'000));
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->reference, second->reference);
  clock.advance(10s);
  auto third = sandbox.submit_now(debit("k1", 100'000));
  EXPECT_EQ(third->status, ProviderTopUpStatus::succeeded);
  EXPECT_EQ(sandbox.ledger().size(), 1u);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(1'100'000));
}

TEST(SandboxProviderTest, SameKeyWithOtherParametersIsRejected) {
  testing::FakeClock clock;
  SandboxProvider sandbox(sandbox_config(), clock);
  ASSERT_TRUE(sandbox.submit_now(debit("k1", 100'000)));
  auto other = sandbox.submit_now(debit("k1", 100'001));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, FailureKind::not_retryable);
  EXPECT_EQ(other.error().reason, "idempotency_mismatch");
  EXPECT_EQ(sandbox.ledger().size(), 1u);
}

TEST(SandboxProviderTest, SweepTakesFromTheSourceAtOnceAndCreditsOnSettlement) {
  testing::FakeClock clock;
  auto config = sandbox_config();
  config.accounts[0].drain_per_minute = idr(0);
  config.accounts[1].inflow_per_minute = idr(0);
  SandboxProvider sandbox(config, clock);
  const TopUpRequest sweep{"s1", core::TopUpMethod::sweep, "payout", "settlement", idr(200'000)};
  ASSERT_TRUE(sandbox.submit_now(sweep));
  EXPECT_EQ(*sandbox.balance_now("settlement"), idr(300'000));
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(1'000'000));
  clock.advance(5s);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(1'200'000));
}

TEST(SandboxProviderTest, SweepBeyondTheSourceBalanceFailsWithoutMovingMoney) {
  testing::FakeClock clock;
  SandboxProvider sandbox(sandbox_config(), clock);
  const TopUpRequest sweep{"s1", core::TopUpMethod::sweep, "payout", "settlement", idr(500'001)};
  auto result = sandbox.submit_now(sweep);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().reason, "insufficient_funds");
  EXPECT_TRUE(sandbox.ledger().empty());
  EXPECT_EQ(*sandbox.balance_now("settlement"), idr(500'000));
}

TEST(SandboxProviderTest, SimulatedOutageFailsReadsAsRetryable) {
  testing::FakeClock clock;
  auto config = sandbox_config();
  config.accounts[0].fail_percent = 100;
  config.accounts[1].fail_percent = 50;
  SandboxProvider sandbox(config, clock);
  auto result = sandbox.balance_now("payout");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::retryable);
  EXPECT_EQ(result.error().reason, "unavailable");
  int failures = 0;
  for (int i = 0; i < 1000; ++i) failures += sandbox.balance_now("settlement") ? 0 : 1;
  EXPECT_GT(failures, 400);
  EXPECT_LT(failures, 600);
}

TEST(SandboxProviderTest, ALostAnswerHasStillMovedTheMoneyOnce) {
  testing::FakeClock clock;
  auto config = sandbox_config();
  config.lose_answers_percent = 100;
  SandboxProvider sandbox(config, clock);
  auto first = sandbox.submit_now(debit("k1", 1'000));
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().kind, FailureKind::outcome_unknown);
  ASSERT_EQ(sandbox.ledger().size(), 1u);  // applied although the answer was lost
  EXPECT_TRUE(sandbox.look_up_now("k1"));
  EXPECT_FALSE(sandbox.submit_now(debit("k1", 1'000)));  // the replay's answer is lost too...
  EXPECT_EQ(sandbox.ledger().size(), 1u);                // ...but it moves nothing new
}

TEST(SandboxProviderTest, AFailureBeforeApplyingMovesNothing) {
  testing::FakeClock clock;
  auto config = sandbox_config();
  config.fail_before_apply_percent = 100;
  SandboxProvider sandbox(config, clock);
  auto result = sandbox.submit_now(debit("k1", 1'000));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, FailureKind::outcome_unknown);
  EXPECT_EQ(result.error().reason, "http_5xx");
  EXPECT_TRUE(sandbox.ledger().empty());
  EXPECT_FALSE(sandbox.look_up_now("k1"));
}

TEST(SandboxProviderTest, UnknownAccountsAndKeys) {
  testing::FakeClock clock;
  SandboxProvider sandbox(sandbox_config(), clock);
  EXPECT_EQ(sandbox.balance_now("nope").error().reason, "unknown_account");
  EXPECT_FALSE(sandbox.look_up_now("never-sent"));
}

TEST(SandboxProviderTest, LedgerJsonListsMovementsAndAccounts) {
  testing::FakeClock clock;
  SandboxProvider sandbox(sandbox_config(), clock);
  ASSERT_TRUE(sandbox.submit_now(debit("key-\"quoted\"", 1)));
  const std::string json = sandbox.ledger_json();
  EXPECT_NE(json.find(R"("idempotency_key":"key-\"quoted\"")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("amount_minor":100)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("id":"settlement")"), std::string::npos) << json;
}

}  // namespace
}  // namespace topupd::adapters

namespace topupd::adapters {
namespace {

TEST(SandboxProviderTest, ADeclinedTopUpSettlesAsFailedAndCreditsNothing) {
  testing::FakeClock clock;
  auto config = sandbox_config();
  config.accounts[0].drain_per_minute = idr(0);
  config.accounts[1].inflow_per_minute = idr(0);
  config.decline_percent = 100;
  SandboxProvider sandbox(config, clock);
  ASSERT_EQ(sandbox.submit_now(debit("d1", 50'000))->status, ProviderTopUpStatus::pending);
  const TopUpRequest sweep{"s1", core::TopUpMethod::sweep, "payout", "settlement", idr(200'000)};
  ASSERT_TRUE(sandbox.submit_now(sweep));
  EXPECT_EQ(*sandbox.balance_now("settlement"), idr(300'000));  // taken at once
  clock.advance(5s);
  const auto debit_outcome = sandbox.look_up_now("d1");
  ASSERT_TRUE(debit_outcome);
  EXPECT_EQ(debit_outcome->status, ProviderTopUpStatus::failed);
  EXPECT_FALSE(debit_outcome->failure.empty());
  EXPECT_EQ(sandbox.look_up_now("s1")->status, ProviderTopUpStatus::failed);
  EXPECT_EQ(*sandbox.balance_now("payout"), idr(1'000'000));     // nothing credited
  EXPECT_EQ(*sandbox.balance_now("settlement"), idr(500'000));   // the sweep given back
  // A replay under the same key reports the same failure and moves nothing.
  EXPECT_EQ(sandbox.submit_now(debit("d1", 50'000))->status, ProviderTopUpStatus::failed);
  EXPECT_EQ(sandbox.ledger().size(), 2u);
  EXPECT_NE(sandbox.ledger_json().find(R"("declined":true)"), std::string::npos);
}

}  // namespace
}  // namespace topupd::adapters
