// The daemon on a real PostgreSQL 15 store: it journals its top-up there before the
// request leaves, and a restart finds the journal, the daily cap and the rule's state
// where the last run left them.
#include <csignal>
#include <thread>

#include <gtest/gtest.h>

#include "integration/harness.hpp"
#include "support/postgres_server.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

TEST(PostgresDaemonTest, TopsUpOnceAndARestartFindsTheJournalWhereItWas) {
  const std::string dsn = PostgresServer::shared().fresh_database();
  PayoutScenario scenario;
  scenario.top_up = R"({method: direct_debit, from_account: "1234567890", amount: {fixed: IDR 50_000},
             limits: {max_per_day: 1}})";
  TempDir dir;
  dir.write("pg-dsn", dsn + "\n");
  // The DSN comes from a credential, as it should in production: it may hold a password.
  std::string config = payout_config(scenario);
  config.insert(config.find("providers:"), "store: {postgres: {dsn: \"${cred:pg-dsn}\"}}\n");
  const std::map<std::string, std::string> env{{"CREDENTIALS_DIRECTORY", dir.path()}};
  std::string first_key;
  {
    Daemon daemon(config, env);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    ASSERT_TRUE(eventually([&] { return !ledger_keys(daemon.get("/sandbox/ledger").body).empty(); }, 10s))
        << daemon.log();
    first_key = ledger_keys(daemon.get("/sandbox/ledger").body)[0];
    ASSERT_TRUE(eventually([&] { return daemon.log().find("top-up succeeded") != std::string::npos; }, 10s))
        << daemon.log();
    EXPECT_EQ(daemon.log().find(dsn), std::string::npos) << "the DSN is a secret";
    daemon.process().signal(SIGTERM);
    ASSERT_EQ(daemon.process().wait(5s), 0);
  }
  Daemon restarted(config, env);
  ASSERT_TRUE(restarted.wait_ready()) << restarted.log();
  EXPECT_NE(restarted.log().find("state loaded rules=1 top_ups=1"), std::string::npos) << restarted.log();
  // max_per_day 1, counted from the journal in PostgreSQL: no second top-up today.
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(ledger_keys(restarted.get("/sandbox/ledger").body).empty()) << restarted.log();
  EXPECT_NE(restarted.log().find("max_per_day 1 reached"), std::string::npos) << restarted.log();
  EXPECT_FALSE(first_key.empty());
}

// topupd migrate: a daemon that ran on SQLite stops, its store is copied into
// PostgreSQL with the command line, and the daemon started on the copy carries on
// where it stopped — its top-up journalled, its daily cap used.
TEST(PostgresDaemonTest, MigrateCarriesASqliteJournalOverToPostgres) {
  const std::string dsn = PostgresServer::shared().fresh_database();
  TempDir dir;
  PayoutScenario scenario;
  scenario.top_up = R"({method: direct_debit, from_account: "1234567890", amount: {fixed: IDR 50_000},
             limits: {max_per_day: 1}})";
  scenario.store = dir.file("topupd.db");
  {
    Daemon daemon(payout_config(scenario));
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    ASSERT_TRUE(eventually([&] { return daemon.log().find("top-up succeeded") != std::string::npos; }, 10s))
        << daemon.log();
    daemon.process().signal(SIGTERM);
    ASSERT_EQ(daemon.process().wait(5s), 0);
  }
  const auto usage = run_command({TOPUPD_BINARY, "migrate", "--from", scenario.store});
  EXPECT_EQ(usage.status, 2) << usage.output;
  const auto copied = run_command({TOPUPD_BINARY, "migrate", "--from", "sqlite:" + scenario.store, "--to", "postgres:" + dsn});
  ASSERT_EQ(copied.status, 0) << copied.output;
  EXPECT_NE(copied.output.find("top_ups              1 rows"), std::string::npos) << copied.output;
  const auto again = run_command({TOPUPD_BINARY, "migrate", "--from", "sqlite:" + scenario.store, "--to", "postgres:" + dsn});
  EXPECT_EQ(again.status, 1) << again.output;
  EXPECT_NE(again.output.find("the target already holds 1 rows in top_ups"), std::string::npos) << again.output;

  dir.write("pg-dsn", dsn + "\n");
  scenario.store.clear();
  std::string config = payout_config(scenario);
  config.insert(config.find("providers:"), "store: {postgres: {dsn: \"${cred:pg-dsn}\"}}\n");
  Daemon on_postgres(config, {{"CREDENTIALS_DIRECTORY", dir.path()}});
  ASSERT_TRUE(on_postgres.wait_ready()) << on_postgres.log();
  EXPECT_NE(on_postgres.log().find("state loaded rules=1 top_ups=1"), std::string::npos) << on_postgres.log();
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(ledger_keys(on_postgres.get("/sandbox/ledger").body).empty()) << on_postgres.log();
  EXPECT_NE(on_postgres.log().find("max_per_day 1 reached"), std::string::npos) << on_postgres.log();
}

}  // namespace
}  // namespace topupd::testing
