// The SQLite store's statement and time helpers (sqlite_store.cpp): a prepared
// statement with typed binds and columns, the statements a connection keeps prepared,
// and times as milliseconds since the epoch.
//
// Private to src/adapters/store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters::sqlite {

inline std::int64_t millis(core::Timestamp at) { return at.time_since_epoch().count(); }
inline core::Timestamp timestamp(std::int64_t ms) { return core::Timestamp(std::chrono::milliseconds(ms)); }

inline sqlite3_stmt* prepare(sqlite3* db, std::string_view sql, unsigned flags = 0) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &statement, nullptr) != SQLITE_OK) {
    throw StoreError(fmt::format("cannot prepare a statement: {}", sqlite3_errmsg(db)));
  }
  return statement;
}

// The statements one connection has prepared, by their text, kept for its life: SQLite
// parses and plans a statement when it is prepared, which every write of the store
// would otherwise pay again (a Statement borrows one and hands it back reset). Used by
// one thread at a time, as the store is; finalize_all() before the connection closes.
class StatementCache {
 public:
  struct Kept {
    sqlite3_stmt* statement = nullptr;
    bool lent = false;
  };

  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() { finalize_all(); }
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  sqlite3* db() const { return db_; }
  // The kept statement for `sql`, prepared the first time; nullptr while it is lent out
  // (the same text in use twice at once: the caller prepares one of its own).
  Kept* borrow(std::string_view sql) {
    auto found = kept_.find(sql);
    if (found == kept_.end()) {
      sqlite3_stmt* statement = prepare(db_, sql, SQLITE_PREPARE_PERSISTENT);
      found = kept_.emplace(std::string(sql), Kept{statement, false}).first;
    }
    if (found->second.lent) return nullptr;
    found->second.lent = true;
    return &found->second;  // elements of an unordered_map stay where they are
  }
  std::size_t size() const { return kept_.size(); }
  void finalize_all() {
    for (auto& [sql, kept] : kept_) sqlite3_finalize(kept.statement);
    kept_.clear();
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, Kept, Hash, std::equal_to<>> kept_;
};

class Statement {
 public:
  // Prepared for this use only (migrations, statements run once).
  Statement(sqlite3* db, const char* sql) : db_(db), statement_(prepare(db, sql)) {}
  // Borrowed from the connection's cache, handed back reset with its bindings cleared
  // (a reset also ends the read a half-stepped query would otherwise keep open).
  Statement(StatementCache& cache, std::string_view sql) : db_(cache.db()), kept_(cache.borrow(sql)) {
    statement_ = kept_ ? kept_->statement : prepare(db_, sql);
  }
  ~Statement() {
    if (!kept_) {
      sqlite3_finalize(statement_);
      return;
    }
    reset();
    kept_->lent = false;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::string_view text) {
    check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    check(sqlite3_bind_int64(statement_, index, value));
    return *this;
  }
  Statement& bind(int index, const std::optional<core::Timestamp>& at) {
    check(at ? sqlite3_bind_int64(statement_, index, millis(*at)) : sqlite3_bind_null(statement_, index));
    return *this;
  }
  // Makes the statement ready to run again with new bindings.
  void reset() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  // Steps once: true while there is a row.
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StoreError(fmt::format("store query failed: {}", sqlite3_errmsg(db_)));
  }
  std::string text(int column) const {
    const auto* value = sqlite3_column_text(statement_, column);
    return value ? std::string(reinterpret_cast<const char*>(value)) : std::string();
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  std::optional<core::Timestamp> optional_time(int column) const {
    if (sqlite3_column_type(statement_, column) == SQLITE_NULL) return std::nullopt;
    return timestamp(sqlite3_column_int64(statement_, column));
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw StoreError(fmt::format("cannot bind a value: {}", sqlite3_errmsg(db_)));
  }
  sqlite3* db_;
  StatementCache::Kept* kept_ = nullptr;  // null: prepared for this use, finalized after it
  sqlite3_stmt* statement_ = nullptr;
};

}  // namespace topupd::adapters::sqlite
