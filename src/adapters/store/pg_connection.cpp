// A libpq connection for the store: see pg_connection.hpp.
#include "pg_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

#include <fmt/format.h>

namespace topupd::adapters::pg {
namespace {

std::string last_error(PGconn* conn) {
  std::string why = PQerrorMessage(conn);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return why;
}

}  // namespace

Connection::Connection(std::string dsn) : dsn_(std::move(dsn)) { connect(); }

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

void Connection::connect() {
  if (conn_) PQfinish(conn_);
  // A server that does not answer must not hold the event loop for long: 5 s to
  // connect, a dead connection noticed within about 25 s, a statement cut off after
  // 4 s — unless the DSN says otherwise (it comes later, so it wins); whatever it says,
  // an answer is awaited 5 s at most (await_result).
  const char* keywords[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                            "options", "dbname", nullptr};
  const char* values[] = {"5", "10", "5", "3", "-c statement_timeout=4000 -c client_min_messages=warning", dsn_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keywords, values, 1);
  if (PQstatus(conn_) != CONNECTION_OK) {
    // libpq's words name the host and the reason, never the password.
    const std::string why = last_error(conn_);
    PQfinish(conn_);
    conn_ = nullptr;
    backoff_ = std::min<std::chrono::steady_clock::duration>(
        kMaxBackoff, backoff_ == backoff_.zero() ? std::chrono::seconds(1) : backoff_ * 2);
    next_connect_ = std::chrono::steady_clock::now() + backoff_;
    throw StoreError("cannot connect to PostgreSQL: " + why);
  }
  backoff_ = backoff_.zero();
}

Rows Connection::run(const std::string& sql, const Params& params) {
  // A server restarted since the last statement closed this connection as it sat idle;
  // libpq learns it only now. A read or a BEGIN changes nothing, so it is asked once
  // more on a new connection instead of failing the caller. Anything else may have been
  // done before the connection broke, and fails; so does a server that did not answer.
  const bool was_open = conn_ && PQstatus(conn_) == CONNECTION_OK && !in_transaction_;
  try {
    return run_once(sql, params);
  } catch (const StoreError&) {
    const bool repeatable = sql == "BEGIN" || sql.rfind("SELECT ", 0) == 0;
    if (!was_open || !closed_ || !repeatable) throw;
  }
  return run_once(sql, params);
}

Rows Connection::run_once(const std::string& sql, const Params& params) {
  closed_ = false;
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    if (in_transaction_) throw StoreError("store query failed: the connection to PostgreSQL was lost");
    const auto wait = next_connect_ - std::chrono::steady_clock::now();
    if (!conn_ && wait > wait.zero()) {
      throw StoreError(fmt::format("store query failed: PostgreSQL could not be reached; trying again in {} ms",
                                   std::chrono::duration_cast<std::chrono::milliseconds>(wait).count()));
    }
    connect();
  }
  const auto values = params.pointers();
  if (!PQsendQueryParams(conn_, sql.c_str(), params.size(), nullptr, values.data(), nullptr, nullptr, 0)) {
    fail("store query failed: ");
  }
  Rows rows(await_result());
  const ExecStatusType status = PQresultStatus(rows.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const std::string why = rows.get() ? PQresultErrorMessage(rows.get()) : last_error(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      closed_ = true;
      drop();
    }
    std::string trimmed = why;
    while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.pop_back();
    throw StoreError("store query failed: " + trimmed);
  }
  return rows;
}

PGresult* Connection::await_result() {
  // The server's statement_timeout does not help when the network in between stalls (a
  // partition, a proxy that stopped forwarding): the answer is awaited here, on the
  // monotonic clock, and the connection dropped when it does not come.
  const auto deadline = std::chrono::steady_clock::now() + kAnswerWithin;
  while (PQisBusy(conn_)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd ready{PQsocket(conn_), POLLIN, 0};
    const int n = left.count() > 0 ? ::poll(&ready, 1, static_cast<int>(left.count())) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      drop();
      throw StoreError(fmt::format("store query failed: PostgreSQL did not answer within {} s",
                                   std::chrono::duration_cast<std::chrono::seconds>(kAnswerWithin).count()));
    }
    if (!PQconsumeInput(conn_)) fail("store query failed: ");
  }
  PGresult* result = PQgetResult(conn_);
  // One statement, one result: read on to the end so the connection is ready again.
  while (PGresult* more = PQgetResult(conn_)) PQclear(more);
  return result;
}

void Connection::fail(const std::string& what) {
  const std::string why = last_error(conn_);
  closed_ = true;
  drop();
  throw StoreError(what + why);
}

void Connection::drop() {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
}

void Connection::script(const char* sql, const std::string& what) {
  if (!conn_) throw StoreError(what + " failed: the connection to PostgreSQL was lost");
  if (!PQsendQuery(conn_, sql)) fail(what + " failed: ");
  Rows applied(await_result());
  if (PQresultStatus(applied.get()) != PGRES_COMMAND_OK) {
    throw StoreError(what + " failed: " + (applied.get() ? PQresultErrorMessage(applied.get()) : last_error(conn_)));
  }
}

Connection::Transaction::Transaction(Connection& connection) : connection_(connection) {
  connection_.run("BEGIN", Params());
  connection_.in_transaction_ = true;
}

Connection::Transaction::~Transaction() {
  if (!done_ && connection_.conn_) {
    try {
      connection_.run("ROLLBACK", Params());
    } catch (const StoreError&) {
      // The connection is gone, and the transaction with it.
    }
  }
  connection_.in_transaction_ = false;
}

void Connection::Transaction::commit() {
  connection_.run("COMMIT", Params());
  done_ = true;
  connection_.in_transaction_ = false;
}

}  // namespace topupd::adapters::pg
