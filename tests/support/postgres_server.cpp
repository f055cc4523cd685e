// A real PostgreSQL 15 for tests: see postgres_server.hpp.
#include "support/postgres_server.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "support/free_port.hpp"

namespace topupd::testing {

namespace {

std::string quoted(const std::string& text) { return "'" + text + "'"; }

}  // namespace

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

PostgresServer::PostgresServer() : bin_("/usr/lib/postgresql/15/bin") {
  if (!std::filesystem::exists(bin_ + "/initdb")) {
    throw std::runtime_error("PostgreSQL 15 is not installed (" + bin_ + "/initdb); scripts/setup installs it");
  }
  char pattern[] = "/tmp/topupd-pg-XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("cannot make a directory for PostgreSQL");
  dir_ = pattern;
  if (::geteuid() == 0) {
    // initdb refuses root: the server runs as Debian's postgres account.
    const passwd* user = ::getpwnam("postgres");
    if (!user) throw std::runtime_error("no 'postgres' user to run PostgreSQL as");
    owner_ = "postgres";
    if (::chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0) throw std::runtime_error("cannot chown " + dir_);
  }
  port_ = free_port();
  as_owner(fmt::format("{}/initdb -D {}/data -U topupd -A trust --no-sync -E UTF8 >{}/initdb.log 2>&1", bin_, dir_,
                       dir_));
  start();
}

void PostgresServer::start() {
  as_owner(fmt::format("{}/pg_ctl -D {}/data -l {}/server.log -w -t 60 -o \"-p {} -k {} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off\" start >/dev/null",
                       bin_, dir_, dir_, port_, dir_));
}

void PostgresServer::restart() {
  as_owner(fmt::format("{}/pg_ctl -D {}/data -m immediate -w stop >/dev/null 2>&1", bin_, dir_));
  start();
}

PostgresServer::~PostgresServer() {
  try {
    as_owner(fmt::format("{}/pg_ctl -D {}/data -m immediate -w stop >/dev/null 2>&1", bin_, dir_));
  } catch (const std::exception&) {
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void PostgresServer::as_owner(const std::string& command) const {
  const std::string line = owner_.empty() ? command : "runuser -u " + owner_ + " -- sh -c " + quoted(command);
  if (std::system(line.c_str()) != 0) {
    throw std::runtime_error("failed: " + command + " (see " + dir_ + ")");
  }
}

std::string PostgresServer::dsn(const std::string& name) const {
  return fmt::format("host=127.0.0.1 port={} user=topupd dbname={} connect_timeout=5", port_, name);
}

std::string PostgresServer::fresh_database() {
  const std::string name = fmt::format("topupd_test_{}", ++databases_);
  PGconn* admin = PQconnectdb(dsn("postgres").c_str());
  if (PQstatus(admin) != CONNECTION_OK) {
    const std::string why = PQerrorMessage(admin);
    PQfinish(admin);
    throw std::runtime_error("cannot reach the test PostgreSQL: " + why);
  }
  PGresult* created = PQexec(admin, ("CREATE DATABASE " + name).c_str());
  const bool ok = PQresultStatus(created) == PGRES_COMMAND_OK;
  PQclear(created);
  PQfinish(admin);
  if (!ok) throw std::runtime_error("cannot create database " + name);
  return dsn(name);
}

}  // namespace topupd::testing
