// A SQLite store copied into an empty PostgreSQL one (store/migrate.hpp). Both engines
// hold the same tables and columns with times as integer milliseconds, so each row goes
// across as text and PostgreSQL reads it back into its own column types.
#include "topupd/adapters/store/migrate.hpp"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {
namespace {

// In the order a foreign key needs: a top-up before its transitions.
constexpr const char* kTables[] = {"top_ups", "top_up_transitions", "rule_states", "settings",  "silences",
                                   "outbox",  "webhook_events",     "api_tokens",  "demands",   "audit_log",
                                   "console_users", "console_sessions", "top_up_approvals", "balance_history"};

std::string pg_error(PGconn* conn) {
  std::string why = PQerrorMessage(conn);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

PgResult exec(PGconn* conn, const std::string& sql, const std::vector<const char*>& values = {}) {
  PgResult result(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                               nullptr, 0),
                  &PQclear);
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw StoreError(fmt::format("PostgreSQL refused the copy: {}", pg_error(conn)));
  }
  return result;
}

}  // namespace

MigrationReport copy_sqlite_to_postgres(const std::string& sqlite_path, const std::string& dsn) {
  if (!std::filesystem::is_regular_file(sqlite_path)) {
    throw StoreError(fmt::format("no SQLite store at {}", sqlite_path));
  }
  // Both brought to this topupd's schema first (each store migrates itself on opening).
  open_sqlite_store(sqlite_path).reset();
  open_pg_store(dsn).reset();

  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(sqlite_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string why = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    throw StoreError(fmt::format("cannot read {}: {}", sqlite_path, why));
  }
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
  std::unique_ptr<PGconn, decltype(&PQfinish)> pg(PQconnectdb(dsn.c_str()), &PQfinish);
  if (PQstatus(pg.get()) != CONNECTION_OK) {
    throw StoreError("cannot connect to PostgreSQL: " + pg_error(pg.get()));  // libpq names no password
  }
  exec(pg.get(), "SET client_min_messages = warning");
  exec(pg.get(), "BEGIN");
  for (const char* table : kTables) {
    const PgResult count = exec(pg.get(), fmt::format("SELECT COUNT(*) FROM {}", table));
    if (std::string(PQgetvalue(count.get(), 0, 0)) != "0") {
      throw StoreError(fmt::format("the target already holds {} rows in {}: topupd migrate copies into an empty "
                                   "database only, so nothing was copied",
                                   PQgetvalue(count.get(), 0, 0), table));
    }
  }
  MigrationReport report;
  for (const char* table : kTables) {
    sqlite3_stmt* raw_statement = nullptr;
    if (sqlite3_prepare_v2(db.get(), fmt::format("SELECT * FROM {}", table).c_str(), -1, &raw_statement, nullptr) !=
        SQLITE_OK) {
      throw StoreError(fmt::format("cannot read table {} of {}: {}", table, sqlite_path, sqlite3_errmsg(db.get())));
    }
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> rows(raw_statement, &sqlite3_finalize);
    const int columns = sqlite3_column_count(rows.get());
    std::string names, placeholders;
    for (int c = 0; c < columns; ++c) {
      names += fmt::format("{}{}", c ? ", " : "", sqlite3_column_name(rows.get(), c));
      placeholders += fmt::format("{}${}", c ? ", " : "", c + 1);
    }
    const std::string insert = fmt::format("INSERT INTO {} ({}) VALUES ({})", table, names, placeholders);
    std::int64_t copied = 0;
    int step = SQLITE_ROW;
    while ((step = sqlite3_step(rows.get())) == SQLITE_ROW) {
      std::vector<std::string> text(static_cast<std::size_t>(columns));
      std::vector<const char*> values(static_cast<std::size_t>(columns), nullptr);
      for (int c = 0; c < columns; ++c) {
        if (sqlite3_column_type(rows.get(), c) == SQLITE_NULL) continue;  // NULL stays NULL
        const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(rows.get(), c));
        text[static_cast<std::size_t>(c)].assign(bytes, static_cast<std::size_t>(sqlite3_column_bytes(rows.get(), c)));
        values[static_cast<std::size_t>(c)] = text[static_cast<std::size_t>(c)].c_str();
      }
      exec(pg.get(), insert, values);
      ++copied;
    }
    if (step != SQLITE_DONE) {
      throw StoreError(fmt::format("cannot read table {} of {}: {}", table, sqlite_path, sqlite3_errmsg(db.get())));
    }
    report.emplace_back(table, copied);
  }
  // The outbox's ids go on from the last one copied.
  exec(pg.get(), "SELECT setval(pg_get_serial_sequence('outbox', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM outbox");
  exec(pg.get(),
       "SELECT setval(pg_get_serial_sequence('audit_log', 'seq'), COALESCE(MAX(seq), 0) + 1, false) FROM audit_log");
  exec(pg.get(), "COMMIT");
  return report;
}

}  // namespace topupd::adapters
