// One SQLite connection as the store uses it (sqlite_store.cpp): opened in WAL mode
// with the durability its owner asked for, its schema brought up to date, the
// statements it has prepared, and its transactions.
//
// Private to src/adapters/store.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "sqlite_statement.hpp"

namespace topupd::adapters::sqlite {

// What a commit waits for: the disk (checkpointing the log itself within the commit,
// or — the store's writer — apart from its commits, in checkpoint_long_log), or only
// the operating system (a Durability flushes and checkpoints).
enum class Commits { wait_for_disk, wait_for_disk_checkpoint_apart, reach_the_os };

class Connection {
 public:
  // Opens (or creates) the store at `path` and migrates it; throws StoreError.
  Connection(const std::string& path, Commits commits);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }
  StatementCache& statements() { return statements_; }

  // Write-ahead log frames at or beyond which checkpoint_long_log checkpoints (SQLite's
  // own automatic checkpoint's figure: ~4 MB of 4 KiB pages).
  static constexpr int kLongLog = 1000;
  // Once this connection's commits made the log kLongLog frames long, copies it into the
  // database file (PASSIVE: never waits for another connection; synchronous=FULL: the
  // file is flushed). When every frame is copied the next write starts the log again
  // from its beginning, so it stays that size. A checkpoint on another connection (the
  // Durability's) cannot do that while this one commits without pause: it copies up to
  // where the log ended when it began, and by its end the log is longer again — under
  // a stream of webhooks the log grew by 30 MB a second and every flush of it also wrote
  // the file's new size. Call it between commits, where no one waits for it. A failed
  // checkpoint (a full disk, a read-only file) is logged and tried again after another
  // kLongLog frames; the Durability's checkpoints count failures in the metrics.
  void checkpoint_long_log();

  // BEGIN IMMEDIATE on construction; rolled back unless committed.
  class Transaction {
   public:
    explicit Transaction(Connection& connection);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

   private:
    Connection& connection_;
    bool done_ = false;
  };

 private:
  void exec(const std::string& sql);  // any SQL, parsed each time: set-up and migrations
  void run(std::string_view sql);     // a kept statement that returns no rows
  void migrate();
  static int count_log_frames(void* self, sqlite3* db, const char* database, int frames);

  sqlite3* db_ = nullptr;
  StatementCache statements_;
  int log_frames_ = 0;  // in the log after this connection's last commit
  int checkpoint_at_ = kLongLog;
};

}  // namespace topupd::adapters::sqlite
