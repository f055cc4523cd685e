// The SQLite store's connection (sqlite_connection.hpp): WAL, synchronous=FULL (or
// NORMAL with a Durability flushing it), versioned migrations, kept statements.
#include "sqlite_connection.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sqlite_schema.hpp"

namespace topupd::adapters::sqlite {

namespace {

// Another connection holds the write lock (the store's writer thread, writer.hpp): its
// commits take ~0.1 ms, so ask again soon rather than after SQLite's first 1 ms sleep,
// and give up after about 5 s.
int wait_for_the_other_writer(void*, int tries) {
  constexpr int kShort = 200;  // 50 µs each
  if (tries >= kShort + 4990) return 0;
  std::this_thread::sleep_for(tries < kShort ? std::chrono::microseconds(50) : std::chrono::microseconds(1000));
  return 1;
}

sqlite3* open_connection(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    const std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw StoreError(fmt::format("cannot open the store {}: {}", path, why));
  }
  return db;
}

}  // namespace

Connection::Connection(const std::string& path, Commits commits) : db_(open_connection(path)), statements_(db_) {
  try {
    sqlite3_busy_handler(db_, wait_for_the_other_writer, nullptr);
    // WAL for concurrent readers; FULL so a commit survives power loss, not only a crash.
    if (path != ":memory:") exec("PRAGMA journal_mode = WAL");
    if (commits == Commits::reach_the_os && path != ":memory:") {
      // The Durability thread flushes the log and checkpoints it: a commit here never
      // waits for the disk.
      exec("PRAGMA synchronous = NORMAL");
      exec("PRAGMA wal_autocheckpoint = 0");
    } else {
      exec("PRAGMA synchronous = FULL");
      // The store's writer: its commits wait for the disk on its own thread; it
      // checkpoints between them (checkpoint_long_log), the Durability thread as well.
      if (commits == Commits::wait_for_disk_checkpoint_apart && path != ":memory:") {
        exec("PRAGMA wal_autocheckpoint = 0");
        sqlite3_wal_hook(db_, &Connection::count_log_frames, this);
      }
    }
    exec("PRAGMA foreign_keys = ON");
    migrate();
  } catch (...) {
    statements_.finalize_all();
    sqlite3_close(db_);
    throw;
  }
}

Connection::~Connection() {
  statements_.finalize_all();  // a connection with statements left does not close
  sqlite3_close(db_);
}

int Connection::count_log_frames(void* self, sqlite3*, const char*, int frames) {
  static_cast<Connection*>(self)->log_frames_ = frames;
  return SQLITE_OK;
}

void Connection::checkpoint_long_log() {
  if (log_frames_ < checkpoint_at_) return;
  int in_log = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &in_log, &copied);
  // Busy: the Durability's checkpoint runs; a reader's older snapshot holds frames back.
  // Either way the log restarts after a later try.
  const bool restarts = rc == SQLITE_OK && copied == in_log;
  checkpoint_at_ = restarts ? kLongLog : log_frames_ + kLongLog;
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    spdlog::warn("the store writer's checkpoint failed: {}", sqlite3_errmsg(db_));
  }
}

Connection::Transaction::Transaction(Connection& connection) : connection_(connection) {
  connection_.run("BEGIN IMMEDIATE");
}

Connection::Transaction::~Transaction() {
  if (!done_) sqlite3_exec(connection_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Connection::Transaction::commit() {
  connection_.run("COMMIT");
  done_ = true;
}

void Connection::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string why = error ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    throw StoreError(fmt::format("store command failed: {}", why));
  }
}

void Connection::run(std::string_view sql) {
  Statement statement(statements_, sql);
  if (statement.step()) throw StoreError(fmt::format("store command returned rows: {}", sql));
}

void Connection::migrate() {
  exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
  int current = 0;
  {
    Statement query(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");  // once: not kept
    if (query.step()) current = static_cast<int>(query.integer(0));
  }
  if (current > kSchemaVersion) {
    throw StoreError(fmt::format("the store has schema version {}, newer than this topupd knows ({}); "
                                 "run the newer topupd or restore a backup",
                                 current, kSchemaVersion));
  }
  for (int version = current + 1; version <= kSchemaVersion; ++version) {
    Transaction transaction(*this);
    exec(kMigrations[version - 1]);
    Statement record(db_, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)");
    record.bind(1, version)
        .bind(2, std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count());
    record.step();
    transaction.commit();
  }
}

}  // namespace topupd::adapters::sqlite
