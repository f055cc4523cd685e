// The store's disk refusing writes while topupd runs: a full disk (files capped with
// RLIMIT_FSIZE, set before start or lowered on the running process). Money stops,
// monitoring goes on, and the process survives.
#include <sys/resource.h>

#include <csignal>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

TEST(DiskTest, AJournalThatCannotBeWrittenStopsMoneyButNotMonitoring) {
  // The daemon may write files of at most 512 KiB: once the journal's WAL outgrows
  // that, every write fails as on a full disk.
  TempDir state;
  PayoutScenario scenario;
  scenario.store = state.file("topupd.db");
  scenario.settle_after = "50ms";
  scenario.drain_per_minute = "IDR 1_200_000";
  scenario.poll_every = "50ms";
  scenario.top_up = R"({method: direct_debit, from_account: "1234567890", amount: {fixed: IDR 20_000}})";
  scenario.log_level = "info";  // the log is capped too: keep it small
  Daemon daemon(payout_config(scenario), {}, 512 * 1024);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto ledger_entries = [&] { return ledger_keys(daemon.get("/sandbox/ledger").body).size(); };

  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_store_errors_total", {R"(operation="plan")"}) >= 1.0; }, 60s))
      << daemon.log();
  EXPECT_GE(ledger_entries(), 1u);  // money moved while the journal could be written ...
  const std::size_t moved = ledger_entries();
  const double polled = *daemon.metric("topupd_last_successful_poll_timestamp_seconds");
  std::this_thread::sleep_for(1s);  // twenty polls with the rule firing
  EXPECT_EQ(ledger_entries(), moved);  // ... and none once it could not
  EXPECT_GE(daemon.metric("topupd_topups_total", {R"(outcome="store_error")"}).value_or(0), 2.0);
  EXPECT_GT(daemon.metric("topupd_last_successful_poll_timestamp_seconds").value_or(0), polled);  // still watching
  EXPECT_TRUE(daemon.process().running());
  EXPECT_NE(daemon.log().find("refusing to move money: the journal cannot be written"), std::string::npos);
  daemon.process().signal(SIGTERM);
  EXPECT_EQ(daemon.process().wait(2s), 0);
}

TEST(DiskTest, AFileSizeLimitLoweredWhileRunningFailsWritesInsteadOfKillingTopupd) {
  // Lowered from outside (prlimit), with SIGXFSZ at its default: the next log line or
  // store page past the limit would kill a process that did not ignore it.
  TempDir state;
  PayoutScenario scenario;
  scenario.store = state.file("topupd.db");
  scenario.poll_every = "50ms";
  Daemon daemon(payout_config(scenario));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  rlimit limit{};
  ASSERT_EQ(prlimit(daemon.process().pid(), RLIMIT_FSIZE, nullptr, &limit), 0);
  limit.rlim_cur = 1;
  ASSERT_EQ(prlimit(daemon.process().pid(), RLIMIT_FSIZE, &limit, nullptr), 0);
  std::this_thread::sleep_for(2s);  // forty polls, each logged at debug level
  EXPECT_TRUE(daemon.process().running());
  EXPECT_EQ(daemon.get("/healthz").status, 200);
  limit.rlim_cur = RLIM_INFINITY;
  ASSERT_EQ(prlimit(daemon.process().pid(), RLIMIT_FSIZE, &limit, nullptr), 0);
  const double polled = daemon.metric("topupd_last_successful_poll_timestamp_seconds").value_or(0);
  EXPECT_TRUE(eventually([&] {
    return daemon.metric("topupd_last_successful_poll_timestamp_seconds").value_or(0) > polled;
  }, 5s));
  daemon.process().signal(SIGTERM);
  EXPECT_EQ(daemon.process().wait(5s), 0);
}

}  // namespace
}  // namespace topupd::testing
