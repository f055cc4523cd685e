// topupd's wall clock stepped under it (libfaketime with a control file), the
// monotonic clock left alone: the step is counted and logged, and what sleeps until a
// wall-clock instant measures its wait again.
#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "integration/sink.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

TEST(ClockTest, AnAlertRepeatsOnTimeWhenTheWallClockStepsBackAndForth) {
  TempDir clock;
  clock.write("offset", "+0\n");
  auto env = faketime_env(TOPUPD_FAKETIME, clock.file("offset"));
  Daemon daemon(R"(http: {listen: 127.0.0.1:0}
log: {level: info}
providers:
  sim:
    type: sandbox
    accounts:
      payout: {balance: IDR 90_000}
accounts:
  payout: {provider: sim, currency: IDR, poll: {every: 200ms, timeout: 1s}}
notifiers:
  log: {type: log}
rules:
  - name: payout-low
    account: payout
    when: {below: IDR 95_000}
    alert: {severity: warning, notify: [log], repeat: 2s}
)",
                env);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto repeats = [&] { return count_of(daemon.log(), "ALERT STILL FIRING"); };
  ASSERT_TRUE(eventually([&] { return repeats() >= 1; }, 10s)) << daemon.log();

  // An hour back: the next repeat is due in an hour of wall-clock time, and the
  // daemon sleeps for it.
  clock.write("offset", "-1h\n");
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_clock_jumps_total", {R"(direction="backwards")"}) == 1.0; },
                         10s))
      << daemon.log();
  std::this_thread::sleep_for(3s);
  const std::size_t while_behind = repeats();

  // Back to the right time: a repeat within seconds, not an hour later.
  clock.write("offset", "+0\n");
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_clock_jumps_total", {R"(direction="forwards")"}) == 1.0; },
                         10s))
      << daemon.log();
  EXPECT_TRUE(eventually([&] { return repeats() > while_behind; }, 8s)) << daemon.log();
  EXPECT_NE(daemon.log().find("the wall clock stepped backwards by"), std::string::npos) << daemon.log();

  // An hour ahead: the repeats it skipped are not sent in a burst (1,800 of them), the
  // next one goes out once.
  const std::size_t before_ahead = repeats();
  clock.write("offset", "+1h\n");
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_clock_jumps_total", {R"(direction="forwards")"}) == 2.0; },
                         10s))
      << daemon.log();
  std::this_thread::sleep_for(1s);
  EXPECT_LE(repeats(), before_ahead + 3) << daemon.log();
  daemon.process().signal(SIGTERM);
  EXPECT_EQ(daemon.process().wait(5s), 0);
}

TEST(ClockTest, ANotificationRetryDueWhileTheClockWasBehindGoesOutOnceItComesBack) {
  Sink sink;
  sink.answer_with(500);
  TempDir clock;
  clock.write("offset", "+0\n");
  Daemon daemon(fmt::format(R"(http: {{listen: 127.0.0.1:0}}
log: {{level: info}}
providers:
  sim:
    type: sandbox
    accounts:
      payout: {{balance: IDR 90_000}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 200ms, timeout: 1s}}}}
notifiers:
  pager: {{type: webhook, url: "{}"}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    alert: {{severity: warning, notify: [pager]}}
)",
                            sink.url("/notify")),
                faketime_env(TOPUPD_FAKETIME, clock.file("offset")));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] { return !sink.received().empty(); }, 10s)) << daemon.log();

  // An hour back while the message waits for its retry: due in an hour of wall time.
  clock.write("offset", "-1h\n");
  ASSERT_TRUE(eventually([&] { return daemon.metric("topupd_clock_jumps_total", {R"(direction="backwards")"}) == 1.0; },
                         10s))
      << daemon.log();
  std::this_thread::sleep_for(2s);
  sink.answer_with(200);
  clock.write("offset", "+0\n");
  EXPECT_TRUE(eventually([&] { return sink.accepted().size() == 1; }, 10s)) << daemon.log();
  daemon.process().signal(SIGTERM);
  EXPECT_EQ(daemon.process().wait(5s), 0);
}

}  // namespace
}  // namespace topupd::testing
