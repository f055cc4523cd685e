// The two engines behind SqlRunner (sql_runner.hpp).
#include <fmt/format.h>

#include "pg_connection.hpp"
#include "pg_rows.hpp"
#include "sql_runner.hpp"
#include "sqlite_statement.hpp"

namespace topupd::adapters {
namespace {

class SqliteRunner final : public SqlRunner {
 public:
  explicit SqliteRunner(sqlite3* db) : db_(db) {}

  SqlRows run(const std::string& sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw StoreError(fmt::format("cannot prepare a statement: {}", sqlite3_errmsg(db_)));
    }
    const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(statement, sqlite3_finalize);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int index = sqlite3_bind_parameter_index(statement, fmt::format("${}", i + 1).c_str());
      if (index == 0) continue;  // not used by this statement
      int rc = SQLITE_OK;
      if (const auto* text = std::get_if<std::string>(&params[i])) {
        rc = sqlite3_bind_text(statement, index, text->data(), static_cast<int>(text->size()), SQLITE_TRANSIENT);
      } else if (const auto* number = std::get_if<std::int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(statement, index, *number);
      } else {
        rc = sqlite3_bind_null(statement, index);
      }
      if (rc != SQLITE_OK) throw StoreError(fmt::format("cannot bind a value: {}", sqlite3_errmsg(db_)));
    }
    SqlRows out;
    for (;;) {
      const int rc = sqlite3_step(statement);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw StoreError(fmt::format("store statement failed: {}", sqlite3_errmsg(db_)));
      auto& row = out.rows.emplace_back();
      for (int c = 0; c < sqlite3_column_count(statement); ++c) {
        const auto* value = sqlite3_column_text(statement, c);
        row.push_back(value ? std::optional<std::string>(reinterpret_cast<const char*>(value)) : std::nullopt);
      }
    }
    out.affected = sqlite3_changes(db_);
    return out;
  }

 private:
  sqlite3* db_;
};

class PgRunner final : public SqlRunner {
 public:
  explicit PgRunner(pg::Connection& db) : db_(db) {}

  SqlRows run(const std::string& sql, const std::vector<SqlValue>& params) override {
    pg::Params bound;
    for (const auto& value : params) {
      if (const auto* text = std::get_if<std::string>(&value)) bound.add(*text);
      else if (const auto* number = std::get_if<std::int64_t>(&value)) bound.add(*number);
      else bound.null();
    }
    const pg::Rows rows = db_.run(sql, bound);
    SqlRows out;
    for (int r = 0; r < rows.count(); ++r) {
      auto& row = out.rows.emplace_back();
      for (int c = 0; c < rows.columns(); ++c) {
        row.push_back(rows.is_null(r, c) ? std::nullopt : std::optional<std::string>(rows.text(r, c)));
      }
    }
    out.affected = rows.affected();
    return out;
  }

 private:
  pg::Connection& db_;
};

}  // namespace

std::int64_t sql_cells::integer(const std::optional<std::string>& cell) {
  if (!cell) throw StoreError("the store holds an empty value where a number belongs");
  try {
    return std::stoll(*cell);
  } catch (const std::exception&) {
    throw StoreError("the store holds a value this topupd cannot read as a number");
  }
}

std::unique_ptr<SqlRunner> sqlite_runner(sqlite3* db) { return std::make_unique<SqliteRunner>(db); }
std::unique_ptr<SqlRunner> pg_runner(pg::Connection& db) { return std::make_unique<PgRunner>(db); }

}  // namespace topupd::adapters
