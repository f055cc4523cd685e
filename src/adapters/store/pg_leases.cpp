// Leases and the shared webhook inbox on PostgreSQL: see leases.hpp. Rows and transactions only — no session
// advisory lock guards ownership, since a pooler in transaction mode would drop it.

#include <fmt/format.h>

#include "pg_connection.hpp"
#include "pg_schema.hpp"
#include "topupd/adapters/store/leases.hpp"

namespace topupd::adapters {
namespace {

using pg::millis;
using pg::Params;
using pg::Rows;
using pg::timestamp;

// A text[] literal: every element quoted, quotes and backslashes escaped.
std::string text_array(std::vector<std::string> items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::int64_t ms(core::Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

class PgLeases final : public LeaseStore {
 public:
  explicit PgLeases(std::string dsn) : db_(std::move(dsn)) {}

  void beat(const InstanceRow& me) override {
    db_.run(fmt::format("INSERT INTO instances (id, host, started_at, heartbeat_at) VALUES ($1, $2, $3, {0}) "
                        "ON CONFLICT (id) DO UPDATE SET heartbeat_at = {0}",
                        pg::kServerMillis),
            Params().add(me.id).add(me.host).add(millis(me.started_at)));
  }

  LeaseView heartbeat(const InstanceRow& me, core::Duration lease) override {
    LeaseView view;
    const std::string now = pg::kServerMillis;
    beat(me);
    // An instance silent for a day is gone for good: it leaves the list people read.
    db_.run(fmt::format("DELETE FROM instances WHERE heartbeat_at < {} - 86400000", now), Params());
    const Rows instances = db_.run(fmt::format("SELECT id, host, started_at, heartbeat_at, {0} FROM instances "
                                               "WHERE heartbeat_at > {0} - $1 ORDER BY id",
                                               now),
                                   Params().add(ms(lease)));
    for (int i = 0; i < instances.count(); ++i) {
      view.instances.push_back({instances.text(i, 0), instances.text(i, 1), timestamp(instances.integer(i, 2)),
                                timestamp(instances.integer(i, 3))});
      view.now = timestamp(instances.integer(i, 4));
    }
    const Rows leases = db_.run("SELECT account, owner, epoch, expires_at FROM leases ORDER BY account", Params());
    for (int i = 0; i < leases.count(); ++i) {
      view.leases.push_back(
          {leases.text(i, 0), leases.text(i, 1), leases.integer(i, 2), timestamp(leases.integer(i, 3))});
    }
    return view;
  }

  std::map<std::string, std::int64_t> acquire(const std::string& instance, const std::vector<std::string>& accounts,
                                              core::Duration lease) override {
    // Taken in account order (ORDER BY a), so two instances taking overlapping sets never
    // deadlock.
    return epochs(fmt::format("INSERT INTO leases AS l (account, owner, epoch, expires_at) "
                              "SELECT a, $1, 1, {0} + $3 FROM unnest($2::text[]) AS a ORDER BY a "
                              "ON CONFLICT (account) DO UPDATE SET "
                              "epoch = CASE WHEN l.owner = excluded.owner THEN l.epoch ELSE l.epoch + 1 END, "
                              "owner = excluded.owner, expires_at = excluded.expires_at "
                              "WHERE l.owner = excluded.owner OR l.expires_at < {0} "
                              "RETURNING account, epoch",
                              pg::kServerMillis),
                  instance, accounts, lease);
  }

  std::map<std::string, std::int64_t> renew(const std::string& instance, const std::vector<std::string>& accounts,
                                            core::Duration lease) override {
    // Rows locked in account order, as acquire does, so the two never deadlock.
    return epochs(fmt::format("UPDATE leases SET expires_at = {} + $3 WHERE account IN (SELECT account "
                              "FROM leases WHERE owner = $1 AND account = ANY($2::text[]) ORDER BY "
                              "account FOR UPDATE) AND owner = $1 RETURNING account, epoch",
                              pg::kServerMillis),
                  instance, accounts, lease);
  }

  void release(const std::string& instance, const std::vector<std::string>& accounts) override {
    if (accounts.empty()) return;
    db_.run("UPDATE leases SET owner = '', expires_at = 0 WHERE owner = $1 AND account = ANY($2::text[])",
            Params().add(instance).add(text_array(accounts)));
  }

  void leave(const std::string& instance) override {
    pg::Connection::Transaction transaction(db_);
    db_.run("UPDATE leases SET owner = '', expires_at = 0 WHERE owner = $1", Params().add(instance));
    db_.run("DELETE FROM instances WHERE id = $1", Params().add(instance));
    transaction.commit();
  }

  std::vector<InboxEvent> inbox(std::size_t limit) override {
    const Rows rows = db_.run("SELECT seq, provider, payload, received_at FROM webhook_inbox ORDER BY seq LIMIT $1",
                              Params().add(static_cast<std::int64_t>(limit)));
    std::vector<InboxEvent> out;
    for (int i = 0; i < rows.count(); ++i) {
      out.push_back({rows.integer(i, 0), rows.text(i, 1), rows.text(i, 2), timestamp(rows.integer(i, 3))});
    }
    return out;
  }

  void take_out(std::int64_t seq) override {
    db_.run("DELETE FROM webhook_inbox WHERE seq = $1", Params().add(seq));
  }

  std::int64_t forget_inbox(core::Timestamp before) override {
    return db_.run("DELETE FROM webhook_inbox WHERE received_at < $1", Params().add(millis(before))).affected();
  }

 private:
  // Runs `sql` ($1 the instance, $2 the accounts as text[], $3 the lease in ms), which
  // returns (account, epoch) rows: the leases granted or renewed.
  std::map<std::string, std::int64_t> epochs(const std::string& sql, const std::string& instance,
                                             const std::vector<std::string>& accounts, core::Duration lease) {
    std::map<std::string, std::int64_t> out;
    if (accounts.empty()) return out;
    const Rows rows = db_.run(sql, Params().add(instance).add(text_array(accounts)).add(ms(lease)));
    for (int i = 0; i < rows.count(); ++i) out.emplace(rows.text(i, 0), rows.integer(i, 1));
    return out;
  }

  pg::Connection db_;
};

}  // namespace

std::unique_ptr<LeaseStore> open_pg_leases(const std::string& dsn) { return std::make_unique<PgLeases>(dsn); }

}  // namespace topupd::adapters
