// What the web console needs kept (src/app/console*.cpp): its local users (an argon2id
// hash of each password, the TOTP secret, failed logins), their sessions (only a hash of
// each id), the approvals people gave to top-ups waiting for them, and the bounded
// history of balances its charts draw. Part of the Store (store.hpp); both engines pass
// the same contract (tests/adapters/console_store_test.cpp). The audit log is the API's
// (api_store.hpp): one log for every actor.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "topupd/core/access.hpp"
#include "topupd/core/time.hpp"

namespace topupd::adapters {

struct ConsoleUser {
  std::string name;
  core::Role role = core::Role::viewer;
  std::string password_hash;   // crypto_pwhash_str's string
  std::string totp_secret{};   // raw bytes; empty: no second factor
  std::optional<std::int64_t> totp_last_step{};  // a code's step is accepted once
  core::LoginFailures failures{};
  core::Timestamp created_at{};
};

struct ConsoleSession {
  std::string hash;  // SHA-256 of the id the cookie carries
  std::string user;
  core::Timestamp created_at;
  core::Timestamp last_seen_at;
};

// One balance of one account at one instant, as the charts draw it.
struct BalancePoint {
  std::string account;
  core::Timestamp at;
  std::int64_t minor = 0;
};

class ConsoleStore {
 public:
  virtual ~ConsoleStore() = default;
  // False when the name is taken.
  virtual bool add_user(const ConsoleUser& user) = 0;
  // Role, password, TOTP and failures of an existing user; false for an unknown name.
  virtual bool update_user(const ConsoleUser& user) = 0;
  // Removes the user and every session of theirs; false for an unknown name.
  virtual bool remove_user(const std::string& name) = 0;
  virtual std::optional<ConsoleUser> user(const std::string& name) = 0;
  virtual std::vector<ConsoleUser> users() = 0;

  virtual void add_session(const ConsoleSession& session) = 0;
  virtual std::optional<ConsoleSession> session(const std::string& hash) = 0;
  // Its use noted at `now`.
  virtual void touch_session(const std::string& hash, core::Timestamp now) = 0;
  virtual void remove_session(const std::string& hash) = 0;
  // Sessions last used before `idle_before` or created before `created_before`.
  virtual std::int64_t forget_sessions(core::Timestamp idle_before, core::Timestamp created_before) = 0;

  // False when this approver already approved these terms of this top-up.
  virtual bool add_approval(const core::Approval& approval) = 0;
  virtual std::vector<core::Approval> approvals(const std::string& key) = 0;

  // The balance history: points are added as polls see them; `thin` keeps every point
  // younger than `fine_until`, one per account per `coarse_step` older than that, and
  // none older than `keep_after`. Returns how many points it dropped.
  virtual void add_balance_points(const std::vector<BalancePoint>& points) = 0;
  virtual std::vector<BalancePoint> balance_history(const std::string& account, core::Timestamp from) = 0;
  virtual std::int64_t thin_balance_history(core::Timestamp fine_until, core::Duration coarse_step,
                                            core::Timestamp keep_after) = 0;
};

}  // namespace topupd::adapters
