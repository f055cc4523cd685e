// A real PostgreSQL 15 for tests: initdb into a temporary directory as an unprivileged
// user (the `postgres` account Debian's package creates, when the tests run as root),
// started with pg_ctl on 127.0.0.1 and a free port, stopped and removed at the end.
#pragma once

#include <string>

namespace topupd::testing {

class PostgresServer {
 public:
  // The one server of this test binary, started on first use.
  static PostgresServer& shared();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // A connection string to database `name` as the test user.
  std::string dsn(const std::string& name) const;
  // A new, empty database; returns its connection string.
  std::string fresh_database();
  int port() const { return port_; }
  // Stops the server at once (every connection dropped, as in a crash or a failover)
  // and starts it again on the same port; returns when it accepts connections.
  void restart();

 private:
  PostgresServer();
  void as_owner(const std::string& command) const;
  void start();

  std::string dir_;
  std::string bin_;
  std::string owner_;  // the unprivileged user the server runs as ("" when not root)
  int port_ = 0;
  int databases_ = 0;
};

}  // namespace topupd::testing
