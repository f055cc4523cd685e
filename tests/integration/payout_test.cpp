// Payouts between gateways against the stand-alone sandbox: Xendit's balance pays
// Flip's top-up account through Payouts v2, exactly once whatever is lost on the way;
// the sandbox's ledgers are the witness.
#include <regex>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "integration/sandbox.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

// Xendit holds the settlement balance that pays; Flip's payout balance is topped up
// through its fixed top-up account at BNI.
std::string sandbox_yaml(int webhook_port, const std::string& xendit_balance = "IDR 500_000_000",
                         const std::string& list_lag = "0s") {
  return fmt::format(R"(
gateways:
  xendit:
    secret_key: xnd_development_payout
    callback_token: xendit-payout-token
    webhook_url: http://127.0.0.1:{}/webhooks/xendit
    payout_list_lag: {}
    settle_after: 300ms
    accounts:
      master: {{balance: {}}}
  flip:
    secret_key: flip-secret
    deposit_bank: BNI
    deposit_account_no: "8001234567"
    deposit_name: PT Flip Topup
    accounts:
      main: {{balance: IDR 40_000_000}}
)",
                     webhook_port, list_lag, xendit_balance);
}

std::string daemon_yaml(const TempDir& dir, const Sandbox& sandbox, int webhook_port,
                        const std::string& payout = "{via: xendit}",
                        const std::string& amount = "{to_target: IDR 100_000_000, round_up_to: IDR 1_000_000}") {
  return fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
log: {{level: debug}}
store: {{sqlite: "{}"}}
control: {{socket: "{}"}}
webhooks: {{listen: "127.0.0.1:{}"}}
providers:
  xendit:
    type: xendit
    base_url: {}
    api_key: xnd_development_payout
    webhook: {{callback_token: xendit-payout-token}}
  flip:
    type: flip
    base_url: {}
    api_key: flip-secret
accounts:
  xendit-cash: {{provider: xendit, id: master, currency: IDR, poll: {{every: 200ms, timeout: 2s, jitter: 0%}}}}
  flip-balance: {{provider: flip, id: main, currency: IDR, poll: {{every: 200ms, timeout: 2s, jitter: 0%}}}}
rules:
  - name: flip-low
    account: flip-balance
    when: {{below: IDR 50_000_000}}
    clear: {{above: IDR 60_000_000}}
    alert: {{severity: warning, notify: [finance]}}
    top_up:
      method: deposit
      to: {{static: {{bank: BNI, account_no: "8001234567", name: PT Flip Topup}}}}
      pay_with: {{payout: {}}}
      amount: {}
      limits: {{cooldown: 1h}}
notifiers:
  finance: {{type: log}}
)",
                     dir.file("topupd.db"), dir.file("control.sock"), webhook_port, sandbox.url(), sandbox.url(),
                     payout, amount);
}

// The payout (Xendit) and the credit it made (Flip), once both settled.
std::vector<LedgerEntry> payout_and_credit(const Sandbox& sandbox) {
  std::vector<LedgerEntry> entries;
  eventually([&] {
    entries = ledger_entries(sandbox);
    return entries.size() == 2 && entries[0].settled && entries[1].settled;
  }, 20s);
  return entries;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(PayoutTest, XenditsBalancePaysFlipsTopUpAccountOnceAndAReversalNeedsAPerson) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(webhook_port));
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, sandbox, webhook_port));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  // IDR 40,000,000 up to 100,000,000: IDR 60,000,000 out of Xendit into Flip.
  auto entries = payout_and_credit(sandbox);
  ASSERT_EQ(entries.size(), 2u) << daemon.log() << sandbox.ledger();
  const LedgerEntry& payout = entries[0].provider == "xendit" ? entries[0] : entries[1];
  const LedgerEntry& credit = entries[0].provider == "xendit" ? entries[1] : entries[0];
  EXPECT_EQ(payout.kind, "deposit");
  EXPECT_EQ(payout.source, "master");
  EXPECT_EQ(payout.account, "static:flip");
  EXPECT_EQ(payout.amount_minor, 60'000'000'00);
  EXPECT_EQ(payout.key.rfind("xpo:topupd-flip-low-flip-balance-", 0), 0u) << payout.key;
  EXPECT_EQ(credit.provider, "flip");
  EXPECT_EQ(credit.account, "main");
  EXPECT_EQ(credit.amount_minor, 60'000'000'00);
  wait_for_line(daemon.log_path(), R"(webhook accepted provider=xendit event=payout:(disb-\w+):payout.succeeded)");
  ASSERT_TRUE(eventually([&] { return daemon.log().find("top-up reflected in the balance") != std::string::npos; }, 10s))
      << daemon.log();
  EXPECT_EQ(daemon.metric("topupd_topups_total", {R"(method="deposit")", R"(outcome="succeeded")"}), 1.0)
      << daemon.metrics();
  const std::string key = payout.key.substr(4);
  const std::string id = wait_for_line(daemon.log_path(), R"(top-up \w+ topup=\S+ .*reference=(disb-\w+))", 1s);

  // Callbacks: a forged one (wrong token) is refused; a genuine one delivered twice is
  // taken once; neither moves money.
  const auto callback = [&](const std::string& token, const std::string& event, const std::string& status) {
    return http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/xendit",
                        fmt::format(R"({{"event":"{}","business_id":"b","created":"2026-11-30T00:00:00Z",)"
                                    R"("data":{{"id":"{}","reference_id":"{}","status":"{}","amount":60000000}}}})",
                                    event, id, key, status),
                        {{"Content-Type", "application/json"}, {"x-callback-token", token}});
  };
  EXPECT_EQ(callback("guessed-token", "payout.reversed", "REVERSED").status, 401);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(daemon.log().find("TopUpReversed"), std::string::npos);  // forged: nothing looked up, nothing said

  // The receiving bank returns it: Xendit says so, a look-up confirms, people hear once.
  ASSERT_EQ(sandbox.post("/_sandbox/payouts/" + id + "/reverse", "{}").status, 200) << sandbox.ledger();
  EXPECT_EQ(callback("xendit-payout-token", "payout.reversed", "REVERSED").status, 200);  // a repeat as well
  wait_for_line(daemon.log_path(), R"(ERROR (TopUpReversed): deposit \S+ of IDR 60,000,000\.00: xendit says payout)");
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(count_of(daemon.log(), "ERROR TopUpReversed"), 1u) << daemon.log();
  const auto history = topupctl(dir.file("control.sock"), {"history"});
  EXPECT_NE(history.output.find("needs attention: reversed: payout reversed"), std::string::npos) << history.output;
  // Nothing moved again: the payout, its credit, and the money back to Xendit.
  entries = ledger_entries(sandbox);
  ASSERT_EQ(entries.size(), 3u) << sandbox.ledger();
  EXPECT_EQ(entries[2].provider, "xendit");
  EXPECT_EQ(entries[2].key, "reversal:" + id);
}

// The payout's answer is lost after Xendit applied it, and Xendit's list does not show
// it yet: the look-up finds nothing, the resend under the same key gets 409
// DUPLICATE_ERROR, and the payout is found once the list catches up — paid once.
TEST(PayoutTest, ALostAnswerAndADuplicateKeyStillPayOnce) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(webhook_port, "IDR 500_000_000", "3s"));
  ASSERT_EQ(sandbox.post("/_sandbox/faults",
                         R"({"provider":"xendit","path":"/v2/payouts","after_apply":true,"reset":true,"count":1})")
                .status,
            200);
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, sandbox, webhook_port));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  wait_for_line(daemon.log_path(), R"((lists no payout under it))", 15s);
  ASSERT_TRUE(eventually([&] {
    return daemon.metric("topupd_topups_total", {R"(method="deposit")", R"(outcome="succeeded")"}) == 1.0;
  }, 20s)) << daemon.log();
  const auto entries = payout_and_credit(sandbox);
  ASSERT_EQ(entries.size(), 2u) << sandbox.ledger();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(ledger_entries(sandbox).size(), 2u) << sandbox.ledger();

  // A genuine reversal callback whose look-up fails still reaches a person, unconfirmed.
  const std::string id = wait_for_line(daemon.log_path(), R"(top-up succeeded.* reference=(disb-\w+))", 1s);
  const std::string key = entries[0].provider == "xendit" ? entries[0].key.substr(4) : entries[1].key.substr(4);
  ASSERT_EQ(sandbox.post("/_sandbox/faults", R"({"provider":"xendit","path":"/v2/payouts/","status":500,"count":5})").status,
            200);
  EXPECT_EQ(http_request("POST", "127.0.0.1", daemon.webhook_port(), "/webhooks/xendit",
                         fmt::format(R"({{"event":"payout.reversed","data":{{"id":"{}","reference_id":"{}",)"
                                     R"("status":"REVERSED"}}}})",
                                     id, key),
                         {{"Content-Type", "application/json"}, {"x-callback-token", "xendit-payout-token"}})
                .status,
            200);
  wait_for_line(daemon.log_path(), R"(ERROR TopUpReversed: .* the look-up to confirm it (failed) \(http_500\))");
}

// The source cannot cover the amount above what it must keep: nothing is paid out, and
// the rule says why.
TEST(PayoutTest, ASourceThatCannotCoverTheAmountIsNotPaidFrom) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(webhook_port, "IDR 65_000_000"));
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, sandbox, webhook_port, "{via: xendit, keep_in_source: IDR 10_000_000}"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  wait_for_line(daemon.log_path(),
                R"((source xendit-cash holds IDR 65,000,000\.00, which cannot cover the amount above keep_in_source IDR 10,000,000\.00))");
  wait_for_line(daemon.log_path(), R"((TopUpSourceShort))");
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(ledger_entries(sandbox).empty()) << sandbox.ledger();
}

// Below the channel's minimum (Xendit's /payouts_channels says IDR 10,000): refused
// before any payout is asked for, with the numbers.
TEST(PayoutTest, AnAmountOutsideTheChannelsLimitsIsRefusedBeforeAnythingMoves) {
  const int webhook_port = free_port();
  Sandbox sandbox(sandbox_yaml(webhook_port));
  TempDir dir;
  Daemon daemon(daemon_yaml(dir, sandbox, webhook_port, "{via: xendit}", "{fixed: IDR 5_000}"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  wait_for_line(daemon.log_path(),
                R"(top-up (failed): xendit refuses a payout of IDR 5,000\.00 through ID_BNI: less than its minimum IDR 10,000\.00)");
  EXPECT_TRUE(ledger_entries(sandbox).empty()) << sandbox.ledger();
}

// The other way round: Flip's balance pays Xendit's fixed top-up account by a
// disbursement. Its answer is lost after Flip applied it; the look-up by key finds it.
TEST(PayoutTest, FlipsBalancePaysXenditsTopUpAccountOnceAfterALostAnswer) {
  const int webhook_port = free_port();
  Sandbox sandbox(R"(
gateways:
  xendit:
    secret_key: xnd_development_payout
    deposit_bank: BCA
    deposit_account_no: "7770001234"
    deposit_name: PT Xendit Topup
    accounts:
      master: {balance: IDR 40_000_000}
  flip:
    secret_key: flip-secret
    settle_after: 300ms
    accounts:
      main: {balance: IDR 500_000_000}
)");
  ASSERT_EQ(sandbox.post("/_sandbox/faults",
                         R"({"provider":"flip","path":"/v3/disbursement","after_apply":true,"reset":true,"count":1})")
                .status,
            200);
  TempDir dir;
  std::string config = daemon_yaml(dir, sandbox, webhook_port, "{via: flip}");
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"name: flip-low\n    account: flip-balance", "name: xendit-low\n    account: xendit-cash"},
           {"{bank: BNI, account_no: \"8001234567\", name: PT Flip Topup}",
            "{bank: BCA, account_no: \"7770001234\", name: PT Xendit Topup}"}}) {
    ASSERT_NE(config.find(from), std::string::npos) << from;
    config.replace(config.find(from), from.size(), to);
  }
  Daemon daemon(config);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto entries = payout_and_credit(sandbox);
  ASSERT_EQ(entries.size(), 2u) << daemon.log() << sandbox.ledger();
  const LedgerEntry& payout = entries[0].provider == "flip" ? entries[0] : entries[1];
  const LedgerEntry& credit = entries[0].provider == "flip" ? entries[1] : entries[0];
  EXPECT_EQ(payout.key.rfind("flp:topupd-xendit-low-xendit-cash-", 0), 0u) << payout.key;
  EXPECT_EQ(payout.account, "static:xendit");
  EXPECT_EQ(payout.amount_minor, 60'000'000'00);
  EXPECT_EQ(credit.provider, "xendit");
  EXPECT_EQ(credit.amount_minor, 60'000'000'00);
  ASSERT_TRUE(eventually([&] {
    return daemon.metric("topupd_topups_total", {R"(method="deposit")", R"(outcome="succeeded")"}) == 1.0;
  }, 15s)) << daemon.log();
  EXPECT_NE(daemon.log().find("top-up unknown"), std::string::npos) << "the lost answer was looked up" << daemon.log();
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(ledger_entries(sandbox).size(), 2u) << sandbox.ledger();
}

}  // namespace
}  // namespace topupd::testing
