// The web console in a real browser (tests/integration/peers/console_browser.js drives
// Debian's Chromium with playwright-core): sign-in, the overview and its chart, a top-up
// above dual_approval_above approved by two people and then sent once — the sandbox's
// ledger is the witness — viewers and forged forms refused, throttled passwords, an
// idle session ended, and markup in names and reasons shown as text. Screenshots of
// every page are kept in build/…/console-screenshots.
#include <csignal>
#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "integration/harness.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kSource = TOPUPD_SOURCE_DIR;
constexpr const char* kPassword = "correct horse battery";

std::string console_config(const TempDir& dir) {
  return fmt::format(R"(http: {{listen: 127.0.0.1:0}}
log: {{level: info}}
store: {{sqlite: "{0}/topupd.db"}}
control: {{socket: "{0}/control.sock"}}
console: {{listen: 127.0.0.1:0, url: "http://127.0.0.1", session_idle: 10s, session_max: 1h}}
providers:
  sim:
    type: sandbox
    settle_after: 100ms
    accounts:
      payout: {{balance: IDR 90_000, drain_per_minute: IDR 6_000}}
      "<script>alert(1)</script>": {{balance: IDR 500_000}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 200ms, timeout: 1s, jitter: 0%}}}}
  "<script>alert(1)</script>": {{provider: sim, currency: IDR, poll: {{every: 1s}}}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    top_up:
      method: direct_debit
      from_account: "1234567890"
      amount: {{to_target: IDR 200_000}}
      limits: {{approval_above: IDR 100_000, dual_approval_above: IDR 100_000}}
)",
                     dir.path());
}

CommandResult add_user(const TempDir& dir, const std::string& name, const std::string& role) {
  const std::string input = "password-" + name;
  dir.write(input, std::string(kPassword) + "\n");
  return run_command({TOPUPCTL_BINARY, "--socket", dir.file("control.sock"), "user", "add", name, "--role", role},
                     dir.file(input));
}

TEST(ConsoleTest, FinanceApprovesWithFourEyesInARealBrowserAndTheMoneyMovesOnce) {
  TempDir dir;
  Daemon daemon(console_config(dir));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_GT(daemon.console_port(), 0) << daemon.log();
  for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
           {"ana", "approver"}, {"budi", "approver"}, {"vera", "viewer"}, {"adm", "admin"}}) {
    const auto added = add_user(dir, name, role);
    ASSERT_EQ(added.status, 0) << added.output;
  }
  const auto silenced = topupctl(dir.file("control.sock"),
                                 {"silence", "<script>alert(1)</script>", "--for", "1h", "--reason", "<script>alert(2)</script>"});
  ASSERT_EQ(silenced.status, 0) << silenced.output;

  std::string key;
  ASSERT_TRUE(eventually(
      [&] {
        const auto waiting = topupctl(dir.file("control.sock"), {"--json", "history", "--state", "awaiting_approval"});
        std::smatch match;
        if (!std::regex_search(waiting.output, match, std::regex(R"#("key":"([^"]+)")#"))) return false;
        key = match[1];
        return true;
      },
      15s))
      << daemon.log();

  const std::string artifacts = std::filesystem::current_path().string() + "/console-screenshots";
  std::filesystem::create_directories(artifacts);
  const auto browser = run_command(
      {TOPUPD_NODE, kSource + "/tests/integration/peers/console_browser.js"}, "/dev/null",
      {{"CONSOLE_URL", fmt::format("http://127.0.0.1:{}", daemon.console_port())},
       {"ARTIFACTS", artifacts},
       {"TOPUP_KEY", key},
       {"PASSWORD", kPassword},
       {"IDLE_SECONDS", "10"},
       {"CHROMIUM", TOPUPD_CHROMIUM},
       {"NODE_PATH", kSource + "/node_modules"}});
  ASSERT_EQ(browser.status, 0) << browser.output << "\n" << daemon.log();
  for (const char* page : {"login", "overview", "top-ups", "approvals", "top-up-waiting", "top-up-succeeded", "alerts",
                           "audit"}) {
    EXPECT_GT(std::filesystem::file_size(artifacts + "/" + page + ".png"), 1000u) << page;
  }

  // The sandbox's ledger: the approved top-up moved money exactly once.
  const std::string ledger = daemon.get("/sandbox/ledger").body;
  std::size_t times = 0;
  for (auto at = ledger.find("\"" + key + "\""); at != std::string::npos; at = ledger.find("\"" + key + "\"", at + 1)) {
    ++times;
  }
  EXPECT_EQ(times, 1u) << ledger;
  // Who did what is in the audit log, and the lockout was counted.
  const auto audit = topupctl(dir.file("control.sock"), {"audit", "--csv"});
  EXPECT_NE(audit.output.find("console:ana,approve," + key), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:budi,approve," + key), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("login locked,adm until"), std::string::npos) << audit.output;
  EXPECT_NE(audit.output.find("console:vera,refused"), std::string::npos) << audit.output;
  EXPECT_GE(daemon.metric("topupd_console_logins_total", {R"(outcome="locked")"}).value_or(0), 1);
  EXPECT_GE(daemon.metric("topupd_console_logins_total", {R"(outcome="failed")"}).value_or(0), 6);
  EXPECT_EQ(daemon.log().find(kPassword), std::string::npos);
}

}  // namespace
}  // namespace topupd::testing
