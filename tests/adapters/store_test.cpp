// The Store contract: every implementation must pass this suite — SQLite here, in the unit
// tests, and PostgreSQL in topupd_pg_tests (built from this file with TOPUPD_STORE_ON_POSTGRES).
#include "topupd/adapters/store/store.hpp"

#include <filesystem>
#include <functional>

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include "adapters/store_contract.hpp"

#ifdef TOPUPD_STORE_ON_POSTGRES
#include <libpq-fe.h>

#include "support/postgres_server.hpp"
#include "topupd/adapters/store/migrate.hpp"
#endif

namespace topupd::adapters {
namespace {

using namespace store_contract;

TEST_P(StoreContractTest, PlannedTopUpIsJournalledWithItsRuleState) {
  const TopUpRecord planned = record("k1", at(0));
  ASSERT_TRUE(store_->plan_top_up(planned, "payout-low", firing_state()));
  const auto open = store_->open_top_ups();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].key, "k1");
  EXPECT_EQ(open[0].rule, "payout-low");
  EXPECT_EQ(open[0].account, "payout");
  EXPECT_EQ(open[0].provider, "bank");
  EXPECT_EQ(open[0].method, core::TopUpMethod::direct_debit);
  EXPECT_EQ(open[0].destination_id, "acct-1");
  EXPECT_EQ(open[0].source, "1234567890");
  EXPECT_EQ(open[0].amount, idr(41'000'000));
  EXPECT_EQ(open[0].state, TopUpState::planned);
  EXPECT_EQ(open[0].created_at, at(0));
  EXPECT_FALSE(open[0].settled_at);
  EXPECT_EQ(store_->load_rule_states().at("payout-low"), firing_state());
  const auto history = store_->transitions("k1");
  ASSERT_EQ(history.size(), 1u);
  EXPECT_FALSE(history[0].from);
  EXPECT_EQ(history[0].to, TopUpState::planned);
}

TEST_P(StoreContractTest, TheSameKeyIsNeverJournalledTwice) {
  ASSERT_TRUE(store_->plan_top_up(record("k1", at(0)), "payout-low", firing_state()));
  core::RuleState other;
  other.top_ups_in_episode = 7;
  TopUpRecord again = record("k1", at(5));
  again.amount = idr(1);
  EXPECT_FALSE(store_->plan_top_up(again, "payout-low", other));
  const auto open = store_->open_top_ups();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].amount, idr(41'000'000));  // the parameters never change under a key
  EXPECT_EQ(store_->load_rule_states().at("payout-low"), firing_state());
}

TEST_P(StoreContractTest, TransitionsUpdateTheRecordAndKeepItsHistory) {
  TopUpRecord r = record("k1", at(0));
  ASSERT_TRUE(store_->plan_top_up(r, "payout-low", firing_state()));
  r.state = TopUpState::submitted;
  store_->record_transition(r, TopUpState::planned, at(1), "");
  r.state = TopUpState::unknown;
  r.last_error = "no answer within 10s";
  store_->record_transition(r, TopUpState::submitted, at(11), "no answer within 10s");
  r.state = TopUpState::succeeded;
  r.reference = "tu_123";
  r.settled_at = at(20);
  store_->record_transition(r, TopUpState::unknown, at(20), "found by look-up");

  EXPECT_TRUE(store_->open_top_ups().empty());
  const auto all = store_->top_ups_created_since(at(-1));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].state, TopUpState::succeeded);
  EXPECT_EQ(all[0].reference, "tu_123");
  EXPECT_EQ(all[0].last_error, "no answer within 10s");
  EXPECT_EQ(all[0].settled_at, at(20));
  const auto history = store_->transitions("k1");
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[1].from, TopUpState::planned);
  EXPECT_EQ(history[2].to, TopUpState::unknown);
  EXPECT_EQ(history[2].note, "no answer within 10s");
  EXPECT_EQ(history[3].from, TopUpState::unknown);
  EXPECT_EQ(history[3].to, TopUpState::succeeded);
  EXPECT_EQ(history[3].at, at(20));
}

TEST_P(StoreContractTest, ATransitionOfAnUnknownKeyIsAnError) {
  EXPECT_THROW(store_->record_transition(record("nope", at(0), TopUpState::failed), TopUpState::planned, at(1), ""),
               StoreError);
  EXPECT_TRUE(store_->transitions("nope").empty());
}

TEST_P(StoreContractTest, ListsOpenTopUpsAndThoseCreatedSinceInOrder) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->plan_top_up(record("k" + std::to_string(i), at(i * 100)), "payout-low", firing_state()));
  }
  TopUpRecord done = record("k1", at(100), TopUpState::failed);
  store_->record_transition(done, TopUpState::planned, at(150), "rejected");
  const auto open = store_->open_top_ups();
  ASSERT_EQ(open.size(), 4u);
  EXPECT_EQ(open[0].key, "k0");
  EXPECT_EQ(open[1].key, "k2");
  const auto since = store_->top_ups_created_since(at(200));
  ASSERT_EQ(since.size(), 3u);
  EXPECT_EQ(since[0].key, "k2");
  EXPECT_EQ(since[2].key, "k4");
}

TEST_P(StoreContractTest, TheRailsOfOneNeedAreLinkedInTheJournal) {
  TopUpRecord first = record("need-1", at(0), TopUpState::planned);
  ASSERT_TRUE(store_->plan_top_up(first, "payout-low", firing_state()));
  first.state = TopUpState::failed;
  store_->record_transition(first, TopUpState::planned, at(10), "declined");
  TopUpRecord second = record("need-1-rail2", at(20), TopUpState::planned);
  second.method = core::TopUpMethod::sweep;
  second.rail = 1;
  second.need = "need-1";
  ASSERT_TRUE(store_->plan_top_up(second, "payout-low", firing_state()));
  const auto all = store_->top_ups_created_since(at(0));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].rail, 0u);
  EXPECT_EQ(all[0].need, "");
  EXPECT_EQ(all[1].rail, 1u);
  EXPECT_EQ(all[1].need, "need-1");
  EXPECT_EQ(all[1].method, core::TopUpMethod::sweep);
}

TEST_P(StoreContractTest, ADepositKeepsItsTicketOnceIssuedAndAStaticDestinationFromThePlan) {
  TopUpRecord to_ticket = record("va-1", at(0), TopUpState::planned);
  to_ticket.method = core::TopUpMethod::deposit;
  to_ticket.ticket_provider = "xendit";
  ASSERT_TRUE(store_->plan_top_up(to_ticket, "payout-low", firing_state()));
  EXPECT_FALSE(store_->open_top_ups().at(0).ticket);  // asked for, not issued
  to_ticket.ticket = core::DepositTicket{"fva-1", "BNI", "8808999912", "PT Example", at(6 * 3'600'000)};
  store_->record_transition(to_ticket, TopUpState::planned, at(5), "ticket issued");
  TopUpRecord to_static = record("static-1", at(10), TopUpState::planned);
  to_static.method = core::TopUpMethod::deposit;
  to_static.ticket = core::DepositTicket{"", "014", "1234567890", "PT Flip Topup", std::nullopt};
  ASSERT_TRUE(store_->plan_top_up(to_static, "payout-low", firing_state()));
  // A QRIS code: no account number, its string kept.
  TopUpRecord to_code = record("qr-1", at(20), TopUpState::planned);
  to_code.method = core::TopUpMethod::deposit;
  to_code.ticket_provider = "xendit";
  ASSERT_TRUE(store_->plan_top_up(to_code, "payout-low", firing_state()));
  to_code.ticket = core::DepositTicket{"qr_1", "QRIS", "", "", at(30 * 60'000), "00020101021226400014ID.CO.QRIS6304ABCD"};
  store_->record_transition(to_code, TopUpState::planned, at(25), "ticket issued");
  const auto all = store_->top_ups_created_since(at(0));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].ticket, to_code.ticket);
  EXPECT_EQ(all[0].method, core::TopUpMethod::deposit);
  EXPECT_EQ(all[0].ticket_provider, "xendit");
  EXPECT_EQ(all[0].ticket, to_ticket.ticket);
  EXPECT_EQ(all[1].ticket_provider, "");
  EXPECT_EQ(all[1].ticket, to_static.ticket);
  EXPECT_EQ(store_->transitions("va-1").back().note, "ticket issued");
}

TEST_P(StoreContractTest, RuleStatesRoundTripIncludingEmptyFields) {
  store_->save_rule_state("a", firing_state());
  store_->save_rule_state("b", core::RuleState{});
  core::RuleState pending;
  pending.phase = core::RulePhase::pending;
  pending.condition_since = at(3);
  store_->save_rule_state("a", pending);  // replaces
  const auto states = store_->load_rule_states();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states.at("a"), pending);
  EXPECT_EQ(states.at("b"), core::RuleState{});
}

TEST_P(StoreContractTest, SettingsRoundTrip) {
  EXPECT_FALSE(store_->setting("paused"));
  store_->set_setting("paused", "yes");
  store_->set_setting("paused", "no");
  EXPECT_EQ(store_->setting("paused"), "no");
}

TEST_P(StoreContractTest, RejectedTopUpsAreNotOpen) {
  TopUpRecord r = record("k1", at(0), TopUpState::awaiting_approval);
  ASSERT_TRUE(store_->plan_top_up(r, "payout-low", firing_state()));
  ASSERT_EQ(store_->open_top_ups().size(), 1u);
  r.state = TopUpState::rejected;
  store_->record_transition(r, TopUpState::awaiting_approval, at(60), "rejected by ops");
  EXPECT_TRUE(store_->open_top_ups().empty());
}

TEST_P(StoreContractTest, AWebhookEventIsNewOnlyTheFirstTime) {
  const std::vector<WebhookEventRecord> batch = {{"stripe", "evt_1", "topup.succeeded", at(0)},
                                                 {"stripe", "evt_2", "topup.failed", at(0)},
                                                 {"stripe", "evt_1", "topup.succeeded", at(0)},  // twice in one batch
                                                 {"xendit", "evt_1", "balance", at(0)}};         // another provider
  EXPECT_EQ(store_->remember_webhook_events(batch), (std::vector<bool>{true, true, false, true}));
  EXPECT_EQ(store_->remember_webhook_events({{"stripe", "evt_2", "topup.failed", at(60)}}), std::vector<bool>{false});
  EXPECT_EQ(store_->count_webhook_events(), 3);
  EXPECT_TRUE(store_->remember_webhook_events({}).empty());
}

TEST_P(StoreContractTest, OldWebhookEventsAreForgotten) {
  store_->remember_webhook_events({{"stripe", "old", "t", at(0)}, {"stripe", "new", "t", at(3600)}});
  EXPECT_EQ(store_->forget_webhook_events(at(1800)), 1);
  EXPECT_EQ(store_->count_webhook_events(), 1);
  EXPECT_EQ(store_->remember_webhook_events({{"stripe", "old", "t", at(4000)}}), std::vector<bool>{true});
}

TEST_P(StoreContractTest, TheOutboxKeepsEachNotifiersMessagesInOrderUntilFinished) {
  std::vector<OutboxEntry> entries = {{0, "slack", "{\"n\":1}", at(0), 0, at(0), OutboxState::pending, ""},
                                      {0, "email", "{\"n\":1}", at(0), 0, at(0), OutboxState::pending, ""},
                                      {0, "slack", "{\"n\":2}", at(1), 0, at(1), OutboxState::pending, ""}};
  store_->enqueue_notifications(entries);
  EXPECT_LT(entries[0].id, entries[2].id);
  auto slack = store_->pending_notifications("slack", 10);
  ASSERT_EQ(slack.size(), 2u);
  EXPECT_EQ(slack[0].payload, "{\"n\":1}");
  EXPECT_EQ(slack[1].payload, "{\"n\":2}");
  slack[0].state = OutboxState::delivered;
  slack[0].attempts = 1;
  slack[1].attempts = 3;
  slack[1].next_attempt_at = at(120);
  slack[1].last_error = "Slack answered HTTP 503";
  store_->update_notifications(slack);
  const auto left = store_->pending_notifications("slack", 10);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].attempts, 3);
  EXPECT_EQ(left[0].next_attempt_at, at(120));
  EXPECT_EQ(left[0].last_error, "Slack answered HTTP 503");
  EXPECT_EQ(store_->pending_notifications("email", 10).size(), 1u);
  EXPECT_EQ(store_->forget_notifications(at(3600)), 1);  // only the delivered one
  EXPECT_EQ(store_->pending_notifications("slack", 1).size(), 1u);
}

TEST_P(StoreContractTest, SilencesAreReplacedRemovedAndExpire) {
  store_->save_silence({"payout-low", SilenceKind::silence, "bank maintenance", at(0), at(7200)});
  store_->save_silence({"payout", SilenceKind::ack, "on it", at(0), at(3600)});
  store_->save_silence({"payout-low", SilenceKind::silence, "maintenance runs late", at(100), at(10800)});
  auto active = store_->silences(at(60));
  ASSERT_EQ(active.size(), 2u);
  EXPECT_EQ(active[0].target, "payout");
  EXPECT_EQ(active[1].reason, "maintenance runs late");
  EXPECT_EQ(store_->silences(at(3600)).size(), 1u);  // the ack expired
  EXPECT_TRUE(store_->remove_silence("payout-low", SilenceKind::silence));
  EXPECT_FALSE(store_->remove_silence("payout-low", SilenceKind::silence));
  EXPECT_TRUE(store_->silences(at(0)).size() == 1u);
}

#ifndef TOPUPD_STORE_ON_POSTGRES
INSTANTIATE_TEST_SUITE_P(
    Implementations, StoreContractTest,
    ::testing::Values(StoreFactory{"SqliteFile",
                                   [](const fs::path& dir) { return open_sqlite_store((dir / "topupd.db").string()); }},
                      StoreFactory{"SqliteFileFlushedByDurability",
                                   [](const fs::path& dir) {
                                     return open_sqlite_store((dir / "topupd.db").string(), true);
                                   }},
                      StoreFactory{"SqliteMemory", [](const fs::path&) { return open_sqlite_store(":memory:"); }}),
    [](const ::testing::TestParamInfo<StoreFactory>& param_info) { return param_info.param.name; });

class SqliteFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("topupd-sqlite-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "topupd.db").string(); }
  fs::path dir_;
};

TEST_F(SqliteFileTest, EverythingSurvivesReopening) {
  {
    auto store = open_sqlite_store(path());
    TopUpRecord r = record("k1", at(0));
    ASSERT_TRUE(store->plan_top_up(r, "payout-low", firing_state()));
    r.state = TopUpState::submitted;
    store->record_transition(r, TopUpState::planned, at(1), "");
  }
  auto store = open_sqlite_store(path());
  const auto open = store->open_top_ups();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state, TopUpState::submitted);
  EXPECT_EQ(store->transitions("k1").size(), 2u);
  EXPECT_EQ(store->load_rule_states().at("payout-low"), firing_state());
}

TEST_F(SqliteFileTest, UsesWalAndRecordsItsSchemaVersion) {
  open_sqlite_store(path()).reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &statement, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(statement), SQLITE_ROW);
    std::string value(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)));
    sqlite3_finalize(statement);
    return value;
  };
  EXPECT_EQ(scalar("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar("SELECT MAX(version) FROM schema_migrations"), "10");
  sqlite3_close(db);
}

TEST_F(SqliteFileTest, AnOlderStoreIsMigratedAndKeepsItsJournal) {
  {
    auto store = open_sqlite_store(path());
    ASSERT_TRUE(store->plan_top_up(record("k1", at(0), TopUpState::planned), "payout-low", firing_state()));
  }
  // Make it a version-2 store, as the previous release left it.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE webhook_events; DROP TABLE outbox; DROP TABLE silences; "
                         "ALTER TABLE top_ups DROP COLUMN rail; ALTER TABLE top_ups DROP COLUMN need; "
                         "ALTER TABLE top_ups DROP COLUMN ticket_provider; ALTER TABLE top_ups DROP COLUMN ticket_reference; "
                         "ALTER TABLE top_ups DROP COLUMN ticket_bank; ALTER TABLE top_ups DROP COLUMN ticket_account_no; "
                         "ALTER TABLE top_ups DROP COLUMN ticket_name; ALTER TABLE top_ups DROP COLUMN ticket_expires_at; "
                         "ALTER TABLE top_ups DROP COLUMN ticket_qr; "
                         "DROP TABLE api_tokens; DROP TABLE demands; DROP TABLE audit_log; DROP TABLE console_users; "
                         "DROP TABLE console_sessions; DROP TABLE top_up_approvals; DROP TABLE balance_history; "
                         "DELETE FROM schema_migrations WHERE version >= 3", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = open_sqlite_store(path());
  const auto open = store->open_top_ups();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].key, "k1");
  EXPECT_EQ(open[0].rail, 0u);  // a top-up from before rails went on the first, for its own need
  EXPECT_EQ(open[0].need, "");
  EXPECT_FALSE(open[0].ticket);
  EXPECT_EQ(store->remember_webhook_events({{"stripe", "evt_1", "t", at(0)}}), std::vector<bool>{true});
}

TEST_F(SqliteFileTest, RefusesADatabaseFromANewerTopupd) {
  open_sqlite_store(path()).reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)", nullptr, nullptr,
                         nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  try {
    open_sqlite_store(path());
    FAIL() << "a database migrated by a newer topupd was opened";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 999, newer than this topupd knows (10)"), std::string::npos)
        << e.what();
  }
}

// The store keeps its statements prepared: one that stopped at its first row (a setting
// read) must still end its read, or the log could never be checkpointed to empty.
TEST_F(SqliteFileTest, AReadThatStopsAtItsFirstRowLeavesNoSnapshotOpen) {
  auto store = open_sqlite_store(path(), true);  // as the daemon opens it: a Durability checkpoints
  store->set_setting("a", "1");
  ASSERT_EQ(store->setting("a"), "1");
  store->set_setting("b", "2");
  ASSERT_EQ(store->setting("b"), "2");
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "SELECT COUNT(*) FROM settings", nullptr, nullptr, nullptr), SQLITE_OK);  // finds the log
  int log_frames = -1;
  int checkpointed = -1;
  EXPECT_EQ(sqlite3_wal_checkpoint_v2(other, nullptr, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &checkpointed),
            SQLITE_OK)
      << sqlite3_errmsg(other);
  EXPECT_EQ(log_frames, 0);  // truncated: no reader was left inside the log
  sqlite3_close(other);
  EXPECT_EQ(fs::file_size(path() + "-wal"), 0u);
  EXPECT_EQ(store->setting("a"), "1");
}

TEST(SqliteStoreTest, AnUnopenablePathIsAStoreError) {
  EXPECT_THROW(open_sqlite_store("/nonexistent-directory/topupd.db"), StoreError);
}

#else  // the same contract on a real PostgreSQL 15 (tests/support/postgres_server.hpp)

INSTANTIATE_TEST_SUITE_P(Implementations, StoreContractTest,
                         ::testing::Values(StoreFactory{"Postgres",
                                                        [](const fs::path&) {
                                                          return open_pg_store(
                                                              topupd::testing::PostgresServer::shared().fresh_database());
                                                        }}),
                         [](const ::testing::TestParamInfo<StoreFactory>& param_info) { return param_info.param.name; });

TEST(PostgresStoreTest, MigratesOnceAndKeepsWhatItHeldAcrossAReopen) {
  const std::string dsn = topupd::testing::PostgresServer::shared().fresh_database();
  {
    auto first = open_pg_store(dsn);
    ASSERT_TRUE(first->plan_top_up(record("k1", at(0), TopUpState::planned), "payout-low", firing_state()));
    auto second = open_pg_store(dsn);  // a second instance on the same database: nothing migrates twice
    EXPECT_EQ(second->open_top_ups().size(), 1u);
  }
  auto reopened = open_pg_store(dsn);
  const auto open = reopened->open_top_ups();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].amount, idr(41'000'000));
  EXPECT_EQ(reopened->load_rule_states().at("payout-low"), firing_state());
}

// The server ends the store's session (a restart, a failover, an idle timeout); the
// store learns it at its next statement. A read, or a transaction's BEGIN, is asked again
// at once on a new connection rather than failing its caller (topupctl, the console, a
// journal write); a lone write is not, since one that broke half-way may have been done.
TEST(PostgresStoreTest, AReadOrATransactionOnAConnectionTheServerClosedGoesThroughOnANewOne) {
  const std::string dsn = topupd::testing::PostgresServer::shared().fresh_database();
  auto store = open_pg_store(dsn);
  store->set_setting("paused", "yes");
  PGconn* admin = PQconnectdb(dsn.c_str());
  ASSERT_EQ(PQstatus(admin), CONNECTION_OK);
  auto close_the_store = [&] {
    PGresult* closed = PQexec(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    ASSERT_EQ(PQresultStatus(closed), PGRES_TUPLES_OK) << PQerrorMessage(admin);
    ASSERT_EQ(PQntuples(closed), 1);
    PQclear(closed);
  };
  close_the_store();
  EXPECT_EQ(store->setting("paused"), "yes");
  close_the_store();
  EXPECT_TRUE(store->plan_top_up(record("k1", at(0), TopUpState::planned), "payout-low", firing_state()));
  EXPECT_EQ(store->open_top_ups().size(), 1u);
  EXPECT_EQ(store->transitions("k1").size(), 1u);  // written once
  close_the_store();
  EXPECT_THROW(store->set_setting("paused", "no"), StoreError);
  EXPECT_EQ(store->setting("paused"), "yes");
  PQfinish(admin);
}

// topupd migrate: everything a SQLite store holds, read back through the PostgreSQL
// store as the daemon would; a second copy into the now non-empty target is refused.
TEST(PostgresStoreTest, MigrateCopiesASqliteStoreIntoAnEmptyDatabaseAndRefusesAFullOne) {
  const fs::path dir = fs::temp_directory_path() / ("topupd-migrate-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "topupd.db").string();
  std::vector<OutboxEntry> messages{{0, "finance", "{\"kind\":\"alert_firing\"}", at(3), 1, at(4), OutboxState::pending, "503"},
                                    {0, "ops", "{}", at(5), 0, at(5), OutboxState::delivered, ""}};
  TopUpRecord qris = record("qr-1", at(1), TopUpState::pending);
  qris.method = core::TopUpMethod::deposit;
  qris.ticket_provider = "xendit";
  qris.ticket = core::DepositTicket{"qr_1", "QRIS", "", "", at(1800), "000201010212"};
  {
    auto sqlite = open_sqlite_store(path);
    ASSERT_TRUE(sqlite->plan_top_up(record("k1", at(0)), "payout-low", firing_state()));
    TopUpRecord done = record("k1", at(0), TopUpState::succeeded);
    done.reference = "tu_1";
    done.settled_at = at(2);
    sqlite->record_transition(done, TopUpState::planned, at(2), "settled");
    ASSERT_TRUE(sqlite->plan_top_up(qris, "qris-low", core::RuleState{}));
    sqlite->set_setting("paused", "yes");
    sqlite->save_silence(Silence{"payout-low", SilenceKind::ack, "on it", at(0), at(3600)});
    sqlite->enqueue_notifications(messages);
    ASSERT_EQ(sqlite->remember_webhook_events({{"stripe", "evt_1", "topup.succeeded", at(2)}}), std::vector<bool>{true});
    ASSERT_TRUE(sqlite->api().add_token({"erp", "ab12", {"read"}, at(0)}));
    ASSERT_EQ(sqlite->api().put_demand({"payroll", "payout", idr(1'000), at(86'400), at(0), "erp"}), DemandPut::created);
    sqlite->api().audit({at(1), "token:erp", "GET /api/v1/accounts", "200"});
    ConsoleUser ana{"ana", core::Role::approver, "$argon2id$v=19$x", "\x01\x02", 7, {1, std::nullopt}, at(0)};
    ASSERT_TRUE(sqlite->console().add_user(ana));
    sqlite->console().add_session({"h1", "ana", at(0), at(1)});
    ASSERT_TRUE(sqlite->add_approval({"k1", "ana", "terms", at(1)}));
    sqlite->console().add_balance_points({{"payout", at(1), 5}, {"payout", at(2), 6}});
  }
  const std::string dsn = topupd::testing::PostgresServer::shared().fresh_database();
  const MigrationReport report = copy_sqlite_to_postgres(path, dsn);
  const MigrationReport expected = {{"top_ups", 2},    {"top_up_transitions", 3}, {"rule_states", 2},
                                    {"settings", 1},   {"silences", 1},           {"outbox", 2},
                                    {"webhook_events", 1}, {"api_tokens", 1},     {"demands", 1},
                                    {"audit_log", 1}, {"console_users", 1}, {"console_sessions", 1},
                                    {"top_up_approvals", 1}, {"balance_history", 2}};
  EXPECT_EQ(report, expected);

  auto pg = open_pg_store(dsn);
  // The API's tables came along: the token opens, the demand is there, and the audit
  // log goes on after the copied entry.
  EXPECT_TRUE(pg->api().use_token("ab12", at(5)).has_value());
  EXPECT_EQ(pg->api().demand("payroll")->amount, idr(1'000));
  pg->api().audit({at(6), "topupctl", "token revoke", "erp"});
  EXPECT_EQ(pg->api().audit_log(at(0), 10).size(), 2u);
  // And the console's: the user with her secret, her session, the approval, the history.
  EXPECT_EQ(pg->console().user("ana")->totp_secret, "\x01\x02");
  EXPECT_EQ(pg->console().user("ana")->totp_last_step, 7);
  EXPECT_TRUE(pg->console().session("h1").has_value());
  EXPECT_EQ(pg->approvals("k1").size(), 1u);
  EXPECT_EQ(pg->console().balance_history("payout", at(0)).size(), 2u);
  const auto all = pg->top_ups_created_since(at(0));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].state, TopUpState::succeeded);
  EXPECT_EQ(all[0].reference, "tu_1");
  EXPECT_EQ(all[0].settled_at, at(2));
  EXPECT_EQ(all[0].amount, idr(41'000'000));
  EXPECT_EQ(all[1].ticket, qris.ticket);
  const auto history = pg->transitions("k1");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history.back().note, "settled");
  EXPECT_EQ(pg->load_rule_states().at("payout-low"), firing_state());
  EXPECT_EQ(pg->setting("paused"), "yes");
  ASSERT_EQ(pg->silences(at(10)).size(), 1u);
  EXPECT_EQ(pg->silences(at(10))[0].reason, "on it");
  const auto pending = pg->pending_notifications("finance", 10);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].last_error, "503");
  EXPECT_EQ(pending[0].next_attempt_at, at(4));
  // A redelivered webhook is still a repeat; a new message gets an id after the copied ones.
  EXPECT_EQ(pg->remember_webhook_events({{"stripe", "evt_1", "topup.succeeded", at(9)}}), std::vector<bool>{false});
  std::vector<OutboxEntry> more{{0, "finance", "{}", at(9), 0, at(9), OutboxState::pending, ""}};
  pg->enqueue_notifications(more);
  EXPECT_GT(more[0].id, std::max(messages[0].id, messages[1].id));

  try {
    copy_sqlite_to_postgres(path, dsn);
    FAIL() << "copied into a database that holds a journal";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("the target already holds 2 rows in top_ups"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pg->top_ups_created_since(at(0)).size(), 2u);  // untouched
  EXPECT_THROW(copy_sqlite_to_postgres((dir / "absent.db").string(), dsn), StoreError);
  fs::remove_all(dir);
}

TEST(PostgresStoreTest, AnUnreachableServerIsAStoreErrorThatNamesNoPassword) {
  try {
    open_pg_store("host=127.0.0.1 port=1 user=topupd password=s3cret-value dbname=x connect_timeout=2");
    FAIL() << "connected to nothing";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot connect to PostgreSQL"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("s3cret-value"), std::string::npos) << e.what();
  }
}

#endif

}  // namespace
}  // namespace topupd::adapters
