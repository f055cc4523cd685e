// The Store port: everything a restart must not forget.
//
// It holds the top-up journal (every top-up under its idempotency key, with the
// history of its transitions) and the state of every rule (so an episode, its
// idempotency keys and its cooldown survive a restart). Every write is durable when
// the call returns. Any failure to read or write is a `StoreError`: callers must then
// refuse to move money, since they could not record that they did.
//
// The contract is pinned by the parameterised suite in tests/adapters/store_test.cpp,
// which every implementation (SQLite today, PostgreSQL for HA) must pass.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "topupd/adapters/store/api_store.hpp"
#include "topupd/adapters/store/console_store.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/topup.hpp"

namespace topupd::adapters {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A fenced write refused: another instance owns the account now (leases.hpp).
class FencedError : public StoreError {
 public:
  using StoreError::StoreError;
};

class Fence;

struct TopUpTransition {
  std::optional<core::TopUpState> from;  // nullopt for the first entry
  core::TopUpState to;
  core::Timestamp at;
  std::string note;
};

// A webhook delivery the receiver has accepted, identified by provider and event id.
struct WebhookEventRecord {
  std::string provider;
  std::string id;
  std::string type;
  core::Timestamp received_at;
  // Several instances (leases.hpp): the event as JSON, put in the inbox they share when
  // it is new, in the same transaction, for the account's owner to act on. Empty: only
  // this instance acts on it.
  std::string payload{};
};

// Where an outbox message stands: waiting (first try or a retry), delivered, or refused
// by its notifier for good.
// A rule's phase as every engine stores it (core::to_string); anything unknown reads as
// inactive.
core::RulePhase rule_phase_from(std::string_view text);

enum class OutboxState { pending, delivered, rejected };
std::string_view to_string(OutboxState state);
OutboxState outbox_state_from(std::string_view text);  // anything unknown reads as rejected: never sent again

// `silence`: no notifications at all; `ack`: no repeats until the alert resolves.
enum class SilenceKind { silence, ack };
std::string_view to_string(SilenceKind kind);
std::optional<SilenceKind> silence_kind_from(std::string_view text);

// One message for one notifier in the outbox.
struct OutboxEntry {
  std::int64_t id = 0;  // set by enqueue; delivery follows it
  std::string notifier;
  std::string payload;  // the notification as JSON (notify/message.hpp)
  core::Timestamp created_at;
  int attempts = 0;
  core::Timestamp next_attempt_at;
  OutboxState state = OutboxState::pending;
  std::string last_error;
};

// A `topupctl silence` (no notifications at all) or `topupctl ack` (no repeats until
// the alert resolves) of a rule or an account, until it expires.
struct Silence {
  std::string target;  // a rule or an account name
  SilenceKind kind;
  std::string reason;
  core::Timestamp created_at;
  core::Timestamp expires_at;
};

// The store is split by concern: each part of the daemon takes only the interface it
// writes. `Store` is all of them, as one database implements them (SQLite today).

// The top-up journal: the executor's.
class TopUpJournal {
 public:
  virtual ~TopUpJournal() = default;

  // Journals a new top-up together with the state of the rule that decided it, in one
  // transaction. Returns false, changing nothing, when the key is already journalled
  // (the same top-up was decided before, e.g. before a crash).
  virtual bool plan_top_up(const core::TopUpRecord& record, const std::string& rule,
                           const core::RuleState& rule_state) = 0;

  // Stores `record` (its state, reference, error, settled time) and appends the
  // transition from `from` to the history. Throws StoreError for an unknown key.
  virtual void record_transition(const core::TopUpRecord& record, core::TopUpState from, core::Timestamp at,
                                 std::string_view note) = 0;

  // Top-ups that are not succeeded or failed, oldest first.
  virtual std::vector<core::TopUpRecord> open_top_ups() = 0;
  // Every top-up created at or after `since`, oldest first.
  virtual std::vector<core::TopUpRecord> top_ups_created_since(core::Timestamp since) = 0;
  // The transitions of one top-up, oldest first; empty for an unknown key.
  virtual std::vector<TopUpTransition> transitions(const std::string& key) = 0;

  // The transition that releases a top-up waiting for approval (`record` holds its new
  // state): written as record_transition does, but only if, in the same transaction,
  // the approvals kept (console_store.hpp) still name `needed` distinct approvers of
  // this key whose terms are the record's and who approved after it was planned.
  // Returns false, changing nothing, otherwise.
  virtual bool release_approved(const core::TopUpRecord& record, core::TopUpState from, core::Timestamp at,
                                std::string_view note, int needed) = 0;
  // The approvals themselves (the console's table; here so the executor needs only its journal).
  virtual bool add_approval(const core::Approval& approval) = 0;
  virtual std::vector<core::Approval> approvals(const std::string& key) = 0;
};

// Rule states: the rule runner's (a top-up's rule state is written with it, by the journal).
class RuleStateStore {
 public:
  virtual ~RuleStateStore() = default;
  virtual void save_rule_state(const std::string& rule, const core::RuleState& state) = 0;
  virtual std::map<std::string, core::RuleState> load_rule_states() = 0;
};

// Small named settings that must survive restarts, such as the pause switch.
class SettingStore {
 public:
  virtual ~SettingStore() = default;
  virtual void set_setting(const std::string& name, const std::string& value) = 0;
  virtual std::optional<std::string> setting(const std::string& name) = 0;
};

// The event ids of webhooks received: webhook intake's.
class WebhookInbox {
 public:
  virtual ~WebhookInbox() = default;
  // Records the event ids in one transaction (one durable write for a whole batch).
  // result[i] is true when events[i] was not known before — a second delivery of the
  // same (provider, id), in an earlier call or earlier in this one, gives false.
  virtual std::vector<bool> remember_webhook_events(const std::vector<WebhookEventRecord>& events) = 0;
  // Forgets events received before `before`; returns how many.
  virtual std::int64_t forget_webhook_events(core::Timestamp before) = 0;
  virtual std::int64_t count_webhook_events() = 0;
};

// The notification outbox: the alert dispatcher's. `enqueue` writes every entry in one
// transaction and sets their ids; `pending` lists a notifier's undelivered entries,
// oldest first; `update` stores attempts, state and next attempt; `forget` drops
// finished entries created before `before`.
class Outbox {
 public:
  virtual ~Outbox() = default;
  virtual void enqueue_notifications(std::vector<OutboxEntry>& entries) = 0;
  virtual std::vector<OutboxEntry> pending_notifications(const std::string& notifier, std::size_t limit) = 0;
  virtual void update_notifications(const std::vector<OutboxEntry>& entries) = 0;
  virtual std::int64_t forget_notifications(core::Timestamp before) = 0;
};

// Silences and acks, the alert dispatcher's: one per (target, kind); saving again
// replaces it. `silences` lists those not expired at `now`.
class SilenceStore {
 public:
  virtual ~SilenceStore() = default;
  virtual void save_silence(const Silence& silence) = 0;
  virtual bool remove_silence(const std::string& target, SilenceKind kind) = 0;
  virtual std::vector<Silence> silences(core::Timestamp now) = 0;
};

class Store : public TopUpJournal,
              public RuleStateStore,
              public SettingStore,
              public WebhookInbox,
              public Outbox,
              public SilenceStore {
 public:
  // Several instances on one store: the journal's and rule states' writes of an account
  // commit only while `fence` says this instance holds its current epoch, else throw
  // FencedError (leases.hpp). SQLite serves one instance and has nothing to fence.
  virtual void set_fence(const Fence* fence) { (void)fence; }
  // Upkeep that the store's writer (writer.hpp) does after it answered a job, so that no
  // asker waits for it: SQLite checkpoints a write-ahead log that has grown long.
  virtual void between_writes() {}
  // Tokens, demands and the audit log of the backend's API, in the same database.
  virtual ApiStore& api() = 0;
  // Users, sessions, approvals and the balance history of the web console.
  virtual ConsoleStore& console() = 0;

  bool add_approval(const core::Approval& approval) override { return console().add_approval(approval); }
  std::vector<core::Approval> approvals(const std::string& key) override { return console().approvals(key); }
};

// Opens (creating if needed) the SQLite database at `path` (":memory:" for one that
// lives as long as the process), applying schema migrations. Throws StoreError.
// Every commit waits for the disk, unless `flushed_by_durability`: then commits only
// reach the operating system and a Durability (durability.hpp) on the same file
// flushes and checkpoints them off the caller's thread.
std::unique_ptr<Store> open_sqlite_store(const std::string& path, bool flushed_by_durability = false);
// A second connection to the same file for the store's writer (writer.hpp): its commits
// wait for the disk (synchronous=FULL) on the writer's thread, and leave checkpoints to
// the Durability of the first.
std::unique_ptr<Store> open_sqlite_writer(const std::string& path);
// The same on PostgreSQL (libpq connection string or URI); throws StoreError when it
// cannot connect or migrate.
std::unique_ptr<Store> open_pg_store(const std::string& dsn);

}  // namespace topupd::adapters
