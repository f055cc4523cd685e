// One libpq connection with the store's manners: bounded waits — every answer within
// kAnswerWithin, or the connection is dropped —, errors as StoreError (never naming the
// password), re-established at the next call when lost — but never in the middle of a
// transaction, whose earlier statements died with it; a read or a BEGIN that finds its
// idle connection closed (the server restarted) is asked again at once on a new one. A
// server that cannot be reached is tried again after a backoff (1 s, doubling to 30 s);
// calls in between fail at once rather than each waiting for the connect timeout on the
// event loop.
//
// Private to src/adapters/store.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <string>

#include "pg_rows.hpp"

namespace topupd::adapters::pg {

class Connection {
 public:
  explicit Connection(std::string dsn);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` with `params`; throws StoreError when it fails.
  Rows run(const std::string& sql, const Params& params);
  // Runs a script of several statements (no parameters); throws StoreError naming `what`.
  void script(const char* sql, const std::string& what);
  bool in_transaction() const { return in_transaction_; }

  // BEGIN … COMMIT; rolled back unless committed.
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
  static constexpr std::chrono::seconds kAnswerWithin{5};
  static constexpr std::chrono::seconds kMaxBackoff{30};
  void connect();
  Rows run_once(const std::string& sql, const Params& params);
  PGresult* await_result();
  [[noreturn]] void fail(const std::string& what);
  void drop();

  std::string dsn_;
  PGconn* conn_ = nullptr;
  bool in_transaction_ = false;
  bool closed_ = false;  // the last statement found the connection closed (not timed out)
  std::chrono::steady_clock::duration backoff_{0};
  std::chrono::steady_clock::time_point next_connect_{};
};

}  // namespace topupd::adapters::pg
