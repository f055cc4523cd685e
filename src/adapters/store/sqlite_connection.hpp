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

// What a commit waits for: the disk (checkpointing the log itself, or leaving that to
// a Durability), or only the operating system (a Durability flushes and checkpoints).
enum class Commits { wait_for_disk, wait_for_disk_no_checkpoints, reach_the_os };

class Connection {
 public:
  // Opens (or creates) the store at `path` and migrates it; throws StoreError.
  Connection(const std::string& path, Commits commits);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }
  StatementCache& statements() { return statements_; }

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

  sqlite3* db_ = nullptr;
  StatementCache statements_;
};

}  // namespace topupd::adapters::sqlite
