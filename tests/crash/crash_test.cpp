// Crash injection: the real topupd, journalling to SQLite, tops up a Stripe-format
// account on the stand-alone sandbox while it is SIGKILLed at every crash point of the
// top-up path (TOPUPD_CRASH_AT) and at random moments, with gateway faults (answers
// lost after the top-up was applied, 5xx after applying) mixed in. After every run it
// restarts; at the end it runs cleanly until every top-up is settled. Then the
// sandbox's ledger — the witness of money that moved — is checked against the journal:
//
//   * no money moved without a journal record (every ledger key is journalled);
//   * no top-up executed twice (one ledger entry per key, and never two top-ups of
//     the account open at the same time);
//   * no needed top-up lost (every journalled top-up ended as the bank decided: succeeded
//     with its exact amount credited in the ledger, or failed where the bank declined
//     it — a fifth are declined — and the account is funded again after the last restart);
//   * a need whose first rail the bank declined went on to its second rail, and a second
//     rail moved only for a need whose first rail had failed (kills between rails).
//
// CRASH_RUNS (runs per crash point, default 2) and CRASH_SEED tune it; `make
// crash-test` runs the long version and prints the figures.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <regex>
#include <set>

#include "crash/crash_harness.hpp"
#include "integration/sandbox.hpp"

namespace topupd::testing {
namespace {

struct LedgerEntry {
  std::string key;
  std::int64_t amount_minor = 0;
  bool settled = false;
  bool declined = false;
};

std::vector<LedgerEntry> read_ledger(const Sandbox& sandbox) {
  std::vector<LedgerEntry> out;
  const std::string text = sandbox.ledger();
  const std::regex entry(
      R"#("account":"acct_crash","source":"[^"]*","amount_minor":(\d+),"currency":"USD","idempotency_key":"stripe:([^"]+)","created_at":"[^"]*","settled":(true|false),"declined":(true|false))#");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
    out.push_back({(*it)[2], std::stoll((*it)[1]), (*it)[3] == "true", (*it)[4] == "true"});
  }
  return out;
}

// In this order a run that needs a prior state finds it: a crash after 'submitted'
// was journalled but before the request left makes the next start look it up, find
// nothing and send it again — the moment reconcile.before_resend covers.
const std::vector<std::string> kPoints = {
    "plan.before_write",       "plan.after_write",         "send.before_submitted",   "send.before_request",
    "reconcile.before_resend", "send.after_response",      "send.after_journal",      "reconcile.before_look_up",
    "reconcile.after_look_up", "transition.after_write",
};

TEST(CrashInjection, NoCrashMovesMoneyTwiceOrLosesATopUp) {
  const int runs_per_point = env_int("CRASH_RUNS", 2);
  const bool long_campaign = runs_per_point >= 5;  // make crash-test, not the short run in make test
  std::mt19937 random(static_cast<unsigned>(env_int("CRASH_SEED", 20261125)));
  Sandbox sandbox(R"(
gateways:
  stripe:
    secret_key: sk_test_crash
    settle_after: 400ms
    decline: 20%
    accounts:
      acct_crash: {balance: USD 1_000, drain_per_minute: USD 9_000}
)");
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  dir.write("topupd.yaml", fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
store: {{sqlite: {}}}
providers:
  stripe:
    type: stripe
    base_url: {}
    api_key: sk_test_crash
    retries: 0
    timeouts: {{request: 1s}}
accounts:
  payouts: {{provider: stripe, id: acct_crash, currency: USD, poll: {{every: 100ms, timeout: 2s, max_backoff: 300ms}}}}
rules:
  - name: refill
    account: payouts
    when: {{below: USD 800}}
    clear: {{above: USD 900}}
    top_up:
      rails:   # a declined debit from the primary bank account goes on to the backup
        - {{method: direct_debit, from_account: src_primary}}
        - {{method: direct_debit, from_account: src_backup}}
      amount: {{to_target: USD 1_100}}
      suspend_after: 0   # declines and lost answers are the point here: keep trying
)",
                                       db, sandbox.url()));

  // Every third run the gateway misbehaves once: the answer to the next request is
  // lost after the top-up was applied, or a 500 comes back after applying it.
  const Campaign campaign = run_campaign(
      dir, kPoints, runs_per_point, random,
      [&](int run) {
        if (run % 3 != 1) return false;
        const char* fault = random() % 2 ? R"({"provider":"stripe","reset":true,"after_apply":true,"count":1})"
                                         : R"({"provider":"stripe","status":500,"after_apply":true,"count":1})";
        EXPECT_EQ(sandbox.post("/_sandbox/faults", fault).status, 200);
        return true;
      },
      [&] { http_request("DELETE", "127.0.0.1", sandbox.port(), "/_sandbox/faults", ""); });

  // The last run is clean: it must settle everything, pass every declined first rail on
  // to the second, and keep the account funded.
  {
    const FinalRun final_run = run_until_settled(dir, db, [](const std::vector<Record>& journal) {
      std::set<std::string> passed_on;
      for (const auto& r : journal) {
        if (r.rail == 1) passed_on.insert(r.need);
      }
      for (const auto& r : journal) {
        if (r.rail == 0 && r.state == "failed" && !passed_on.count(r.key)) return false;
      }
      return true;
    });
    ASSERT_EQ(final_run.exit, 0);
    const bool settled = final_run.settled;
    std::string unsettled;  // what kept it from settling
    std::set<std::string> passed_on;
    for (const auto& r : read_journal(db)) {
      if (r.rail == 1) passed_on.insert(r.need);
    }
    for (const auto& r : read_journal(db)) {
      if (!kTerminal.count(r.state) || (r.rail == 0 && r.state == "failed" && !passed_on.count(r.key))) {
        unsettled += fmt::format("\n  {} {} rail {} created {} closed {}", r.key, r.state, r.rail + 1, r.created_at,
                                 r.closed_at);
      }
    }
    ASSERT_TRUE(settled) << "not settled:" << unsettled << "\n" << read_file(dir.file("final.log"));
  }

  const auto journal = read_journal(db);
  const auto ledger = read_ledger(sandbox);
  std::map<std::string, const Record*> by_key;
  for (const auto& r : journal) by_key[r.key] = &r;
  std::map<std::string, int> ledger_count;
  for (const auto& e : ledger) ++ledger_count[e.key];

  int duplicates = 0, lost = 0, unjournalled = 0, amount_mismatches = 0, declined = 0;
  std::map<std::string, const LedgerEntry*> entry_of;
  for (const auto& e : ledger) entry_of[e.key] = &e;
  for (const auto& [key, count] : ledger_count) {
    if (count > 1) duplicates += count - 1;
    if (!by_key.count(key)) ++unjournalled;
  }
  for (const auto& e : ledger) {
    if (by_key.count(e.key) && by_key[e.key]->amount_minor != e.amount_minor) ++amount_mismatches;
  }
  // One top-up of the account open at a time: a second one planned before the first
  // closed would be a second movement for the same need.
  for (std::size_t i = 1; i < journal.size(); ++i) {
    if (journal[i - 1].closed_at == 0 || journal[i].created_at < journal[i - 1].closed_at) ++duplicates;
  }
  for (const auto& r : journal) {
    const LedgerEntry* e = ledger_count[r.key] == 1 ? entry_of[r.key] : nullptr;
    const bool as_the_bank_decided = e && e->settled && ((r.state == "succeeded" && !e->declined) ||
                                                         (r.state == "failed" && e->declined));
    if (!as_the_bank_decided) ++lost;
    if (e && e->declined) ++declined;
  }
  // Rails: every need the bank declined on its first rail went to the second, and no
  // second rail moved for a need whose first rail had not failed.
  int second_rails = 0, needs_not_passed_on = 0, second_rails_too_early = 0;
  std::set<std::string> passed_on;
  for (const auto& r : journal) {
    if (r.rail != 1) continue;
    ++second_rails;
    passed_on.insert(r.need);
    if (!by_key.count(r.need) || by_key[r.need]->state != "failed" || by_key[r.need]->closed_at > r.created_at) {
      ++second_rails_too_early;
    }
  }
  for (const auto& r : journal) {
    if (r.rail == 0 && r.state == "failed" && !passed_on.count(r.key)) ++needs_not_passed_on;
  }
  const std::string hit_list = campaign.per_point(kPoints);
  const int points_hit = campaign.points_hit(kPoints);
  std::printf("crash injection: runs=%d crash-point kills=%d points hit=%d/%zu random kills=%d gateway faults=%d "
              "top-ups=%zu (declined by the bank %d) ledger entries=%zu duplicates=%d lost=%d unjournalled=%d "
              "amount mismatches=%d\n"
              "rails: second rails=%d needs not passed on=%d second rails too early=%d\n"
              "per point:%s\n",
              campaign.runs, campaign.point_kills(), points_hit, kPoints.size(),
              campaign.random_kills, campaign.faults, journal.size(), declined, ledger.size(), duplicates, lost, unjournalled,
              amount_mismatches, second_rails, needs_not_passed_on, second_rails_too_early,
              hit_list.c_str());
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(unjournalled, 0);
  EXPECT_EQ(amount_mismatches, 0);
  EXPECT_EQ(second_rails_too_early, 0);
  EXPECT_EQ(needs_not_passed_on, 0);
  // The long campaign must have exercised the second rail; the short one in make test
  // (a couple of dozen top-ups, a fifth declined) may by chance not have.
  if (long_campaign) {
    EXPECT_GT(second_rails, 0) << "no need went to its second rail: the rails were not exercised";
  }
  EXPECT_GE(journal.size(), static_cast<std::size_t>(runs_per_point));
  // At least eight distinct points must actually have been crashed at.
  EXPECT_GE(points_hit, 8) << "per point:" << hit_list;
}

}  // namespace
}  // namespace topupd::testing
