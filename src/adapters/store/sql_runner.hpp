// One statement at a time against either engine, rows read as text: enough for the
// tables that see a few writes a minute (the API's tokens, demands and audit log), so
// their logic is written once for SQLite and PostgreSQL (api_store.cpp). Statements use
// $1, $2, … as placeholders, which both engines accept.
//
// Private to src/adapters/store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "topupd/adapters/store/api_store.hpp"
#include "topupd/adapters/store/console_store.hpp"

namespace topupd::adapters {

namespace pg {
class Connection;
}

using SqlValue = std::variant<std::monostate, std::string, std::int64_t>;  // monostate: NULL

struct SqlRows {
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::int64_t affected = 0;
};

class SqlRunner {
 public:
  virtual ~SqlRunner() = default;
  // Throws StoreError.
  virtual SqlRows run(const std::string& sql, const std::vector<SqlValue>& params) = 0;
};

// Reading and writing cells: times as milliseconds since the epoch, as in every table.
namespace sql_cells {
inline std::int64_t ms(core::Timestamp at) { return at.time_since_epoch().count(); }
inline core::Timestamp at_ms(std::int64_t value) { return core::Timestamp(std::chrono::milliseconds(value)); }
inline SqlValue time_or_null(const std::optional<core::Timestamp>& at) {
  return at ? SqlValue(ms(*at)) : SqlValue(std::monostate{});
}
std::int64_t integer(const std::optional<std::string>& cell);  // throws StoreError
inline std::optional<std::int64_t> optional_integer(const std::optional<std::string>& cell) {
  if (!cell) return std::nullopt;
  return integer(cell);
}
inline std::optional<core::Timestamp> optional_time(const std::optional<std::string>& cell) {
  if (!cell) return std::nullopt;
  return at_ms(integer(cell));
}
inline const std::string& text(const std::optional<std::string>& cell) {
  static const std::string empty;
  return cell ? *cell : empty;
}
}  // namespace sql_cells

// On the store's own connection, which outlives the runner.
std::unique_ptr<SqlRunner> sqlite_runner(sqlite3* db);
std::unique_ptr<SqlRunner> pg_runner(pg::Connection& db);

std::unique_ptr<ApiStore> sql_api_store(std::unique_ptr<SqlRunner> runner);
std::unique_ptr<ConsoleStore> sql_console_store(std::unique_ptr<SqlRunner> runner);

}  // namespace topupd::adapters
