// Rails in order against the real daemon, with the sandbox's ledger as the witness: a
// declined first rail passes its need to the second, which funds it exactly once; a
// source that cannot cover the need is never pulled from.
#include <csignal>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

// The payout account (IDR 90,000, below its 95,000 threshold) is topped up by IDR
// 50,000 through `rails`. The bank account 111 is also watched, as `ops`.
std::string rails_config(const TempDir& dir, const std::string& faults, const std::string& ops_balance,
                         const std::string& rails) {
  return fmt::format(R"(http: {{listen: 127.0.0.1:0}}
log: {{level: debug}}
store: {{sqlite: "{}"}}
control: {{socket: "{}"}}
providers:
  sim:
    type: sandbox
    settle_after: 100ms
    faults: {}
    accounts:
      payout: {{balance: IDR 90_000, drain_per_minute: IDR 600}}
      reserve: {{balance: IDR 1_000_000}}
      "111": {{balance: {}}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 100ms, timeout: 1s, jitter: 0%}}}}
  reserve: {{provider: sim, currency: IDR, poll: {{every: 100ms, timeout: 1s, jitter: 0%}}}}
  ops: {{provider: sim, id: "111", currency: IDR, poll: {{every: 100ms, timeout: 1s, jitter: 0%}}}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    alert: {{notify: [log]}}
    top_up:
      rails: {}
      amount: {{fixed: IDR 50_000}}
      limits: {{cooldown: 1h}}
notifiers:
  log: {{type: log}}
)",
                     dir.file("topupd.db"), dir.file("control.sock"), faults, ops_balance, rails);
}

struct LedgerEntry {
  std::string key;
  std::string kind;
  std::string source;
  bool declined;
};

std::vector<LedgerEntry> ledger_entries(const std::string& ledger) {
  std::vector<LedgerEntry> out;
  const std::regex entry(
      R"#("kind":"([a-z_]+)","account":"[^"]*","source":"([^"]*)".*?"idempotency_key":"([^"]+)".*?"declined":(true|false))#");
  for (auto it = std::sregex_iterator(ledger.begin(), ledger.end(), entry); it != std::sregex_iterator(); ++it) {
    out.push_back({(*it)[3], (*it)[1], (*it)[2], (*it)[4] == "true"});
  }
  return out;
}

TEST(RailsTest, ADeclinedFirstRailPassesTheNeedToTheSecondWhichFundsItExactlyOnce) {
  TempDir dir;
  Daemon daemon(rails_config(dir, "{decline_from: [\"111\"]}", "IDR 10_000_000",
                             R"([{method: direct_debit, from_account: "111"},
              {method: sweep, from: reserve, keep_in_source: IDR 100_000}])"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::vector<LedgerEntry> entries;
  ASSERT_TRUE(eventually([&] {
    entries = ledger_entries(daemon.get("/sandbox/ledger").body);
    return entries.size() >= 2;
  }, 10s)) << daemon.log();
  // Long enough for a wrong second need or a repeated rail to show.
  std::this_thread::sleep_for(1500ms);
  entries = ledger_entries(daemon.get("/sandbox/ledger").body);
  ASSERT_EQ(entries.size(), 2u) << daemon.get("/sandbox/ledger").body;
  EXPECT_EQ(entries[0].kind, "direct_debit");
  EXPECT_EQ(entries[0].source, "111");
  EXPECT_TRUE(entries[0].declined);
  EXPECT_EQ(entries[1].kind, "sweep");
  EXPECT_EQ(entries[1].key, entries[0].key + "-rail2");  // the same need, its own key
  EXPECT_FALSE(entries[1].declined);
  // The need was funded once: IDR 50,000 moved out of the reserve, into the payout account.
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_balance", {R"(account="reserve")"}) == 95'000'000; }, 5s))
      << daemon.log();
  const std::string log = daemon.log();
  EXPECT_NE(log.find("top-up rail 1 failed; the next rail takes the need"), std::string::npos) << log;
  EXPECT_NE(log.find("on rail 2; rail 1 (direct_debit from 111) skipped: failed: declined by the bank"), std::string::npos) << log;
  // The declined rail does not count toward the rule's failure streak: the need succeeded.
  EXPECT_EQ(daemon.metric("topupd_rule_suspended", {R"(rule="payout-low")"}).value_or(0), 0);
  const auto history = topupctl(dir.file("control.sock"), {"history", "--json"});
  EXPECT_NE(history.output.find(R"("need":")" + entries[0].key + "\""), std::string::npos) << history.output;
}

TEST(RailsTest, ASourceThatCannotCoverTheNeedIsNeverPulledFromAndSomeoneIsTold) {
  TempDir dir;
  // ops (bank account 111) holds IDR 60,000 and must keep 20,000: it cannot give 50,000.
  Daemon daemon(rails_config(dir, "{}", "IDR 60_000",
                             R"([{method: direct_debit, from_account: "111", check_balance_of: ops,
               keep_in_source: IDR 20_000}])"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] { return daemon.log().find("TopUpSourceShort") != std::string::npos; }, 10s))
      << daemon.log();
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(ledger_keys(daemon.get("/sandbox/ledger").body).empty()) << "a request left for a short source";
  const std::string log = daemon.log();
  // One alert however many polls find the source short.
  EXPECT_EQ(count_of(log, "TopUpSourceShort: no top-up of payout"), 1u) << log;
  EXPECT_NE(log.find("source ops holds IDR 60,000.00, which cannot cover the amount above keep_in_source IDR "
                     "20,000.00"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace topupd::testing
