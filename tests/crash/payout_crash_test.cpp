// Crash injection on a deposit paid by a payout between gateways, both ways: the real
// topupd keeps Flip's payout balance funded out of Xendit's balance (Payouts v2 to
// Flip's fixed top-up account), and Xendit's out of Flip's (a disbursement), while it is
// SIGKILLed at every crash point of the top-up path and at random moments, with the
// payer's answers lost after it applied them, 500s and garbage after applying, a Xendit payout list
// that lags behind (so a look-up finds nothing, the resend gets 409 DUPLICATE_ERROR and
// the payout is found later), and a share of payouts the receiving bank declines. The
// sandbox's ledgers — the payer's payouts and the funded gateway's credits — are the
// witness:
//
//   * no payout without a journal record (its idempotency key is the record's key);
//   * no top-up paid twice, no payout credited twice;
//   * no top-up lost: each ended as the channel decided (succeeded with its payout
//     settled and credited, or failed where it was declined), and the funded balance is
//     funded again after the last restart.
//
// CRASH_RUNS (runs per crash point, default 2) and CRASH_SEED tune it, as in the others.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <regex>

#include "crash/ledger_witness.hpp"

namespace topupd::testing {
namespace {

// How many times a record's request was sent again under its key (each, for a payout
// that had arrived, answered 409 and then looked up).
int resends(const std::string& db) {
  sqlite3* handle = nullptr;
  int n = 0;
  if (sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    const char* sql = "SELECT COUNT(*) FROM top_up_transitions WHERE from_state = 'unknown' AND to_state = 'submitted'";
    if (sqlite3_prepare_v2(handle, sql, -1, &statement, nullptr) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW) {
      n = sqlite3_column_int(statement, 0);
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(handle);
  return n;
}

const std::vector<std::string> kPoints = {
    "plan.before_write",       "plan.after_write",    "send.before_submitted",    "send.before_request",
    "reconcile.before_resend", "send.after_response", "send.after_journal",       "reconcile.before_look_up",
    "reconcile.after_look_up", "transition.after_write",
};

// One direction of a payout between gateways: who pays, who is funded.
struct Direction {
  std::string payer;     // the paying gateway's sandbox type and provider name
  std::string funded;    // the funded gateway's
  std::string ledger;    // the payer's ledger key prefix: "xpo:" or "flp:"
  std::string path;      // the payer's money-moving path, where answers get lost
  std::string to;        // the funded gateway's top-up account, as the rule names it
};

const Direction kXenditPaysFlip{"xendit", "flip", "xpo:", "/v2/payouts",
                                R"({bank: BNI, account_no: "8001234567", name: PT Flip Topup})"};
const Direction kFlipPaysXendit{"flip", "xendit", "flp:", "/v3/disbursement",
                                R"({bank: BCA, account_no: "7770001234", name: PT Xendit Topup})"};

void run_payout_campaign(const Direction& d) {
  const int runs_per_point = env_int("CRASH_RUNS", 2);
  std::mt19937 random(static_cast<unsigned>(env_int("CRASH_SEED", 20261130)));
  const int webhook_port = free_port();
  // The payer holds plenty and declines some; the funded balance drains fast. Xendit's
  // payout list lags a second behind, so a look-up after a restart often finds nothing
  // and the resend meets 409.
  const auto balance = [&](const std::string& type) {
    return type == d.payer ? "IDR 900_000_000_000" : "IDR 100_000_000, drain_per_minute: IDR 1_500_000_000";
  };
  Sandbox sandbox(fmt::format(R"(
gateways:
  xendit:
    secret_key: xnd_development_crash
    callback_token: xendit-crash-token
    webhook_url: http://127.0.0.1:{}/webhooks/xendit
    payout_list_lag: 1s
    deposit_bank: BCA
    deposit_account_no: "7770001234"
    deposit_name: PT Xendit Topup
    settle_after: {}
    decline: {}
    accounts:
      master: {{balance: {}}}
  flip:
    secret_key: flip-crash
    deposit_bank: BNI
    deposit_account_no: "8001234567"
    deposit_name: PT Flip Topup
    settle_after: {}
    decline: {}
    accounts:
      main: {{balance: {}}}
)",
                              webhook_port, d.payer == "xendit" ? "300ms" : "100ms", d.payer == "xendit" ? "15%" : "0%",
                              balance("xendit"), d.payer == "flip" ? "300ms" : "100ms",
                              d.payer == "flip" ? "15%" : "0%", balance("flip")));
  TempDir dir;
  const std::string db = dir.file("topupd.db");
  dir.write("topupd.yaml", fmt::format(R"(
http: {{listen: "127.0.0.1:0"}}
store: {{sqlite: {}}}
webhooks: {{listen: "127.0.0.1:{}"}}
providers:
  xendit:
    type: xendit
    base_url: {}
    api_key: xnd_development_crash
    retries: 0
    timeouts: {{request: 1s}}
    webhook: {{callback_token: xendit-crash-token}}
  flip:
    type: flip
    base_url: {}
    api_key: flip-crash
    retries: 0
    timeouts: {{request: 1s}}
accounts:
  xendit: {{provider: xendit, id: master, currency: IDR, poll: {{every: 100ms, timeout: 2s, max_backoff: 300ms}}}}
  flip: {{provider: flip, id: main, currency: IDR, poll: {{every: 100ms, timeout: 2s, max_backoff: 300ms}}}}
rules:
  - name: refill
    account: {}
    when: {{below: IDR 50_000_000}}
    clear: {{above: IDR 60_000_000}}
    top_up:
      method: deposit
      to: {{static: {}}}
      pay_with: {{payout: {{via: {}}}}}
      amount: {{to_target: IDR 100_000_000, round_up_to: IDR 1_000, max: IDR 250_000_000}}
      suspend_after: 0   # declines and lost answers are the point here: keep trying
)",
                                       db, webhook_port, sandbox.url(), sandbox.url(), d.funded, d.to, d.payer));

  // Every third run one payout answer is lost after the payer applied it, is a 500, or
  // is not JSON at all.
  const Campaign campaign = run_campaign(
      dir, kPoints, runs_per_point, random,
      [&](int run) {
        if (run % 3 != 1) return false;
        // The answer lost on the way back, a 500, or garbage — each after the payer applied it.
        static const char* const kMisbehaviours[] = {R"("reset":true)", R"("status":500)", R"("malformed":true)"};
        const std::string fault =
            fmt::format(R"({{"provider":"{}","path":"{}",{},"after_apply":true,"count":1}})", d.payer, d.path,
                        kMisbehaviours[random() % 3]);
        EXPECT_EQ(sandbox.post("/_sandbox/faults", fault).status, 200);
        return true;
      },
      [&] { http_request("DELETE", "127.0.0.1", sandbox.port(), "/_sandbox/faults", ""); });

  {
    const FinalRun final_run = run_until_settled(dir, db, [](const std::vector<Record>&) { return true; });
    ASSERT_EQ(final_run.exit, 0);
    std::string unsettled;
    for (const auto& r : read_journal(db)) {
      if (!kTerminal.count(r.state)) unsettled += fmt::format("\n  {} {}", r.key, r.state);
    }
    ASSERT_TRUE(final_run.settled) << "not settled:" << unsettled << "\n" << read_file(dir.file("final.log"));
  }

  const auto journal = read_journal(db);
  const auto ledger = movements(sandbox);
  std::map<std::string, const Record*> by_key;
  for (const auto& r : journal) by_key[d.ledger + r.key] = &r;
  std::map<std::string, std::vector<const Movement*>> payouts_of;  // record key → its payouts
  std::map<std::string, int> credits_of;                           // payout key → credits at Flip
  int unjournalled = 0, double_credits = 0;
  for (const auto& m : ledger) {
    if (m.provider == d.funded) {
      if (m.source != "external" && ++credits_of[m.source] > 1) ++double_credits;
      continue;
    }
    const auto record = by_key.find(m.key);
    if (record == by_key.end()) {
      ++unjournalled;
      continue;
    }
    payouts_of[record->second->key].push_back(&m);
  }
  const Verdict v = judge(journal, payouts_of, credits_of);
  std::printf("payout crash injection (%s pays %s): runs=%d crash-point kills=%d points hit=%d/%zu random kills=%d faults=%d "
              "top-ups=%zu (declined %d) payouts=%zu resends under the same key=%d duplicates=%d lost=%d "
              "unjournalled=%d double credits=%d uncredited=%d\nper point:%s\n",
              d.payer.c_str(), d.funded.c_str(), campaign.runs, campaign.point_kills(), campaign.points_hit(kPoints),
              kPoints.size(), campaign.random_kills, campaign.faults, journal.size(), v.declined, payouts_of.size(),
              resends(db), v.duplicates, v.lost, unjournalled, double_credits, v.uncredited,
              campaign.per_point(kPoints).c_str());
  EXPECT_EQ(v.duplicates, 0);
  std::string stories;
  for (const auto& key : v.lost_keys) stories += story_of(dir, db, key, campaign.runs);
  EXPECT_EQ(v.lost, 0) << "lost:" << v.lost_records << stories;
  EXPECT_EQ(unjournalled, 0);
  EXPECT_EQ(double_credits, 0);
  EXPECT_EQ(v.uncredited, 0);
  EXPECT_GE(journal.size(), static_cast<std::size_t>(runs_per_point));
  EXPECT_GE(campaign.points_hit(kPoints), 8) << "per point:" << campaign.per_point(kPoints);
}

TEST(CrashInjection, NoCrashPaysAPayoutBetweenGatewaysTwiceOrLosesOne) { run_payout_campaign(kXenditPaysFlip); }

TEST(CrashInjection, NoCrashPaysAFlipDisbursementTwiceOrLosesOne) { run_payout_campaign(kFlipPaysXendit); }

}  // namespace
}  // namespace topupd::testing
