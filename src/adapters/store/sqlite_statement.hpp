// The SQLite store's statement and time helpers (sqlite_store.cpp): a prepared
// statement with typed binds and columns, and times as milliseconds since the epoch.
//
// Private to src/adapters/store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters::sqlite {

inline std::int64_t millis(core::Timestamp at) { return at.time_since_epoch().count(); }
inline core::Timestamp timestamp(std::int64_t ms) { return core::Timestamp(std::chrono::milliseconds(ms)); }

class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      throw StoreError(fmt::format("cannot prepare a statement: {}", sqlite3_errmsg(db)));
    }
  }
  ~Statement() { sqlite3_finalize(statement_); }
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
  sqlite3_stmt* statement_ = nullptr;
};

}  // namespace topupd::adapters::sqlite
