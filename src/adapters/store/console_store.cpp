// The console's tables — users, sessions, approvals, the balance history — written once
// for both engines over SqlRunner (sql_runner.hpp).
#include <fmt/format.h>

#include "sql_runner.hpp"
#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {
namespace {

using namespace sql_cells;

constexpr const char* kUserColumns =
    "name, role, password_hash, totp_secret, totp_last_step, failed_logins, locked_until, created_at";

ConsoleUser user_of(const std::vector<std::optional<std::string>>& row) {
  ConsoleUser user;
  user.name = text(row[0]);
  const auto role = core::role_from(text(row[1]));
  if (!role) throw StoreError("the store holds a console user with a role this topupd does not know");
  user.role = *role;
  user.password_hash = text(row[2]);
  const auto secret = crypto::unhex(text(row[3]));
  if (!secret) throw StoreError("the store holds a TOTP secret this topupd cannot read");
  user.totp_secret = *secret;
  user.totp_last_step = optional_integer(row[4]);
  user.failures.count = static_cast<int>(integer(row[5]));
  user.failures.locked_until = optional_time(row[6]);
  user.created_at = at_ms(integer(row[7]));
  return user;
}

std::vector<SqlValue> user_values(const ConsoleUser& u) {
  return {u.name,
          std::string(core::to_string(u.role)),
          u.password_hash,
          crypto::hex(u.totp_secret),
          u.totp_last_step ? SqlValue(*u.totp_last_step) : SqlValue(std::monostate{}),
          static_cast<std::int64_t>(u.failures.count),
          time_or_null(u.failures.locked_until),
          ms(u.created_at)};
}

std::vector<SqlValue> without_created_at(std::vector<SqlValue> values) {
  values.pop_back();
  return values;
}

class SqlConsoleStore final : public ConsoleStore {
 public:
  explicit SqlConsoleStore(std::unique_ptr<SqlRunner> runner) : db_(std::move(runner)) {}

  bool add_user(const ConsoleUser& u) override {
    return db_->run(fmt::format("INSERT INTO console_users ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                                "ON CONFLICT DO NOTHING",
                                kUserColumns),
                    user_values(u))
               .affected == 1;
  }

  bool update_user(const ConsoleUser& u) override {
    return db_->run("UPDATE console_users SET role = $2, password_hash = $3, totp_secret = $4, totp_last_step = $5, "
                    "failed_logins = $6, locked_until = $7 WHERE name = $1",
                    without_created_at(user_values(u)))
               .affected == 1;
  }

  bool remove_user(const std::string& name) override {
    const bool removed = db_->run("DELETE FROM console_users WHERE name = $1", {name}).affected == 1;
    db_->run("DELETE FROM console_sessions WHERE user_name = $1", {name});
    return removed;
  }

  std::optional<ConsoleUser> user(const std::string& name) override {
    const SqlRows rows = db_->run(fmt::format("SELECT {} FROM console_users WHERE name = $1", kUserColumns), {name});
    if (rows.rows.empty()) return std::nullopt;
    return user_of(rows.rows.front());
  }

  std::vector<ConsoleUser> users() override {
    std::vector<ConsoleUser> out;
    for (const auto& row :
         db_->run(fmt::format("SELECT {} FROM console_users ORDER BY name", kUserColumns), {}).rows) {
      out.push_back(user_of(row));
    }
    return out;
  }

  void add_session(const ConsoleSession& s) override {
    db_->run("INSERT INTO console_sessions (hash, user_name, created_at, last_seen_at) VALUES ($1, $2, $3, $4)",
             {s.hash, s.user, ms(s.created_at), ms(s.last_seen_at)});
  }

  std::optional<ConsoleSession> session(const std::string& hash) override {
    const SqlRows rows =
        db_->run("SELECT hash, user_name, created_at, last_seen_at FROM console_sessions WHERE hash = $1", {hash});
    if (rows.rows.empty()) return std::nullopt;
    const auto& row = rows.rows.front();
    return ConsoleSession{text(row[0]), text(row[1]), at_ms(integer(row[2])), at_ms(integer(row[3]))};
  }

  void touch_session(const std::string& hash, core::Timestamp now) override {
    db_->run("UPDATE console_sessions SET last_seen_at = $2 WHERE hash = $1", {hash, ms(now)});
  }

  void remove_session(const std::string& hash) override {
    db_->run("DELETE FROM console_sessions WHERE hash = $1", {hash});
  }

  std::int64_t forget_sessions(core::Timestamp idle_before, core::Timestamp created_before) override {
    return db_->run("DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2",
                    {ms(idle_before), ms(created_before)})
        .affected;
  }

  bool add_approval(const core::Approval& a) override {
    return db_->run("INSERT INTO top_up_approvals (key, approver, terms, at) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT DO NOTHING",
                    {a.key, a.approver, a.terms, ms(a.at)})
               .affected == 1;
  }

  std::vector<core::Approval> approvals(const std::string& key) override {
    std::vector<core::Approval> out;
    for (const auto& row : db_->run("SELECT key, approver, terms, at FROM top_up_approvals WHERE key = $1 "
                                    "ORDER BY at, approver",
                                    {key})
                               .rows) {
      out.push_back({text(row[0]), text(row[1]), text(row[2]), at_ms(integer(row[3]))});
    }
    return out;
  }

  void add_balance_points(const std::vector<BalancePoint>& points) override {
    // Many rows per statement: one write per few hundred accounts, not one per point.
    constexpr std::size_t kRows = 300;
    for (std::size_t start = 0; start < points.size(); start += kRows) {
      const std::size_t end = std::min(points.size(), start + kRows);
      std::string sql = "INSERT INTO balance_history (account, at, minor) VALUES ";
      std::vector<SqlValue> values;
      for (std::size_t i = start; i < end; ++i) {
        const std::size_t n = values.size();
        sql += fmt::format("{}(${}, ${}, ${})", i == start ? "" : ", ", n + 1, n + 2, n + 3);
        values.insert(values.end(), {points[i].account, ms(points[i].at), points[i].minor});
      }
      db_->run(sql + " ON CONFLICT DO NOTHING", values);
    }
  }

  std::vector<BalancePoint> balance_history(const std::string& account, core::Timestamp from) override {
    std::vector<BalancePoint> out;
    for (const auto& row : db_->run("SELECT at, minor FROM balance_history WHERE account = $1 AND at >= $2 "
                                    "ORDER BY at",
                                    {account, ms(from)})
                               .rows) {
      out.push_back({account, at_ms(integer(row[0])), integer(row[1])});
    }
    return out;
  }

  std::int64_t thin_balance_history(core::Timestamp fine_until, core::Duration coarse_step,
                                    core::Timestamp keep_after) override {
    const std::int64_t step = std::max<std::int64_t>(coarse_step.count(), 1);
    std::int64_t dropped = db_->run("DELETE FROM balance_history WHERE at < $1", {ms(keep_after)}).affected;
    // Older than fine_until: the latest point of each account in each coarse step stays.
    dropped += db_->run("DELETE FROM balance_history WHERE at < $1 AND EXISTS (SELECT 1 FROM balance_history AS later "
                        "WHERE later.account = balance_history.account AND later.at > balance_history.at "
                        "AND later.at < $1 AND later.at / $2 = balance_history.at / $2)",
                        {ms(fine_until), step})
                   .affected;
    return dropped;
  }

 private:
  std::unique_ptr<SqlRunner> db_;
};

}  // namespace

std::unique_ptr<ConsoleStore> sql_console_store(std::unique_ptr<SqlRunner> runner) {
  return std::make_unique<SqlConsoleStore>(std::move(runner));
}

}  // namespace topupd::adapters
