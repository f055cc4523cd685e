// The PostgreSQL Store: the same contract as SQLite's, on a server the company already
// runs, through libpq. One connection, used from the event loop like SQLite's; every
// write is its own transaction, durable when COMMIT returns (synchronous_commit), so
// the daemon's Durability has nothing left to flush. With several instances the
// journal and rule states are fenced by the accounts' lease epochs (leases.hpp,
// pg_leases.cpp). Versioned migrations
// (pg_schema.hpp) run under an advisory lock, so two instances starting at once apply
// each version once. A lost connection is re-established at the next call; the call
// that found it lost fails with a StoreError, as a full disk does with SQLite.
#include <fmt/format.h>

#include "pg_connection.hpp"
#include "pg_schema.hpp"
#include "sql_runner.hpp"
#include "topupd/adapters/store/leases.hpp"
#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {
namespace {

using core::TopUpRecord;
using core::TopUpState;
using pg::millis;
using pg::Params;
using pg::Rows;
using pg::timestamp;

constexpr const char* kRecordColumns =
    "key, rule, account, provider, method, destination_id, source, amount_minor, currency, state, reference, "
    "last_error, created_at, settled_at, rail, need, ticket_provider, ticket_reference, ticket_bank, "
    "ticket_account_no, ticket_name, ticket_expires_at, ticket_qr";

TopUpRecord record_of(const Rows& rows, int r) {
  const auto currency = core::Currency::find(rows.text(r, 8));
  const auto state = core::top_up_state_from(rows.text(r, 9));
  const auto method = core::top_up_method_from(rows.text(r, 4));
  if (!currency || !state || !method) throw StoreError("the journal holds a row this topupd cannot read");
  TopUpRecord record{rows.text(r, 0),
                     rows.text(r, 1),
                     rows.text(r, 2),
                     rows.text(r, 3),
                     *method,
                     rows.text(r, 5),
                     rows.text(r, 6),
                     core::Money(rows.integer(r, 7), *currency),
                     *state,
                     rows.text(r, 10),
                     rows.text(r, 11),
                     timestamp(rows.integer(r, 12)),
                     rows.optional_time(r, 13),
                     static_cast<std::uint32_t>(rows.integer(r, 14)),
                     rows.text(r, 15)};
  record.ticket_provider = rows.text(r, 16);
  if (!rows.text(r, 17).empty() || !rows.text(r, 19).empty()) {  // a ticket, or a static account
    record.ticket = core::DepositTicket{rows.text(r, 17), rows.text(r, 18), rows.text(r, 19), rows.text(r, 20),
                                        rows.optional_time(r, 21), rows.text(r, 22)};
  }
  return record;
}

// The ticket columns of `r`, appended to `params`: empty text and no expiry while it has none.
Params& add_ticket(Params& params, const TopUpRecord& r) {
  const core::DepositTicket none{};
  const core::DepositTicket& t = r.ticket ? *r.ticket : none;
  return params.add(t.reference).add(t.bank).add(t.account_no).add(t.name).add(t.expires_at).add(t.qr);
}

class PgStore final : public Store {
 public:
  explicit PgStore(std::string dsn) : db_(std::move(dsn)), api_(sql_api_store(pg_runner(db_))),
                                        console_(sql_console_store(pg_runner(db_))) {
    migrate();
  }

  ApiStore& api() override { return *api_; }
  ConsoleStore& console() override { return *console_; }

  void set_fence(const Fence* fence) override { fence_ = fence; }

  bool plan_top_up(const TopUpRecord& r, const std::string& rule, const core::RuleState& state) override {
    Transaction transaction(db_);
    check_fence(r.account);
    const Rows inserted = run(fmt::format("INSERT INTO top_ups ({}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, "
                                          "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $13) "
                                          "ON CONFLICT (key) DO NOTHING",
                                          kRecordColumns),
                              add_ticket(Params()
                                  .add(r.key).add(r.rule).add(r.account).add(r.provider)
                                  .add(std::string(core::to_string(r.method))).add(r.destination_id).add(r.source)
                                  .add(r.amount.minor()).add(std::string(r.amount.currency().code()))
                                  .add(std::string(core::to_string(r.state))).add(r.reference).add(r.last_error)
                                  .add(millis(r.created_at)).add(r.settled_at)
                                  .add(static_cast<std::int64_t>(r.rail)).add(r.need).add(r.ticket_provider), r));
    if (inserted.affected() != 1) return false;  // rolled back: nothing changed
    append_transition(r.key, std::nullopt, r.state, r.created_at, "journalled before any request");
    write_rule_state(rule, state);
    transaction.commit();
    return true;
  }

  void record_transition(const TopUpRecord& r, TopUpState from, core::Timestamp at, std::string_view note) override {
    Transaction transaction(db_);
    check_fence(r.account);
    write_transition(r, from, at, note);
    transaction.commit();
  }

  bool release_approved(const TopUpRecord& r, TopUpState from, core::Timestamp at, std::string_view note,
                        int needed) override {
    Transaction transaction(db_);
    check_fence(r.account);
    // The approvals of this key are locked with the record, so none is counted that a
    // concurrent change could void before this commits.
    run("SELECT key FROM top_ups WHERE key = $1 FOR UPDATE", Params().add(r.key));
    const Rows counted = run("SELECT COUNT(DISTINCT approver) FROM top_up_approvals WHERE key = $1 AND terms = $2 "
                             "AND at >= $3",
                             Params().add(r.key).add(core::approval_terms(r)).add(millis(r.created_at)));
    if (counted.integer(0, 0) < needed) return false;  // rolled back
    write_transition(r, from, at, note);
    transaction.commit();
    return true;
  }

  void write_transition(const TopUpRecord& r, TopUpState from, core::Timestamp at, std::string_view note) {
    const Rows updated = run("UPDATE top_ups SET state = $2, reference = $3, last_error = $4, settled_at = $5, "
                             "updated_at = $6, ticket_reference = $7, ticket_bank = $8, ticket_account_no = $9, "
                             "ticket_name = $10, ticket_expires_at = $11, ticket_qr = $12 WHERE key = $1",
                             add_ticket(Params().add(r.key).add(std::string(core::to_string(r.state))).add(r.reference)
                                 .add(r.last_error).add(r.settled_at).add(millis(at)), r));
    if (updated.affected() != 1) throw StoreError(fmt::format("no journalled top-up has the key {}", r.key));
    append_transition(r.key, from, r.state, at, note);
  }

  std::vector<TopUpRecord> open_top_ups() override {
    return records(run(fmt::format("SELECT {} FROM top_ups WHERE state NOT IN ('succeeded', 'failed', 'rejected', "
                                   "'expired') ORDER BY created_at, key",
                                   kRecordColumns),
                       Params()));
  }

  std::vector<TopUpRecord> top_ups_created_since(core::Timestamp since) override {
    return records(run(fmt::format("SELECT {} FROM top_ups WHERE created_at >= $1 ORDER BY created_at, key",
                                   kRecordColumns),
                       Params().add(millis(since))));
  }

  std::vector<TopUpTransition> transitions(const std::string& key) override {
    const Rows rows = run("SELECT COALESCE(from_state, ''), to_state, at, note FROM top_up_transitions WHERE key = $1 "
                          "ORDER BY sequence",
                          Params().add(key));
    std::vector<TopUpTransition> out;
    for (int i = 0; i < rows.count(); ++i) {
      const std::string from = rows.text(i, 0);
      out.push_back({from.empty() ? std::nullopt : core::top_up_state_from(from),
                     core::top_up_state_from(rows.text(i, 1)).value_or(TopUpState::unknown),
                     timestamp(rows.integer(i, 2)), rows.text(i, 3)});
    }
    return out;
  }

  void save_rule_state(const std::string& rule, const core::RuleState& state) override {
    Transaction transaction(db_);
    if (fence_) {
      if (const auto account = fence_->account_of_rule(rule)) check_fence(*account);
    }
    write_rule_state(rule, state);
    transaction.commit();
  }

  std::map<std::string, core::RuleState> load_rule_states() override {
    const Rows rows = run("SELECT rule, phase, condition_since, fired_at, last_alert_at, last_top_up_at, "
                          "top_ups_in_episode FROM rule_states",
                          Params());
    std::map<std::string, core::RuleState> out;
    for (int i = 0; i < rows.count(); ++i) {
      core::RuleState state;
      state.phase = rule_phase_from(rows.text(i, 1));
      state.condition_since = rows.optional_time(i, 2);
      state.fired_at = rows.optional_time(i, 3);
      state.last_alert_at = rows.optional_time(i, 4);
      state.last_top_up_at = rows.optional_time(i, 5);
      state.top_ups_in_episode = static_cast<std::uint32_t>(rows.integer(i, 6));
      out.emplace(rows.text(i, 0), state);
    }
    return out;
  }

  void set_setting(const std::string& name, const std::string& value) override {
    run("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        Params().add(name).add(value));
  }

  std::optional<std::string> setting(const std::string& name) override {
    const Rows rows = run("SELECT value FROM settings WHERE name = $1", Params().add(name));
    if (rows.count() == 0) return std::nullopt;
    return rows.text(0, 0);
  }

  std::vector<bool> remember_webhook_events(const std::vector<WebhookEventRecord>& events) override {
    std::vector<bool> fresh;
    fresh.reserve(events.size());
    if (events.empty()) return fresh;
    Transaction transaction(db_);
    for (const auto& e : events) {
      const Rows inserted = run("INSERT INTO webhook_events (provider, event_id, type, received_at) VALUES "
                                "($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING",
                                Params().add(e.provider).add(e.id).add(e.type).add(millis(e.received_at)));
      fresh.push_back(inserted.affected() == 1);
      if (fresh.back() && !e.payload.empty()) {
        run("INSERT INTO webhook_inbox (provider, payload, received_at) VALUES ($1, $2, $3)",
            Params().add(e.provider).add(e.payload).add(millis(e.received_at)));
      }
    }
    transaction.commit();
    return fresh;
  }

  std::int64_t forget_webhook_events(core::Timestamp before) override {
    return run("DELETE FROM webhook_events WHERE received_at < $1", Params().add(millis(before))).affected();
  }

  std::int64_t count_webhook_events() override {
    return run("SELECT COUNT(*) FROM webhook_events", Params()).integer(0, 0);
  }

  void enqueue_notifications(std::vector<OutboxEntry>& entries) override {
    if (entries.empty()) return;
    Transaction transaction(db_);
    for (auto& e : entries) {
      const Rows id = run("INSERT INTO outbox (notifier, payload, created_at, attempts, next_attempt_at, state, "
                          "last_error) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                          Params().add(e.notifier).add(e.payload).add(millis(e.created_at))
                              .add(std::int64_t{e.attempts}).add(millis(e.next_attempt_at))
                              .add(std::string(to_string(e.state))).add(e.last_error));
      e.id = id.integer(0, 0);
    }
    transaction.commit();
  }

  std::vector<OutboxEntry> pending_notifications(const std::string& notifier, std::size_t limit) override {
    const Rows rows = run("SELECT id, notifier, payload, created_at, attempts, next_attempt_at, state, last_error "
                          "FROM outbox WHERE notifier = $1 AND state = 'pending' ORDER BY id LIMIT $2",
                          Params().add(notifier).add(static_cast<std::int64_t>(limit)));
    std::vector<OutboxEntry> out;
    for (int i = 0; i < rows.count(); ++i) {
      out.push_back({rows.integer(i, 0), rows.text(i, 1), rows.text(i, 2), timestamp(rows.integer(i, 3)),
                     static_cast<int>(rows.integer(i, 4)), timestamp(rows.integer(i, 5)),
                     outbox_state_from(rows.text(i, 6)), rows.text(i, 7)});
    }
    return out;
  }

  void update_notifications(const std::vector<OutboxEntry>& entries) override {
    if (entries.empty()) return;
    Transaction transaction(db_);
    for (const auto& e : entries) {
      run("UPDATE outbox SET attempts = $2, next_attempt_at = $3, state = $4, last_error = $5 WHERE id = $1",
          Params().add(e.id).add(std::int64_t{e.attempts}).add(millis(e.next_attempt_at))
              .add(std::string(to_string(e.state))).add(e.last_error));
    }
    transaction.commit();
  }

  std::int64_t forget_notifications(core::Timestamp before) override {
    return run("DELETE FROM outbox WHERE state != 'pending' AND created_at < $1", Params().add(millis(before)))
        .affected();
  }

  void save_silence(const Silence& silence) override {
    run("INSERT INTO silences (target, kind, reason, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (target, kind) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at, "
        "expires_at = excluded.expires_at",
        Params().add(silence.target).add(std::string(to_string(silence.kind))).add(silence.reason)
            .add(millis(silence.created_at)).add(millis(silence.expires_at)));
  }

  bool remove_silence(const std::string& target, SilenceKind kind) override {
    return run("DELETE FROM silences WHERE target = $1 AND kind = $2",
               Params().add(target).add(std::string(to_string(kind))))
               .affected() > 0;
  }

  std::vector<Silence> silences(core::Timestamp now) override {
    const Rows rows = run("SELECT target, kind, reason, created_at, expires_at FROM silences WHERE expires_at > $1 "
                          "ORDER BY expires_at, target",
                          Params().add(millis(now)));
    std::vector<Silence> out;
    for (int i = 0; i < rows.count(); ++i) {
      const auto kind = silence_kind_from(rows.text(i, 1));
      if (!kind) continue;  // written by a newer topupd: not ours to apply
      out.push_back({rows.text(i, 0), *kind, rows.text(i, 2), timestamp(rows.integer(i, 3)),
                     timestamp(rows.integer(i, 4))});
    }
    return out;
  }

 private:
  using Transaction = pg::Connection::Transaction;

  Rows run(const std::string& sql, const Params& params) { return db_.run(sql, params); }

  // Inside a write's transaction: this instance must hold the account's current epoch.
  // FOR SHARE keeps a takeover (which updates the lease row) waiting until this
  // transaction ends, so the check holds at COMMIT, not only now.
  void check_fence(const std::string& account) {
    if (!fence_) return;
    const auto epoch = fence_->epoch_of(account);
    if (!epoch) throw FencedError(fmt::format("fenced: this instance does not hold the lease of account {}", account));
    const Rows rows = run("SELECT epoch FROM leases WHERE account = $1 AND owner = $2 FOR SHARE",
                          Params().add(account).add(fence_->instance()));
    if (rows.count() == 0 || rows.integer(0, 0) != *epoch) {
      throw FencedError(fmt::format("fenced: account {} has another owner since epoch {}", account, *epoch));
    }
  }

  void migrate() {
    // Two instances starting at once: one migrates, the other waits, then finds it done.
    run("SELECT pg_advisory_lock(727468)", Params());
    try {
      run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
          Params());
      const int current = static_cast<int>(
          run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", Params()).integer(0, 0));
      if (current > pg::kSchemaVersion) {
        throw StoreError(fmt::format("the store has schema version {}, newer than this topupd knows ({}); "
                                     "run the newer topupd or restore a backup",
                                     current, pg::kSchemaVersion));
      }
      for (int version = current + 1; version <= pg::kSchemaVersion; ++version) {
        Transaction transaction(db_);
        run("SET LOCAL lock_timeout = '30s'", Params());
        db_.script(pg::kMigrations[version - 1], fmt::format("schema version {}", version));
        run("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
            Params().add(std::int64_t{version})
                .add(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count()));
        transaction.commit();
      }
    } catch (...) {
      try {
        run("SELECT pg_advisory_unlock(727468)", Params());
      } catch (const StoreError&) {
        // The connection is gone, and the session's lock with it.
      }
      throw;
    }
    run("SELECT pg_advisory_unlock(727468)", Params());
  }

  void append_transition(const std::string& key, std::optional<TopUpState> from, TopUpState to, core::Timestamp at,
                         std::string_view note) {
    Params params;
    params.add(key);
    if (from) params.add(std::string(core::to_string(*from)));
    else params.null();
    params.add(std::string(core::to_string(to))).add(millis(at)).add(std::string(note));
    run("INSERT INTO top_up_transitions (key, sequence, from_state, to_state, at, note) VALUES ($1, "
        "(SELECT COALESCE(MAX(sequence), 0) + 1 FROM top_up_transitions WHERE key = $1), $2, $3, $4, $5)",
        params);
  }

  void write_rule_state(const std::string& rule, const core::RuleState& s) {
    run("INSERT INTO rule_states (rule, phase, condition_since, fired_at, last_alert_at, last_top_up_at, "
        "top_ups_in_episode) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (rule) DO UPDATE SET phase = "
        "excluded.phase, condition_since = excluded.condition_since, fired_at = excluded.fired_at, last_alert_at = "
        "excluded.last_alert_at, last_top_up_at = excluded.last_top_up_at, top_ups_in_episode = "
        "excluded.top_ups_in_episode",
        Params().add(rule).add(std::string(core::to_string(s.phase))).add(s.condition_since).add(s.fired_at)
            .add(s.last_alert_at).add(s.last_top_up_at).add(static_cast<std::int64_t>(s.top_ups_in_episode)));
  }

  static std::vector<TopUpRecord> records(const Rows& rows) {
    std::vector<TopUpRecord> out;
    out.reserve(static_cast<std::size_t>(rows.count()));
    for (int i = 0; i < rows.count(); ++i) out.push_back(record_of(rows, i));
    return out;
  }

  pg::Connection db_;
  std::unique_ptr<ApiStore> api_;  // on db_
  std::unique_ptr<ConsoleStore> console_;  // on db_
  const Fence* fence_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_pg_store(const std::string& dsn) { return std::make_unique<PgStore>(dsn); }

}  // namespace topupd::adapters
