// Destinations pinned outside the config, against the real daemon: a config edited to
// send money elsewhere is refused by check, at start and on reload, and moves nothing;
// a pin file the service could change is refused. The pin file must be root's, so
// these tests run as root, as `make test` does.
#include <csignal>
#include <sys/stat.h>
#include <unistd.h>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

// `payout` is pinned, `elsewhere` is not; both are below IDR 95,000. `funded` names
// the account the rule tops up.
std::string pinned_config(const TempDir& dir, const std::string& funded) {
  return fmt::format(R"(http: {{listen: 127.0.0.1:0}}
log: {{level: debug}}
control: {{socket: "{}"}}
destinations: "{}"
providers:
  sim:
    type: sandbox
    settle_after: 100ms
    accounts:
      payout: {{balance: IDR 90_000}}
      elsewhere: {{balance: IDR 90_000}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 100ms, timeout: 1s, jitter: 0%}}}}
  elsewhere: {{provider: sim, currency: IDR, poll: {{every: 100ms, timeout: 1s, jitter: 0%}}}}
rules:
  - name: refill
    account: {}
    when: {{below: IDR {}}}
    top_up: {{method: direct_debit, from_account: "1234567890", amount: {{fixed: IDR 50_000}}}}
)",
                     dir.file("control.sock"), dir.file("destinations.yaml"), funded,
                     funded == "payout" ? "1" : "95_000");  // the pinned rule never fires
}

void write_pins(const TempDir& dir, mode_t mode) {
  const std::string path = dir.file("destinations.yaml");
  ::chmod(path.c_str(), 0644);
  dir.write("destinations.yaml", "accounts:\n  - {provider: sim, account_id: payout}\n");
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

TEST(DestinationsTest, CheckRefusesARuleThatWouldSendMoneyToAnAccountNotPinned) {
  TempDir dir;
  write_pins(dir, 0644);
  dir.write("good.yaml", pinned_config(dir, "payout"));
  const auto good = run_command({TOPUPD_BINARY, "check", "--config", dir.file("good.yaml")});
  EXPECT_EQ(good.status, 0) << good.output;
  EXPECT_NE(good.output.find("destinations pinned by " + dir.file("destinations.yaml") + " (sha256 "),
            std::string::npos)
      << good.output;
  dir.write("edited.yaml", pinned_config(dir, "elsewhere"));
  const auto edited = run_command({TOPUPD_BINARY, "check", "--config", dir.file("edited.yaml")});
  EXPECT_EQ(edited.status, 1);
  // At the rule's account, with FILE:LINE:COL.
  EXPECT_NE(edited.output.find(dir.file("edited.yaml") + ":17:14: rules[0].account: money may not go to account "
                                                         "'elsewhere' (provider sim, id elsewhere)"),
            std::string::npos)
      << edited.output;
}

TEST(DestinationsTest, APinFileTheServiceCouldChangeIsRefused) {
  ASSERT_EQ(::geteuid(), 0u) << "the pin file must be root's: run as root, as make test does";
  TempDir dir;
  dir.write("topupd.yaml", pinned_config(dir, "payout"));
  write_pins(dir, 0664);  // writable by its group
  const auto group = run_command({TOPUPD_BINARY, "check", "--config", dir.file("topupd.yaml")});
  EXPECT_EQ(group.status, 1);
  EXPECT_NE(group.output.find("the pinned destinations file can be changed by the service (mode 664, owner uid 0)"),
            std::string::npos)
      << group.output;
  write_pins(dir, 0644);
  ASSERT_EQ(::chown(dir.file("destinations.yaml").c_str(), 65534, 65534), 0);  // nobody's: not root's
  const auto owner = run_command({TOPUPD_BINARY, "check", "--config", dir.file("topupd.yaml")});
  EXPECT_EQ(owner.status, 1);
  EXPECT_NE(owner.output.find("owner uid 65534"), std::string::npos) << owner.output;
  // A file the config names must exist.
  ::unlink(dir.file("destinations.yaml").c_str());
  const auto missing = run_command({TOPUPD_BINARY, "check", "--config", dir.file("topupd.yaml")});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.output.find("cannot read the pinned destinations file"), std::string::npos) << missing.output;
}

TEST(DestinationsTest, AConfigEditedToPointARuleElsewhereMovesNothing) {
  TempDir state;
  write_pins(state, 0644);
  Daemon daemon(pinned_config(state, "payout"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  EXPECT_EQ(daemon.metric("topupd_destinations_info", {"path=\"" + state.file("destinations.yaml") + "\"",
                                                       R"(accounts="1")"}),
            1);
  const auto status = topupctl(state.file("control.sock"), {"status"});
  EXPECT_NE(status.output.find("destinations: pinned by " + state.file("destinations.yaml") + " (sha256 "),
            std::string::npos)
      << status.output;

  // Edited on disk and reloaded: rejected, the old config stays, no money moves.
  daemon.rewrite_config(pinned_config(state, "elsewhere"));
  daemon.process().signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_config_last_reload_successful") == 0.0; }, 5s))
      << daemon.log();
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(ledger_keys(daemon.get("/sandbox/ledger").body).empty()) << daemon.log();
  EXPECT_NE(daemon.log().find("rules[0].account: money may not go to account 'elsewhere'"), std::string::npos)
      << daemon.log();
  // Nor after a restart with it.
  daemon.process().signal(SIGTERM);
  daemon.process().wait(5s);
  Daemon restarted(pinned_config(state, "elsewhere"));
  const auto exit = restarted.process().wait(10s);
  ASSERT_TRUE(exit.has_value()) << restarted.log();
  EXPECT_EQ(*exit, 1);
  EXPECT_NE(restarted.log().find("cannot start: the pinned destinations refuse the configuration"),
            std::string::npos)
      << restarted.log();
}

}  // namespace
}  // namespace topupd::testing
