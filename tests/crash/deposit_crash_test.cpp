// Crash injection on the two legs of a deposit: the real topupd keeps a Xendit balance
// funded with virtual-account tickets that the company's bank pays over SNAP
// interbank, while it is SIGKILLed at every crash point of both legs and at random
// moments, with lost answers on the ticket and on the transfer, 5xx after a transfer
// was applied, and a share of transfers declined by the bank. The sandbox's ledgers —
// the bank's transfers and Xendit's credits — are the witness:
//
//   * no transfer without a journal record, and none to a ticket other than the one
//     its record journalled (an unanswered ticket request may leave an unpaid ticket
//     behind; it must never be paid);
//   * no top-up paid twice, no ticket paid twice, no transfer credited twice;
//   * no top-up lost: each ended as the bank decided (succeeded with its transfer
//     settled and credited, or failed where the bank declined it), and the balance is
//     funded again after the last restart.
//
// CRASH_RUNS (runs per crash point, default 2) and CRASH_SEED tune it, as for the
// direct debits in crash_test.cpp.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <regex>

#include "crash/ledger_witness.hpp"
#include "topupd/adapters/providers/http_providers.hpp"

namespace topupd::testing {
namespace {

// Both legs, in an order where a run that needs a prior state finds it.
const std::vector<std::string> kPoints = {
    "plan.before_write",     "plan.after_write",        "ticket.before_request",   "ticket.after_response",
    "ticket.after_journal",  "send.before_submitted",   "send.before_request",     "reconcile.before_resend",
    "send.after_response",   "send.after_journal",      "reconcile.before_look_up", "reconcile.after_look_up",
    "transition.after_write",
};

TEST(CrashInjection, NoCrashPaysADepositTwiceOrLosesOne) {
  const int runs_per_point = env_int("CRASH_RUNS", 2);
  std::mt19937 random(static_cast<unsigned>(env_int("CRASH_SEED", 20261130)));
  TempDir keys;
  make_key_pair(keys, "client");
  make_key_pair(keys, "sandbox");
  const int webhook_port = free_port();
  Sandbox sandbox(fmt::format(R"(
gateways:
  snap:
    client_id: CLIENT-1
    client_secret: snap-client-secret
    client_public_key: ${{file:{}}}
    private_key: ${{file:{}}}
    path_prefix: /snap
    bank_code: "014"
    settle_after: 300ms
    decline: 15%
    accounts:
      "1234567890": {{balance: IDR 900_000_000_000}}
  xendit:
    secret_key: xnd_development_crash
    callback_token: xendit-crash-token
    webhook_url: http://127.0.0.1:{}/webhooks/xendit
    settle_after: 100ms
    accounts:
      master: {{balance: IDR 100_000_000, drain_per_minute: IDR 1_500_000_000}}
)",
                              keys.file("client.pub"), keys.file("sandbox.key"), webhook_port));
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  dir.write("topupd.yaml", fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
store: {{sqlite: {}}}
webhooks: {{listen: "127.0.0.1:{}"}}
providers:
  bca:
    type: snap
    base_url: {}
    path_prefix: /snap
    client_id: CLIENT-1
    client_secret: snap-client-secret
    private_key: ${{file:{}}}
    bank_code: "014"
    retries: 0
    timeouts: {{request: 1s}}
  xendit:
    type: xendit
    base_url: {}
    api_key: xnd_development_crash
    retries: 0
    timeouts: {{request: 1s}}
    webhook: {{callback_token: xendit-crash-token}}
accounts:
  cash: {{provider: xendit, id: master, currency: IDR, poll: {{every: 100ms, timeout: 2s, max_backoff: 300ms}}}}
rules:
  - name: refill
    account: cash
    when: {{below: IDR 50_000_000}}
    clear: {{above: IDR 60_000_000}}
    top_up:
      method: deposit
      to: {{xendit_va: {{bank: BNI, name: PT Crash Payouts, expires_after: 1h}}}}
      pay_with: {{snap_transfer: {{via: bca, from_account: "1234567890"}}}}
      amount: {{to_target: IDR 100_000_000, round_up_to: IDR 1_000, max: IDR 250_000_000}}
      suspend_after: 0   # declines and lost answers are the point here: keep trying
)",
                                       db, webhook_port, sandbox.url(), keys.file("client.key"), sandbox.url()));

  // Every third run one answer is lost: the ticket's, or the transfer's after the bank
  // applied it, or the transfer answers 500 after applying it.
  const Campaign campaign = run_campaign(
      dir, kPoints, runs_per_point, random,
      [&](int run) {
        if (run % 3 != 1) return false;
        static const char* const kFaults[] = {
            R"({"provider":"xendit","reset":true,"after_apply":true,"count":1})",
            R"({"provider":"snap","reset":true,"after_apply":true,"count":1})",
            R"({"provider":"snap","status":500,"after_apply":true,"count":1})",
        };
        EXPECT_EQ(sandbox.post("/_sandbox/faults", kFaults[random() % 3]).status, 200);
        return true;
      },
      [&] { http_request("DELETE", "127.0.0.1", sandbox.port(), "/_sandbox/faults", ""); });

  // The last run is clean: it must settle everything and keep the balance funded.
  {
    const FinalRun final_run = run_until_settled(dir, db, [](const std::vector<Record>&) { return true; });
    ASSERT_EQ(final_run.exit, 0);
    const bool settled = final_run.settled;
    std::string unsettled;
    for (const auto& r : read_journal(db)) {
      if (!kTerminal.count(r.state)) unsettled += fmt::format("\n  {} {} ticket {}", r.key, r.state, r.ticket_account);
    }
    ASSERT_TRUE(settled) << "not settled:" << unsettled << "\n" << read_file(dir.file("final.log"));
  }

  const auto journal = read_journal(db);
  const auto ledger = movements(sandbox);
  std::map<std::string, const Record*> by_partner_reference;  // the bank's reference of each record's transfer
  for (const auto& r : journal) by_partner_reference["snap:" + adapters::snap_partner_reference(r.key)] = &r;
  std::map<std::string, std::vector<const Movement*>> transfers_of;  // record key → its transfers
  std::map<std::string, int> transfers_to;                           // ticket number → transfers paying it
  std::map<std::string, int> credits_of;                             // transfer key → credits at Xendit
  int unjournalled = 0, wrong_ticket = 0, duplicates = 0, double_credits = 0;
  for (const auto& m : ledger) {
    if (m.provider == "xendit") {
      if (++credits_of[m.source] > 1) ++double_credits;
      continue;
    }
    const auto record = by_partner_reference.find(m.key);
    if (record == by_partner_reference.end()) {
      ++unjournalled;
      continue;
    }
    transfers_of[record->second->key].push_back(&m);
    if (m.account != "va:" + record->second->ticket_account) ++wrong_ticket;
    if (++transfers_to[m.account] > 1) ++duplicates;
  }
  const Verdict v = judge(journal, transfers_of, credits_of);
  std::printf("deposit crash injection: runs=%d crash-point kills=%d points hit=%d/%zu random kills=%d faults=%d "
              "top-ups=%zu (declined by the bank %d) transfers=%zu duplicates=%d lost=%d unjournalled=%d "
              "wrong tickets paid=%d double credits=%d uncredited=%d\nper point:%s\n",
              campaign.runs, campaign.point_kills(), campaign.points_hit(kPoints), kPoints.size(),
              campaign.random_kills, campaign.faults, journal.size(), v.declined, transfers_of.size(),
              duplicates + v.duplicates, v.lost, unjournalled, wrong_ticket, double_credits, v.uncredited,
              campaign.per_point(kPoints).c_str());
  EXPECT_EQ(duplicates + v.duplicates, 0);
  std::string stories;
  for (const auto& key : v.lost_keys) stories += story_of(dir, db, key, campaign.runs);
  EXPECT_EQ(v.lost, 0) << "lost:" << v.lost_records << stories;
  EXPECT_EQ(unjournalled, 0);
  EXPECT_EQ(wrong_ticket, 0);
  EXPECT_EQ(double_credits, 0);
  EXPECT_EQ(v.uncredited, 0);
  EXPECT_GE(journal.size(), static_cast<std::size_t>(runs_per_point));
  EXPECT_GE(campaign.points_hit(kPoints), 10) << "per point:" << campaign.per_point(kPoints);
}

}  // namespace
}  // namespace topupd::testing
