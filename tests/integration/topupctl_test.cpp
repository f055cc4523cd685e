// topupctl against the real daemon: status, history, approvals, the kill switch.
#include <csignal>
#include <regex>
#include <thread>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "integration/harness.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

// The scenario with its top-up above approval_above, a store and a control socket in
// `state`, which outlives a daemon so that a restart finds what the last one left.
class RunningDaemon : public Daemon {
 public:
  explicit RunningDaemon(const TempDir& state, const std::string& extra_limits = "")
      : Daemon(config(state, extra_limits)), socket_(state.file("control.sock")) {
    EXPECT_TRUE(wait_ready()) << log();
  }
  ~RunningDaemon() {
    process().signal(SIGTERM);
    process().wait(2s);
  }
  CommandResult ctl(const std::vector<std::string>& args) const { return topupctl(socket_, args); }
  std::string socket() const { return socket_; }

 private:
  static std::string config(const TempDir& state, const std::string& extra_limits) {
    PayoutScenario scenario;
    scenario.store = state.file("topupd.db");
    scenario.control = state.file("control.sock");
    scenario.top_up = R"({method: direct_debit, from_account: "1234567890", amount: {to_target: IDR 200_000},
             limits: {approval_above: IDR 100_000)" + extra_limits + "}}";
    return payout_config(scenario);
  }
  std::string socket_;
};

std::string awaiting_key(const RunningDaemon& daemon) {
  const auto history = daemon.ctl({"history", "--state", "awaiting_approval", "--json"});
  std::smatch match;
  if (!std::regex_search(history.output, match, std::regex(R"#("key":"([^"]+)")#"))) return "";
  return match[1];
}

TEST(TopupctlTest, ShowsStatusAndHistoryAndApprovesATopUp) {
  TempDir dir;
  RunningDaemon daemon(dir);
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_topups_in_state", {R"(state="awaiting_approval")"}) == 1; }, 10s))
      << daemon.log();
  struct stat info {};
  ASSERT_EQ(::stat(daemon.socket().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0660u);

  const auto status = daemon.ctl({"status"});
  EXPECT_EQ(status.status, 0) << status.output;
  EXPECT_NE(status.output.find("top-ups: allowed"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("1 top-up in flight"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("awaiting_approval"), std::string::npos) << status.output;
  const auto status_json = daemon.ctl({"--json", "status"});
  EXPECT_EQ(status_json.status, 0);
  EXPECT_NE(status_json.output.find(R"("paused":false)"), std::string::npos) << status_json.output;

  const std::string key = awaiting_key(daemon);
  ASSERT_FALSE(key.empty());
  const auto csv = daemon.ctl({"history", "--csv"});
  EXPECT_EQ(csv.status, 0);
  EXPECT_EQ(csv.output.rfind("key,rule,account,provider,method,amount_minor,currency,state,reference,created_at,settled_at,rail,need,pays_bank,pays_account_no\n", 0), 0u)
      << csv.output;
  EXPECT_NE(csv.output.find(key + ",payout-low,payout,sim,direct_debit,"), std::string::npos) << csv.output;
  const auto misspelt = daemon.ctl({"history", "--state", "awaiting-approval"});
  EXPECT_EQ(misspelt.status, 1);
  EXPECT_NE(misspelt.output.find("'awaiting-approval' is not a top-up state"), std::string::npos) << misspelt.output;
  EXPECT_EQ(daemon.get("/sandbox/ledger").body.find("idempotency_key"), std::string::npos);  // nothing sent yet

  const auto approved = daemon.ctl({"approve", key});
  EXPECT_EQ(approved.status, 0) << approved.output;
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_topups_in_state", {R"(state="succeeded")"}) == 1; }, 10s))
      << daemon.log();
  EXPECT_NE(daemon.get("/sandbox/ledger").body.find(R"("idempotency_key":")" + key + "\""), std::string::npos);

  const auto twice = daemon.ctl({"approve", key});
  EXPECT_EQ(twice.status, 1);
  EXPECT_NE(twice.output.find("is succeeded, not awaiting approval"), std::string::npos) << twice.output;
  EXPECT_EQ(daemon.ctl({"approve", "no-such-key"}).status, 1);
}

TEST(TopupctlTest, RejectDropsTheTopUpWithoutMovingMoney) {
  TempDir dir;
  RunningDaemon daemon(dir);
  ASSERT_TRUE(eventually([&] { return !awaiting_key(daemon).empty(); }, 10s));
  const std::string key = awaiting_key(daemon);
  EXPECT_EQ(daemon.ctl({"reject", key}).status, 0);
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_topups_in_state", {R"(state="rejected")"}) == 1; }, 5s));
  EXPECT_EQ(daemon.get("/sandbox/ledger").body.find(R"("idempotency_key":")" + key + "\""), std::string::npos);
}

TEST(TopupctlTest, AnApprovalNotGivenInTimeExpiresAndFreesTheAccount) {
  TempDir dir;
  RunningDaemon daemon(dir, ", approval_expires: 300ms");
  // The key as it is seen awaiting: 300 ms later it may be expired already.
  std::string first;
  ASSERT_TRUE(eventually([&] { return !(first = awaiting_key(daemon)).empty(); }, 10s));
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_topups_in_state", {R"(state="expired")"}).value_or(0) >= 1; }, 5s))
      << daemon.log();
  EXPECT_GE(daemon.metric("topupd_topups_total", {R"(outcome="expired")", R"(rule="payout-low")"}).value_or(0), 1);
  // The account is free again: the still-firing rule asks anew, under a new key.
  ASSERT_TRUE(eventually([&] { const auto key = awaiting_key(daemon); return !key.empty() && key != first; }, 5s));
  const auto expired = daemon.ctl({"approve", first});
  EXPECT_EQ(expired.status, 1);
  EXPECT_NE(expired.output.find("is expired, not awaiting approval"), std::string::npos) << expired.output;
  EXPECT_EQ(daemon.get("/sandbox/ledger").body.find("idempotency_key"), std::string::npos);  // nothing ever sent
}

TEST(TopupctlTest, CapsLeftAreShownAndComeFromTheJournalAcrossARestart) {
  TempDir dir;
  const std::string caps = ", per_week: IDR 500_000, per_month: IDR 2_000_000";
  const std::vector<std::string> week = {R"(rule="payout-low")", R"(cap="per_week")"};
  double week_left = 0;
  {
    RunningDaemon daemon(dir, caps);
    // Whole before the rule has used any of it.
    ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_topups_in_state", {R"(state="awaiting_approval")"}) == 1; }, 10s))
        << daemon.log();
    const auto history = daemon.ctl({"history", "--json"});
    std::smatch match;
    ASSERT_TRUE(std::regex_search(history.output, match, std::regex(R"#("amount_minor":(\d+))#"))) << history.output;
    const double amount = std::stod(match[1]);
    // What waits for approval may still move money: it counts against the caps.
    ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_top_up_cap_remaining", week) == 50'000'000 - amount; }, 5s))
        << daemon.metrics();
    week_left = 50'000'000 - amount;
    EXPECT_EQ(daemon.metric("topupd_top_up_cap_remaining", {R"(rule="payout-low")", R"(cap="per_month")"}),
              200'000'000 - amount);
    const auto status = daemon.ctl({"status"});
    EXPECT_NE(status.output.find("CAPS LEFT"), std::string::npos) << status.output;
    EXPECT_NE(status.output.find("per_week IDR "), std::string::npos) << status.output;
    const auto status_json = daemon.ctl({"--json", "status"});
    EXPECT_NE(status_json.output.find(R"("cap":"per_month","remaining_minor":)" +
                                      std::to_string(static_cast<long long>(200'000'000 - amount))),
              std::string::npos)
        << status_json.output;
  }
  // A restart resets nothing: the caps are summed from the journal.
  RunningDaemon restarted(dir, caps);
  ASSERT_TRUE(eventually([&] { return restarted.metric("topupd_top_up_cap_remaining", week) == week_left; }, 5s))
      << restarted.metrics();
}

TEST(TopupctlTest, ARuleWhoseTopUpsKeepFailingSuspendsItselfUntilResumedAcrossARestart) {
  TempDir dir;
  PayoutScenario scenario;
  scenario.store = dir.file("topupd.db");
  scenario.control = dir.file("control.sock");
  scenario.sandbox_fields = {"faults: {decline: 100}"};  // every debit declined by the bank
  scenario.top_up = R"({method: direct_debit, from_account: "1234567890", amount: {fixed: IDR 50_000}, suspend_after: 3})";
  const std::string config = payout_config(scenario);
  const std::vector<std::string> suspended = {R"(rule="payout-low")"};
  {
    Daemon daemon(config);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_rule_suspended", suspended) == 1; }, 10s)) << daemon.log();
    // No request after the third failure, however long the balance stays low.
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(ledger_keys(daemon.get("/sandbox/ledger").body).size(), 3u);
    const std::string log = daemon.log();
    EXPECT_EQ(count_of(log, "RuleSuspended: declined: 3 top-ups in a row failed"), 1u) << log;
    EXPECT_NE(log.find("top-up held back: the rule is suspended (declined"), std::string::npos) << log;
    const auto status = topupctl(scenario.control, {"--json", "status"});
    EXPECT_NE(status.output.find(R"("suspended":"declined: 3 top-ups in a row failed)"), std::string::npos)
        << status.output;
    daemon.process().signal(SIGTERM);
    daemon.process().wait(5s);
  }
  Daemon restarted(config);
  ASSERT_TRUE(restarted.wait_ready()) << restarted.log();
  EXPECT_EQ(restarted.metric("topupd_rule_suspended", suspended), 1);
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(ledger_keys(restarted.get("/sandbox/ledger").body).empty()) << "still suspended after the restart";
  const auto resumed = topupctl(scenario.control, {"resume-rule", "payout-low"});
  EXPECT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("rule payout-low resumed"), std::string::npos) << resumed.output;
  EXPECT_EQ(topupctl(scenario.control, {"resume-rule", "payout-low"}).status, 1);  // not suspended any more
  ASSERT_TRUE(eventually([&] { return !ledger_keys(restarted.get("/sandbox/ledger").body).empty(); }, 5s))
      << restarted.log();
  EXPECT_NE(restarted.log().find("rule resumed with topupctl"), std::string::npos);
}

TEST(TopupctlTest, PauseStopsTopUpsAndSurvivesARestart) {
  TempDir dir;
  {
    RunningDaemon daemon(dir);
    const auto paused = daemon.ctl({"pause"});
    EXPECT_EQ(paused.status, 0) << paused.output;
    EXPECT_NE(paused.output.find("top-ups paused"), std::string::npos);
    EXPECT_TRUE(daemon.metric("topupd_paused") == 1);
  }
  RunningDaemon restarted(dir);
  EXPECT_TRUE(restarted.metric("topupd_paused") == 1);
  EXPECT_NE(restarted.ctl({"status"}).output.find("PAUSED"), std::string::npos);
  // The top-up decided before the pause still waits; once it is rejected the rule
  // wants another, and the switch refuses it on every poll without journalling one.
  const std::string before_pause = awaiting_key(restarted);
  ASSERT_FALSE(before_pause.empty());
  EXPECT_EQ(restarted.ctl({"reject", before_pause}).status, 0);
  const std::vector<std::string> refused = {R"(outcome="paused")", R"(rule="payout-low")"};
  ASSERT_TRUE(eventually([&] { return restarted.metric("topupd_topups_total", refused).value_or(0) >= 3; }, 5s))
      << restarted.log();
  EXPECT_TRUE(awaiting_key(restarted).empty());
  EXPECT_EQ(restarted.get("/sandbox/ledger").body.find("idempotency_key"), std::string::npos);
  EXPECT_EQ(restarted.ctl({"resume"}).status, 0);
  EXPECT_TRUE(restarted.metric("topupd_paused") == 0);
}

TEST(TopupctlTest, ExitCodesForUsageAndAnAbsentDaemon) {
  EXPECT_EQ(run_command({TOPUPCTL_BINARY}).status, 2);
  EXPECT_EQ(run_command({TOPUPCTL_BINARY, "frobnicate"}).status, 2);
  EXPECT_EQ(run_command({TOPUPCTL_BINARY, "approve"}).status, 2);
  EXPECT_EQ(run_command({TOPUPCTL_BINARY, "status", "--csv"}).status, 2);
  const auto absent = run_command({TOPUPCTL_BINARY, "--socket", "/nonexistent/control.sock", "status"});
  EXPECT_EQ(absent.status, 3);
  EXPECT_NE(absent.output.find("cannot reach topupd"), std::string::npos);
  EXPECT_EQ(run_command({TOPUPCTL_BINARY, "--help"}).status, 0);
}

}  // namespace
}  // namespace topupd::testing

namespace topupd::testing {
namespace {

CommandResult ctl_with_input(const RunningDaemon& daemon, const TempDir& dir, const std::string& input,
                             const std::vector<std::string>& args) {
  static int n = 0;
  const std::string name = "stdin-" + std::to_string(++n);
  dir.write(name, input + "\n");
  const std::string path = dir.file(name);
  std::vector<std::string> argv{TOPUPCTL_BINARY, "--socket", daemon.socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv, path);
}

// The console's people from the server's shell, and the audit log of what everyone did.
TEST(TopupctlTest, UsersAreManagedFromTheShellAndEveryActionIsAudited) {
  TempDir dir;
  RunningDaemon daemon(dir, ", dual_approval_above: IDR 100_000");
  ASSERT_TRUE(eventually([&] { return !awaiting_key(daemon).empty(); }, 10s)) << daemon.log();
  const std::string key = awaiting_key(daemon);

  EXPECT_EQ(ctl_with_input(daemon, dir, "a long enough secret", {"user", "add", "ana", "--role", "approver"}).status, 0);
  const auto again = ctl_with_input(daemon, dir, "another long secret", {"user", "add", "ana", "--role", "viewer"});
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.output.find("exists"), std::string::npos) << again.output;
  const auto short_one = ctl_with_input(daemon, dir, "short", {"user", "add", "budi", "--role", "viewer"});
  EXPECT_EQ(short_one.status, 1);
  EXPECT_NE(short_one.output.find("at least 10"), std::string::npos) << short_one.output;
  EXPECT_EQ(ctl_with_input(daemon, dir, "a long enough secret", {"user", "add", "budi", "--role", "king"}).status, 1);
  EXPECT_EQ(daemon.ctl({"user", "add", "budi", "--role", "viewer"}).status, 2) << "no password on standard input";
  EXPECT_EQ(daemon.ctl({"user", "add", "budi"}).status, 2);
  EXPECT_EQ(daemon.ctl({"user", "role", "ana", "admin"}).status, 0);

  const auto totp = daemon.ctl({"user", "totp", "ana"});
  EXPECT_EQ(totp.status, 0) << totp.output;
  EXPECT_TRUE(std::regex_search(totp.output, std::regex("otpauth://totp/topupd:ana\\?secret=[A-Z2-7]{32}&")))
      << totp.output;

  const auto list = daemon.ctl({"user", "list"});
  EXPECT_EQ(list.status, 0);
  EXPECT_TRUE(std::regex_search(list.output, std::regex(R"(ana\s+admin\s+yes)"))) << list.output;
  EXPECT_EQ(list.output.find("secret"), std::string::npos);
  EXPECT_EQ(list.output.find("argon2"), std::string::npos);

  // Above dual_approval_above one approval from the shell is kept and waits for a second person.
  const auto approved = daemon.ctl({"approve", key});
  EXPECT_EQ(approved.status, 0) << approved.output;
  EXPECT_NE(approved.output.find("1 of 2"), std::string::npos) << approved.output;
  EXPECT_EQ(daemon.ctl({"pause"}).status, 0);
  EXPECT_EQ(daemon.ctl({"resume"}).status, 0);
  EXPECT_EQ(daemon.ctl({"user", "remove", "ana"}).status, 0);
  EXPECT_EQ(daemon.ctl({"user", "remove", "ana"}).status, 1);

  const auto csv = daemon.ctl({"audit", "--csv"});
  ASSERT_EQ(csv.status, 0) << csv.output;
  for (const char* line : {"topupctl,user add,ana role=approver", "topupctl,user role,ana role=admin",
                           "topupctl,user totp,ana", "topupctl,pause,", "topupctl,resume,", "topupctl,user remove,ana"}) {
    EXPECT_NE(csv.output.find(line), std::string::npos) << line << "\n" << csv.output;
  }
  EXPECT_NE(csv.output.find("topupctl,approve," + key), std::string::npos) << csv.output;
  EXPECT_EQ(csv.output.find("a long enough secret"), std::string::npos);
  EXPECT_EQ(csv.output.find("6120"), std::string::npos) << "not even hex-encoded";
  const auto json = daemon.ctl({"--json", "audit", "--since", "2000-01-01T00:00:00Z"});
  EXPECT_NE(json.output.find(R"("action":"user add")"), std::string::npos) << json.output;
  EXPECT_EQ(daemon.log().find("a long enough secret"), std::string::npos);
}

}  // namespace
}  // namespace topupd::testing
