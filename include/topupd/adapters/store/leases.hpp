// Leases: which instance owns which account when several topupd share one PostgreSQL,
// and the webhook inbox they share.
//
// Each instance has a row it refreshes (its heartbeat); each account a lease row with
// its owner, an epoch that grows on every change of owner, and an expiry. Expiries and
// heartbeats are counted on the database server's clock, one clock for every
// instance. A lease is granted when it is free, expired or already the asker's;
// nothing here waits for another instance.
//
// The journal and rule-state writes of an account are fenced (store.hpp, `Fence`):
// they commit only if the writer's epoch is still the account's, in the same
// transaction — a takeover that commits first makes them fail, one that comes later
// waits for them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "topupd/core/time.hpp"

namespace topupd::adapters {

struct InstanceRow {
  std::string id;    // unique per process: host, pid and a random tag
  std::string host;
  core::Timestamp started_at;
  core::Timestamp heartbeat_at;  // the server's clock
};

struct LeaseRow {
  std::string account;
  std::string owner;  // empty: released
  std::int64_t epoch = 0;
  core::Timestamp expires_at;  // the server's clock
};

// What one heartbeat sees: the instances alive (heartbeat within the lease time),
// every lease, and the server's time.
struct LeaseView {
  std::vector<InstanceRow> instances;
  std::vector<LeaseRow> leases;
  core::Timestamp now;
};

// Who may write an account's journal and rule states now. The store asks it on every
// fenced write; an account without an epoch cannot be written.
class Fence {
 public:
  virtual ~Fence() = default;
  virtual const std::string& instance() const = 0;
  virtual std::optional<std::int64_t> epoch_of(const std::string& account) const = 0;
  // The account a rule belongs to (its state is fenced with the account); nullopt for a
  // rule no longer configured, whose state is written unfenced (it cannot move money).
  virtual std::optional<std::string> account_of_rule(const std::string& rule) const = 0;
};

// A webhook event in the inbox instances share (store.hpp, WebhookEventRecord::payload).
struct InboxEvent {
  std::int64_t seq = 0;
  std::string provider;
  std::string payload;
  core::Timestamp received_at;
};

class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // Says `instance` is alive and returns what every instance sees.
  virtual LeaseView heartbeat(const InstanceRow& instance, core::Duration lease) = 0;
  // Only says `instance` is alive (reads nothing back).
  virtual void beat(const InstanceRow& instance) = 0;
  // Takes or renews the leases of `accounts` for `lease`: granted when free, expired or
  // already ours (a change of owner adds one to the epoch). Returns the epoch of each
  // account granted.
  virtual std::map<std::string, std::int64_t> acquire(const std::string& instance,
                                                      const std::vector<std::string>& accounts,
                                                      core::Duration lease) = 0;
  // Extends the leases of `accounts` that are still `instance`'s, whatever their expiry,
  // and takes none: returns the epoch of each one extended.
  virtual std::map<std::string, std::int64_t> renew(const std::string& instance,
                                                    const std::vector<std::string>& accounts,
                                                    core::Duration lease) = 0;
  // Gives these leases up at once (they are free for the next owner).
  virtual void release(const std::string& instance, const std::vector<std::string>& accounts) = 0;
  // A clean stop: every lease of `instance` released and its heartbeat removed.
  virtual void leave(const std::string& instance) = 0;

  // The shared webhook inbox: the oldest `limit` events still in it; one taken out once
  // acted on; those received before `before` dropped (nobody owned what they named).
  virtual std::vector<InboxEvent> inbox(std::size_t limit) = 0;
  virtual void take_out(std::int64_t seq) = 0;
  virtual std::int64_t forget_inbox(core::Timestamp before) = 0;
};

// Leases on the PostgreSQL store at `dsn`, on a connection of their own (the store's
// schema must exist: open_pg_store first). Throws StoreError.
std::unique_ptr<LeaseStore> open_pg_leases(const std::string& dsn);

}  // namespace topupd::adapters
