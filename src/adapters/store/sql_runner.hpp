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

// On the store's own connection, which outlives the runner.
std::unique_ptr<SqlRunner> sqlite_runner(sqlite3* db);
std::unique_ptr<SqlRunner> pg_runner(pg::Connection& db);

std::unique_ptr<ApiStore> sql_api_store(std::unique_ptr<SqlRunner> runner);

}  // namespace topupd::adapters
