// Runs the real topupd binary on loopback with the embedded sandbox and checks what
// comes out of it: sd_notify messages, /metrics (also through the real promtool),
// the sandbox's own ledger, exit codes.
#include <csignal>
#include <regex>
#include <set>
#include <sqlite3.h>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "topupd/adapters/net/gzip.hpp"
#include "integration/harness.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

std::string daemon_config(const std::string& rule_name, const std::string& below = "IDR 95_000") {
  return fmt::format(R"(# integration test config
http: {{listen: 127.0.0.1:0}}
log: {{level: debug}}
providers:
  sim:
    type: sandbox
    settle_after: 300ms
    accounts:
      payout: {{balance: IDR 100_000, drain_per_minute: IDR 600_000}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 100ms, timeout: 1s, jitter: 0%}}}}
notifiers:
  log: {{type: log}}
rules:
  - name: {}
    account: payout
    when: {{below: {}}}
    clear: {{above: IDR 150_000}}
    alert: {{severity: warning, notify: [log]}}
    top_up:
      method: direct_debit
      from_account: "1234567890"
      amount: {{to_target: IDR 200_000}}
)",
                     rule_name, below);
}


TEST(DaemonTest, PollsTopsUpExportsMetricsReloadsAndStops) {
  Daemon daemon(daemon_config("payout-low"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();

  // The loop: the balance falls below the threshold and a top-up settles.
  const std::vector<std::string> succeeded = {R"(outcome="succeeded")", R"(rule="payout-low")",
                                              R"(method="direct_debit")"};
  ASSERT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_topups_total", succeeded) >= 1.0; }, 20s))
      << daemon.log();
  const std::string metrics = daemon.metrics();
  ASSERT_TRUE(sample(metrics, "topupd_balance", {R"(account="payout")", R"(currency="IDR")"}));
  EXPECT_EQ(sample(metrics, "topupd_threshold", {R"(rule="payout-low")"}), 9'500'000.0);
  EXPECT_EQ(sample(metrics, "topupd_config_last_reload_successful"), 1.0);
  EXPECT_GE(sample(metrics, "topupd_alerts_total", {R"(rule="payout-low")", R"(severity="warning")"}), 1.0);
  EXPECT_GE(sample(metrics, "topupd_notifications_total", {R"(notifier="log")", R"(outcome="delivered")"}), 1.0);
  EXPECT_GT(sample(metrics, "topupd_last_successful_poll_timestamp_seconds", {R"(account="payout")"}).value_or(0),
            1.7e9);
  EXPECT_TRUE(sample(metrics, "topupd_build_info"));
  // What the process holds: resident memory above the heap it uses, its own open files.
  const double resident = sample(metrics, "process_resident_memory_bytes").value_or(0);
  const double heap = sample(metrics, "topupd_heap_in_use_bytes").value_or(0);
  EXPECT_GT(heap, 100'000.0);
  EXPECT_GT(resident, heap);
  EXPECT_GE(sample(metrics, "process_open_fds").value_or(0), 4.0);  // std streams and a listening socket at least
  EXPECT_GT(sample(metrics, "process_max_fds").value_or(0), sample(metrics, "process_open_fds").value_or(0));

  // The sandbox's own ledger is the witness: every movement has its own key, and
  // what topupd counts as settled is exactly what the sandbox credited.
  const std::string ledger = daemon.get("/sandbox/ledger").body;
  const auto keys = all_matches(ledger, std::regex(R"#("idempotency_key":"([^"]+)")#"));
  ASSERT_FALSE(keys.empty()) << ledger;
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size()) << ledger;
  ASSERT_TRUE(eventually(
      [&] {
        const std::string now_ledger = daemon.get("/sandbox/ledger").body;
        const std::string now_metrics = daemon.metrics();
        double settled_minor = 0;
        const std::regex entry(R"#("amount_minor":(\d+),"currency":"IDR","idempotency_key":"[^"]+","created_at":"[^"]+","settled":true)#");
        for (const auto& amount : all_matches(now_ledger, entry)) settled_minor += std::stod(amount);
        const auto counted = sample(now_metrics, "topupd_topup_amount_minor_total",
                                    {R"(account="payout")", R"(method="direct_debit")"});
        return counted && *counted == settled_minor && settled_minor > 0;
      },
      10s))
      << daemon.get("/sandbox/ledger").body << "\n" << daemon.metrics();

  // Health endpoints.
  EXPECT_EQ(daemon.get("/healthz").status, 200);
  EXPECT_EQ(daemon.get("/readyz").status, 200);
  EXPECT_EQ(daemon.get("/no-such-page").status, 404);

  // The exposition passes the real promtool's lint.
  daemon.dir().write("scrape.txt", daemon.metrics());
  const auto lint = run_command({TOPUPD_PROMTOOL, "check", "metrics"}, daemon.dir().file("scrape.txt"));
  EXPECT_EQ(lint.status, 0) << lint.output;

  // A broken file on SIGHUP: rejected, the old config keeps running.
  daemon.rewrite_config(daemon_config("payout-low", "IDR 95.000.000"));
  daemon.process().signal(SIGHUP);
  ASSERT_TRUE(daemon.notify().wait_for("RELOADING=1", 5s));
  ASSERT_TRUE(daemon.notify().wait_for("READY=1", 5s));
  ASSERT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_config_last_reload_successful") == 0.0; }, 5s));
  EXPECT_TRUE(daemon.process().running());
  EXPECT_EQ(sample(daemon.metrics(), "topupd_threshold", {R"(rule="payout-low")"}), 9'500'000.0);
  const double polled = *sample(daemon.metrics(), "topupd_last_successful_poll_timestamp_seconds");
  EXPECT_TRUE(eventually(
      [&] { return sample(daemon.metrics(), "topupd_last_successful_poll_timestamp_seconds") > polled; }, 5s));
  EXPECT_NE(daemon.log().find("config reload rejected"), std::string::npos);

  // A good file on SIGHUP: applied.
  daemon.rewrite_config(daemon_config("payout-low-renamed"));
  daemon.process().signal(SIGHUP);
  ASSERT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_config_last_reload_successful") == 1.0; }, 5s));
  const std::string reloaded = daemon.metrics();
  EXPECT_TRUE(sample(reloaded, "topupd_threshold", {R"(rule="payout-low-renamed")"}));
  EXPECT_FALSE(sample(reloaded, "topupd_threshold", {R"(rule="payout-low")"}));

  // SIGHUPs in a row, the file changed before each: whichever file the daemon was reading
  // when the next signal came, the last one written is the one in force, and stays.
  for (const char* rule : {"payout-low-a", "payout-low-b", "payout-low-c"}) {
    daemon.rewrite_config(daemon_config(rule));
    daemon.process().signal(SIGHUP);
  }
  ASSERT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_threshold", {R"(rule="payout-low-c")"}).has_value(); },
                         10s))
      << daemon.log();
  std::this_thread::sleep_for(1s);
  const std::string last = daemon.metrics();
  EXPECT_TRUE(sample(last, "topupd_threshold", {R"(rule="payout-low-c")"}));
  EXPECT_FALSE(sample(last, "topupd_threshold", {R"(rule="payout-low-a")"}));
  EXPECT_FALSE(sample(last, "topupd_threshold", {R"(rule="payout-low-b")"}));
  EXPECT_EQ(sample(last, "topupd_config_last_reload_successful"), 1.0);

  // SIGTERM: STOPPING=1, exit 0, within 2 s.
  const auto stop_started = std::chrono::steady_clock::now();
  daemon.process().signal(SIGTERM);
  const auto status = daemon.process().wait(2s);
  ASSERT_TRUE(status.has_value()) << "still running 2 s after SIGTERM";
  EXPECT_EQ(*status, 0) << daemon.log();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, 2s);
  EXPECT_TRUE(daemon.notify().wait_for("STOPPING=1", 1s));
}

TEST(DaemonTest, MetricsAreGzippedForAClientThatAsksForIt) {
  Daemon daemon(daemon_config("payout-low"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const auto ask = [&](const std::string& encoding) {
    return http_send("127.0.0.1", daemon.admin_port(),
                     "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: " + encoding +
                         "\r\nConnection: close\r\n\r\n");
  };
  const HttpResult zipped = ask("gzip, deflate");
  ASSERT_EQ(zipped.status, 200);
  const auto text = adapters::net::gunzip(zipped.body);
  ASSERT_TRUE(text) << "not gzip: " << zipped.body.substr(0, 200);
  EXPECT_NE(text->find("# TYPE topupd_balance gauge\n"), std::string::npos) << *text;
  EXPECT_LT(zipped.body.size(), text->size());
  const HttpResult plain = ask("identity");
  ASSERT_EQ(plain.status, 200);
  EXPECT_FALSE(adapters::net::gunzip(plain.body));
  EXPECT_NE(plain.body.find("# TYPE topupd_balance gauge\n"), std::string::npos);
}

TEST(DaemonTest, SigintStopsCleanly) {
  Daemon daemon(daemon_config("r"));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  daemon.process().signal(SIGINT);
  EXPECT_EQ(daemon.process().wait(2s), 0) << daemon.log();
}

TEST(DaemonTest, SendsWatchdogPingsAtHalfTheInterval) {
  Daemon daemon(daemon_config("r"), {{"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(daemon.notify().wait_for("WATCHDOG=1", 2s));
  ASSERT_TRUE(daemon.notify().wait_for("WATCHDOG=1", 2s));
  ASSERT_TRUE(daemon.notify().wait_for("WATCHDOG=1", 2s));
}

TEST(DaemonTest, FailingPollsAreCountedBackedOffAndKeepTheDaemonUnready) {
  // A second account whose every read fails: the daemon keeps running, counts the
  // errors by reason, backs off, and /readyz names the account it is waiting for.
  std::string config = daemon_config("r");
  config.replace(config.find("      payout: {balance"), 0,
                 "      broken: {balance: IDR 1_000, fail: 100%}\n");
  config.replace(config.find("notifiers:"), 0,
                 "  broken: {provider: sim, currency: IDR, poll: {every: 50ms, max_backoff: 400ms, jitter: 0%}}\n");
  Daemon daemon(config);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const std::vector<std::string> errors = {R"(account="broken")", R"(reason="unavailable")"};
  ASSERT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_poll_errors_total", errors) >= 3.0; }, 5s))
      << daemon.log();
  const auto readyz = daemon.get("/readyz");
  EXPECT_EQ(readyz.status, 503);
  EXPECT_NE(readyz.body.find("broken"), std::string::npos);
  EXPECT_EQ(readyz.body.find("payout"), std::string::npos) << readyz.body;
  EXPECT_FALSE(sample(daemon.metrics(), "topupd_balance", {R"(account="broken")"}));
  // Backoff: 50 ms doubling up to 400 ms gives at most ~10 attempts in 2 s, where a
  // fixed 50 ms interval would give 40.
  const double before = *sample(daemon.metrics(), "topupd_poll_errors_total", errors);
  std::this_thread::sleep_for(2s);
  const double after = *sample(daemon.metrics(), "topupd_poll_errors_total", errors);
  EXPECT_LE(after - before, 12.0);
  EXPECT_GE(after - before, 3.0);
  EXPECT_TRUE(daemon.process().running());
  daemon.process().signal(SIGTERM);
  EXPECT_EQ(daemon.process().wait(2s), 0);
}

TEST(DaemonTest, RunsSchedulesInTheConfigTimeZoneAndWatchesStalenessAndRunway) {
  // The schedule names one minute of the coming minute or two as local time in
  // Asia/Kolkata (UTC+05:30, so even the minute differs from UTC): it can only come
  // due if the daemon reads cron in the config's zone. Real clock, no time tricks.
  using namespace std::chrono;
  const auto now = floor<seconds>(system_clock::now());
  auto due = ceil<minutes>(now + seconds(1));
  if (due - now < seconds(8)) due += minutes(1);  // leave time to start
  const auto kolkata = floor<minutes>(due + hours(5) + minutes(30));
  const auto minute_of_day = (kolkata - floor<days>(kolkata)).count();
  const std::string cron = fmt::format("{} {} * * *", minute_of_day % 60, minute_of_day / 60);
  const std::string config = fmt::format(R"(
timezone: Asia/Kolkata
http: {{listen: 127.0.0.1:0}}
log: {{level: debug}}
providers:
  sim:
    type: sandbox
    settle_after: 200ms
    accounts:
      payout: {{balance: IDR 100_000, drain_per_minute: IDR 60_000}}
      settlement: {{balance: IDR 1_000_000}}
      broken: {{balance: IDR 1, fail: 100%}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 100ms, jitter: 0%}}}}
  settlement: {{provider: sim, currency: IDR, poll: {{every: 100ms, jitter: 0%}}}}
  broken: {{provider: sim, currency: IDR, poll: {{every: 100ms, max_backoff: 200ms, jitter: 0%}}}}
notifiers:
  log: {{type: log}}
rules:
  - name: kolkata-sweep
    account: payout
    schedule: "{}"
    top_up: {{method: sweep, from: settlement, amount: {{percent_of_source: 25}}, keep_in_source: IDR 100_000}}
  - name: broken-stale
    account: broken
    when: {{stale_for: 1s}}
    alert: {{severity: critical, notify: [log]}}
  - name: payout-runway
    account: payout
    when: {{runway_below: 1h, window: 2s}}
    alert: {{severity: critical, notify: [log]}}
)",
                                         cron);
  Daemon daemon(config);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();

  // Staleness: the broken account never answers, so its stale_for rule fires.
  EXPECT_TRUE(eventually(
      [&] { return sample(daemon.metrics(), "topupd_alerts_total", {R"(rule="broken-stale")", R"(severity="critical")"}) >= 1.0; },
      5s));
  // Runway: 1,000 a second out of 100,000 is far below an hour.
  EXPECT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_alerts_total", {R"(rule="payout-runway")"}) >= 1.0; },
                         5s));
  const auto runway = sample(daemon.metrics(), "topupd_runway_seconds", {R"(account="payout")"});
  ASSERT_TRUE(runway);
  EXPECT_GT(*runway, 0.0);
  EXPECT_LT(*runway, 3600.0);

  const std::vector<std::string> swept = {R"(rule="kolkata-sweep")", R"(method="sweep")", R"(outcome="succeeded")"};
  EXPECT_EQ(sample(daemon.metrics(), "topupd_topups_total", swept), 0.0);  // not before its minute
  ASSERT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_topups_total", swept) == 1.0; },
                         duration_cast<milliseconds>(due - system_clock::now()) + 15s))
      << "cron " << cron << "\n" << daemon.log();
  // The sandbox moved exactly 25 % of settlement under the key of that minute.
  const std::string ledger = daemon.get("/sandbox/ledger").body;
  EXPECT_NE(ledger.find(fmt::format(R"("kind":"sweep","account":"payout","source":"settlement","amount_minor":25000000,)"
                                    R"("currency":"IDR","idempotency_key":"topupd-kolkata-sweep-payout-{}-0")",
                                    duration_cast<milliseconds>(due.time_since_epoch()).count())),
            std::string::npos)
      << ledger;
  daemon.process().signal(SIGTERM);
  EXPECT_EQ(daemon.process().wait(2s), 0);
}

std::string store_config(const std::string& store, const std::string& settle_after) {
  PayoutScenario scenario;
  scenario.store = store;
  scenario.settle_after = settle_after;
  scenario.top_up = R"({method: direct_debit, from_account: "1234567890", amount: {fixed: IDR 50_000},
             limits: {per_day: IDR 50_000}})";
  return payout_config(scenario);
}

TEST(DaemonRestartTest, TheDailyLimitSurvivesARestart) {
  TempDir state;
  const std::string config = store_config(state.file("topupd.db"), "100ms");
  const std::vector<std::string> succeeded = {R"(rule="payout-low")", R"(outcome="succeeded")"};
  {
    Daemon first(config);
    ASSERT_TRUE(first.wait_ready()) << first.log();
    ASSERT_TRUE(eventually([&] { return sample(first.metrics(), "topupd_topups_total", succeeded) == 1.0; }, 10s))
        << first.log();
    first.process().signal(SIGTERM);
    ASSERT_EQ(first.process().wait(2s), 0);
  }
  // A new embedded sandbox starts below the threshold again: the rule fires, but the
  // day's allowance was used before the restart, so nothing moves.
  Daemon second(config);
  ASSERT_TRUE(second.wait_ready()) << second.log();
  ASSERT_TRUE(eventually(
      [&] { return sample(second.metrics(), "topupd_rule_state", {R"(rule="payout-low")", R"(state="firing")"}) == 1.0; },
      5s));
  std::this_thread::sleep_for(1s);  // ten more polls while firing
  EXPECT_EQ(second.get("/sandbox/ledger").body.find("idempotency_key"), std::string::npos)
      << second.get("/sandbox/ledger").body;
  EXPECT_EQ(sample(second.metrics(), "topupd_topups_in_state", {R"(state="succeeded")"}), 1.0);
  EXPECT_NE(second.log().find("per_day IDR 50,000.00 already used today"), std::string::npos);
}

TEST(DaemonRestartTest, AKillWithATopUpInFlightDoesNotStartASecondOne) {
  TempDir state;
  const std::string config = store_config(state.file("topupd.db"), "1h");
  std::string key;
  {
    Daemon first(config);
    ASSERT_TRUE(first.wait_ready()) << first.log();
    ASSERT_TRUE(eventually([&] { return sample(first.metrics(), "topupd_topups_in_state", {R"(state="pending")"}) == 1.0; },
                           10s))
        << first.log();
    const auto keys = all_matches(first.get("/sandbox/ledger").body, std::regex(R"#("idempotency_key":"([^"]+)")#"));
    ASSERT_EQ(keys.size(), 1u);
    key = keys[0];
    first.process().signal(SIGKILL);
    ASSERT_EQ(first.process().wait(2s), 128 + SIGKILL);
  }
  Daemon second(config);
  ASSERT_TRUE(second.wait_ready()) << second.log();
  ASSERT_TRUE(eventually(
      [&] { return sample(second.metrics(), "topupd_rule_state", {R"(rule="payout-low")", R"(state="firing")"}) == 1.0; },
      5s));
  std::this_thread::sleep_for(1s);
  // The journal still holds the first top-up as in flight: no new decision, no new key.
  const std::string ledger = second.get("/sandbox/ledger").body;
  for (const auto& other : all_matches(ledger, std::regex(R"#("idempotency_key":"([^"]+)")#"))) {
    EXPECT_EQ(other, key) << ledger;
  }
  EXPECT_EQ(sample(second.metrics(), "topupd_topups_in_state", {R"(state="pending")"}), 1.0) << second.log();
  EXPECT_NE(second.log().find("a top-up for this account is in flight"), std::string::npos);
}

// Reads the daemon's SQLite journal after it stopped: key → states it went through.
std::map<std::string, std::vector<std::string>> journal_transitions(const std::string& path) {
  std::map<std::string, std::vector<std::string>> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return out;
  sqlite3_stmt* query = nullptr;
  sqlite3_prepare_v2(db, "SELECT key, to_state FROM top_up_transitions ORDER BY key, sequence", -1, &query, nullptr);
  while (sqlite3_step(query) == SQLITE_ROW) {
    out[reinterpret_cast<const char*>(sqlite3_column_text(query, 0))].push_back(
        reinterpret_cast<const char*>(sqlite3_column_text(query, 1)));
  }
  sqlite3_finalize(query);
  sqlite3_close(db);
  return out;
}

TEST(DaemonTest, UnknownOutcomesAreLookedUpAndNeverMoveMoneyTwice) {
  // The sandbox loses 40 % of its answers after applying the request and fails 30 %
  // before applying anything; both leave topupd not knowing the outcome. Its ledger
  // and topupd's journal must still agree exactly: nothing moved twice, nothing lost.
  TempDir state;
  PayoutScenario scenario;
  scenario.store = state.file("topupd.db");
  scenario.control = state.file("control.sock");
  scenario.settle_after = "50ms";
  scenario.drain_per_minute = "IDR 1_200_000";
  scenario.poll_every = "50ms";
  scenario.sandbox_fields = {"seed: 11", "faults: {lose_answers: 40%, fail_before_apply: 30%}"};
  // suspend_after: 0 — lost answers are the point here, not a reason to stop.
  scenario.top_up = R"({method: direct_debit, from_account: "1234567890", amount: {fixed: IDR 20_000}, suspend_after: 0})";
  const std::string config = payout_config(scenario);
  Daemon daemon(config);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const std::vector<std::string> succeeded = {R"(rule="payout-low")", R"(outcome="succeeded")"};
  ASSERT_TRUE(eventually([&] { return sample(daemon.metrics(), "topupd_topups_total", succeeded) >= 10.0; }, 30s))
      << daemon.log();
  // Freeze: no new top-ups, and wait until every one in flight has settled.
  ASSERT_EQ(run_command({TOPUPCTL_BINARY, "--socket", state.file("control.sock"), "pause"}).status, 0);
  ASSERT_TRUE(eventually(
      [&] {
        const std::string metrics = daemon.metrics();
        for (const char* open : {"planned", "submitted", "pending", "unknown"}) {
          if (sample(metrics, "topupd_topups_in_state", {fmt::format(R"(state="{}")", open)}) != 0.0) return false;
        }
        return true;
      },
      10s))
      << daemon.log();
  const std::string ledger = daemon.get("/sandbox/ledger").body;
  daemon.process().signal(SIGTERM);
  ASSERT_EQ(daemon.process().wait(2s), 0);

  const auto ledger_keys = all_matches(ledger, std::regex(R"#("idempotency_key":"([^"]+)")#"));
  const std::set<std::string> ledger_set(ledger_keys.begin(), ledger_keys.end());
  EXPECT_EQ(ledger_set.size(), ledger_keys.size()) << "a key was applied twice: " << ledger;
  EXPECT_EQ(ledger.find(R"("settled":false)"), std::string::npos) << ledger;
  const auto journal = journal_transitions(state.file("topupd.db"));
  ASSERT_GE(journal.size(), 10u);
  std::size_t recovered_by_look_up = 0;
  std::size_t resent_after_nothing_happened = 0;
  for (const auto& [key, states] : journal) {
    SCOPED_TRACE(key + ": " + ::testing::PrintToString(states));
    EXPECT_EQ(states.back(), "succeeded");   // nothing lost
    EXPECT_EQ(ledger_set.count(key), 1u);    // and it really moved, once
    for (std::size_t i = 1; i < states.size(); ++i) {
      if (states[i - 1] != "unknown") continue;
      if (states[i] == "submitted") ++resent_after_nothing_happened;
      if (states[i] == "pending" || states[i] == "succeeded") ++recovered_by_look_up;
    }
  }
  EXPECT_EQ(journal.size(), ledger_set.size());
  // Both kinds of unknown outcome happened and were resolved the right way.
  EXPECT_GE(recovered_by_look_up, 1u);
  EXPECT_GE(resent_after_nothing_happened, 1u);
}

TEST(DaemonTest, RefusesToStartWithAnInvalidConfig) {
  TempDir dir;
  dir.write("bad.yaml", daemon_config("r", "IDR 95.000"));
  const auto result = run_command({TOPUPD_BINARY, "--config", dir.file("bad.yaml")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find(dir.file("bad.yaml") + ":17:19: rules[0].when.below: '95.000' is ambiguous"),
            std::string::npos)
      << result.output;
}

TEST(CheckCommandTest, AcceptsTheDemoConfig) {
  const auto result = run_command({TOPUPD_BINARY, "check", "--config", std::string(TOPUPD_SOURCE_DIR) + "/etc/topupd/demo.yaml"});
  EXPECT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("ok"), std::string::npos);
}

TEST(CheckCommandTest, ReportsEveryProblemWithFileLineColumnAndExitsOne) {
  TempDir dir;
  std::string config = daemon_config("r", "IDR 10.000.000");
  config.replace(config.find("notify: [log]"), 13, "notify: [log, pager]");
  config = "timezone: Mars/Olympus\n" + config;
  dir.write("bad.yaml", config);
  const auto result = run_command({TOPUPD_BINARY, "check", "--config", dir.file("bad.yaml")});
  EXPECT_EQ(result.status, 1);
  const std::string file = dir.file("bad.yaml");
  EXPECT_NE(result.output.find(file + ":1:11: timezone: unknown time zone"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(file + ":18:19: rules[0].when.below: '10.000.000' is ambiguous"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find(file + ":20:46: rules[0].alert.notify[1]: unknown notifier 'pager'"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("3 problems found"), std::string::npos) << result.output;
}

TEST(CheckCommandTest, NeverPrintsASecretValue) {
  TempDir dir;
  std::string config = daemon_config("r", "\"IDR ${env:TOPUPD_TEST_SECRET}\"");
  dir.write("secret.yaml", config);
  const auto result = run_command({TOPUPD_BINARY, "check", "--config", dir.file("secret.yaml")}, "/dev/null",
                                  {{"TOPUPD_TEST_SECRET", "sk_live_hunter2"}});
  EXPECT_EQ(result.status, 1);
  EXPECT_EQ(result.output.find("hunter2"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("${env:TOPUPD_TEST_SECRET} (value not shown)"), std::string::npos) << result.output;
}

TEST(CheckCommandTest, UsageErrorsExitTwo) {
  EXPECT_EQ(run_command({TOPUPD_BINARY, "check"}).status, 2);
  EXPECT_EQ(run_command({TOPUPD_BINARY, "frobnicate", "--config", "x"}).status, 2);
  EXPECT_EQ(run_command({TOPUPD_BINARY, "--bogus"}).status, 2);
  const auto version = run_command({TOPUPD_BINARY, "--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_NE(version.output.find("topupd "), std::string::npos);
  const auto help = run_command({TOPUPD_BINARY, "check", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.output.find("Usage: topupd check"), std::string::npos);
}

}  // namespace
}  // namespace topupd::testing

namespace topupd::testing {
namespace {

TEST(VerifyTest, ASucceededTopUpMustShowInTheBalanceOrTopUpNotReflectedFires) {
  // 'steady' is topped up normally: the credit shows in the next polls. 'ghost' is at
  // a gateway that reports every top-up succeeded and never credits it — exactly what
  // verify exists to catch.
  Daemon daemon(R"(
http: {listen: "127.0.0.1:0"}
providers:
  demo:
    type: sandbox
    settle_after: 300ms
    accounts:
      steady: {balance: IDR 1_000_000, drain_per_minute: IDR 6_000_000}
  ghost:
    type: sandbox
    settle_after: 300ms
    faults: {phantom_credits: 100%}
    accounts:
      sink: {balance: IDR 1_000_000, drain_per_minute: IDR 6_000_000}
accounts:
  steady: {provider: demo, currency: IDR, poll: {every: 100ms}}
  sink: {provider: ghost, currency: IDR, poll: {every: 100ms}}
notifiers:
  ops: {type: log}
rules:
  - name: steady-low
    account: steady
    when: {below: IDR 900_000}
    clear: {above: IDR 1_500_000}
    top_up: {method: direct_debit, from_account: "1", amount: {fixed: IDR 2_000_000}, limits: {max_per_day: 1},
             verify: {within: 2s, tolerance: 10%}}
  - name: sink-low
    account: sink
    when: {below: IDR 900_000}
    alert: {severity: warning, notify: [ops]}
    top_up: {method: direct_debit, from_account: "1", amount: {fixed: IDR 2_000_000}, limits: {max_per_day: 1},
             verify: {within: 1s}}
)");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually([&] {
    return sample(daemon.metrics(), "topupd_topups_not_reflected_total", {R"(rule="sink-low")"}) >= 1.0;
  }, std::chrono::seconds(20))) << daemon.log();
  ASSERT_TRUE(eventually([&] {
    return daemon.log().find("top-up reflected in the balance") != std::string::npos;
  }, std::chrono::seconds(20))) << daemon.log();
  const std::string log = daemon.log();
  EXPECT_NE(log.find("TopUpNotReflected"), std::string::npos);
  EXPECT_NE(log.find("account=sink"), std::string::npos);
  // The alert went to the rule's notifier, and the steady account was never accused.
  EXPECT_NE(log.find("ALERT FIRING: TopUpNotReflected"), std::string::npos) << log;
  EXPECT_EQ(sample(daemon.metrics(), "topupd_topups_not_reflected_total", {R"(rule="steady-low")"}), 0.0);
  std::smatch reflected;
  ASSERT_TRUE(std::regex_search(log, reflected, std::regex("top-up reflected in the balance topup=\\S+ account=(\\S+)")));
  EXPECT_EQ(reflected[1], "steady");
}

}  // namespace
}  // namespace topupd::testing
