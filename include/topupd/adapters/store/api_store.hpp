// What the backend's API needs kept (api.hpp in src/app): its bearer tokens (only a
// hash of each), the demands it announced (upcoming payouts to fund ahead of), and the
// audit log of every call and every change to tokens. Part of the Store (store.hpp);
// both engines pass the same contract (tests/adapters/api_store_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "topupd/core/money.hpp"
#include "topupd/core/time.hpp"

namespace topupd::adapters {

struct ApiToken {
  std::string name;                 // unique; what the audit log names
  std::string hash;                 // SHA-256 of the token, hex; the token itself is never kept
  std::vector<std::string> scopes;  // read, demands
  core::Timestamp created_at;
  std::optional<core::Timestamp> last_used_at{};
  std::optional<core::Timestamp> revoked_at{};
};

// A payout the backend announced: `amount` leaves `account` at `due_at`.
struct Demand {
  std::string reference;  // the backend's id; a repeat with the same fields is the same demand
  std::string account;
  core::Money amount;
  core::Timestamp due_at;
  core::Timestamp created_at;
  std::string created_by{};  // the token's name
};

struct AuditEntry {
  core::Timestamp at;
  std::string actor;   // "token:NAME", "topupctl"
  std::string action;  // "GET /api/v1/accounts", "token add", …
  std::string detail;  // what was asked and the answer's status; never a secret
};

enum class DemandPut { created, same, conflict };

class ApiStore {
 public:
  virtual ~ApiStore() = default;
  // False when a token of that name exists (revoked ones included: names are not reused).
  virtual bool add_token(const ApiToken& token) = 0;
  virtual std::vector<ApiToken> tokens() = 0;
  // False when no live token has that name.
  virtual bool revoke_token(const std::string& name, core::Timestamp at) = 0;
  // The live token with this hash, its use noted at `now`.
  virtual std::optional<ApiToken> use_token(const std::string& hash, core::Timestamp now) = 0;

  // `same`: a demand with this reference and the same account, amount and due time was
  // there already; `conflict`: one with other fields — nothing changes then.
  virtual DemandPut put_demand(const Demand& demand) = 0;
  virtual std::optional<Demand> demand(const std::string& reference) = 0;
  // Every demand due at or after `from`, by due time (then reference).
  virtual std::vector<Demand> demands(core::Timestamp from) = 0;
  virtual bool remove_demand(const std::string& reference) = 0;
  // Forgets demands due before `before`; returns how many.
  virtual std::int64_t forget_demands(core::Timestamp before) = 0;

  virtual void audit(const AuditEntry& entry) = 0;
  // The newest `limit` entries at or after `since`, oldest first.
  virtual std::vector<AuditEntry> audit_log(core::Timestamp since, std::size_t limit) = 0;
  virtual std::int64_t forget_audit(core::Timestamp before) = 0;
};

}  // namespace topupd::adapters
