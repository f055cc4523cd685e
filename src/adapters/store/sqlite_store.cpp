// The SQLite Store: the journal, rule states, settings, webhook events, the outbox and
// silences as statements on one connection (sqlite_connection.hpp).
#include <sqlite3.h>

#include <fmt/format.h>

#include "sql_runner.hpp"
#include "sqlite_connection.hpp"
#include "sqlite_records.hpp"
#include "sqlite_statement.hpp"
#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {
namespace {

using core::TopUpRecord;
using core::TopUpState;
using sqlite::Commits;
using sqlite::kRecordColumns;
using sqlite::millis;
using sqlite::record_of;
using sqlite::Statement;
using sqlite::TicketColumns;
using sqlite::timestamp;
using Transaction = sqlite::Connection::Transaction;

class SqliteStore final : public Store {
 public:
  SqliteStore(const std::string& path, Commits commits)
      : connection_(path, commits),
        api_(sql_api_store(sqlite_runner(db_))),
        console_(sql_console_store(sqlite_runner(db_))) {}

  void between_writes() override { connection_.checkpoint_long_log(); }

  bool plan_top_up(const TopUpRecord& r, const std::string& rule, const core::RuleState& state) override {
    Transaction transaction(connection_);
    {
      Statement exists(cache_, "SELECT 1 FROM top_ups WHERE key = ?1");
      if (exists.bind(1, r.key).step()) return false;  // rolled back: nothing changed
    }
    static const std::string kInsert = fmt::format(
        "INSERT INTO top_ups ({}, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
        "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?13)",
        kRecordColumns);
    Statement insert(cache_, kInsert);
    insert.bind(1, r.key).bind(2, r.rule).bind(3, r.account).bind(4, r.provider).bind(5, core::to_string(r.method));
    insert.bind(6, r.destination_id).bind(7, r.source).bind(8, r.amount.minor()).bind(9, r.amount.currency().code());
    insert.bind(10, core::to_string(r.state)).bind(11, r.reference).bind(12, r.last_error);
    insert.bind(13, millis(r.created_at)).bind(14, r.settled_at);
    insert.bind(15, static_cast<std::int64_t>(r.rail)).bind(16, r.need);
    const TicketColumns ticket(r);
    insert.bind(17, r.ticket_provider).bind(18, ticket.reference).bind(19, ticket.bank).bind(20, ticket.account_no);
    insert.bind(21, ticket.name).bind(22, ticket.expires_at).bind(23, ticket.qr);
    insert.step();
    append_transition(r.key, std::nullopt, r.state, r.created_at, "journalled before any request");
    write_rule_state(rule, state);
    transaction.commit();
    return true;
  }

  void record_transition(const TopUpRecord& r, TopUpState from, core::Timestamp at, std::string_view note) override {
    Transaction transaction(connection_);
    write_transition(r, from, at, note);
    transaction.commit();
  }

  bool release_approved(const TopUpRecord& r, TopUpState from, core::Timestamp at, std::string_view note,
                        int needed) override {
    Transaction transaction(connection_);
    Statement count(cache_, "SELECT COUNT(DISTINCT approver) FROM top_up_approvals WHERE key = ?1 AND terms = ?2 "
                            "AND at >= ?3");
    count.bind(1, r.key).bind(2, core::approval_terms(r)).bind(3, millis(r.created_at));
    if (!count.step() || count.integer(0) < needed) return false;  // rolled back
    write_transition(r, from, at, note);
    transaction.commit();
    return true;
  }

  void write_transition(const TopUpRecord& r, TopUpState from, core::Timestamp at, std::string_view note) {
    Statement update(cache_, "UPDATE top_ups SET state = ?2, reference = ?3, last_error = ?4, settled_at = ?5, "
                             "updated_at = ?6, ticket_reference = ?7, ticket_bank = ?8, ticket_account_no = ?9, "
                             "ticket_name = ?10, ticket_expires_at = ?11, ticket_qr = ?12 WHERE key = ?1");
    update.bind(1, r.key).bind(2, core::to_string(r.state)).bind(3, r.reference).bind(4, r.last_error);
    update.bind(5, r.settled_at).bind(6, millis(at));
    const TicketColumns ticket(r);
    update.bind(7, ticket.reference).bind(8, ticket.bank).bind(9, ticket.account_no).bind(10, ticket.name);
    update.bind(11, ticket.expires_at).bind(12, ticket.qr);
    update.step();
    if (sqlite3_changes(db_) != 1) throw StoreError(fmt::format("no journalled top-up has the key {}", r.key));
    append_transition(r.key, from, r.state, at, note);
  }

  std::vector<TopUpRecord> open_top_ups() override {
    static const std::string kQuery = fmt::format(
        "SELECT {} FROM top_ups WHERE state NOT IN ('succeeded', 'failed', 'rejected', 'expired') "
        "ORDER BY created_at, key",
        kRecordColumns);
    Statement query(cache_, kQuery);
    return records(query);
  }

  std::vector<TopUpRecord> top_ups_created_since(core::Timestamp since) override {
    static const std::string kQuery =
        fmt::format("SELECT {} FROM top_ups WHERE created_at >= ?1 ORDER BY created_at, key", kRecordColumns);
    Statement query(cache_, kQuery);
    query.bind(1, millis(since));
    return records(query);
  }

  std::vector<TopUpTransition> transitions(const std::string& key) override {
    Statement query(cache_, "SELECT from_state, to_state, at, note FROM top_up_transitions WHERE key = ?1 ORDER BY sequence");
    query.bind(1, key);
    std::vector<TopUpTransition> out;
    while (query.step()) {
      const std::string from = query.text(0);
      out.push_back({from.empty() ? std::nullopt : core::top_up_state_from(from),
                     core::top_up_state_from(query.text(1)).value_or(TopUpState::unknown), timestamp(query.integer(2)),
                     query.text(3)});
    }
    return out;
  }

  void save_rule_state(const std::string& rule, const core::RuleState& state) override {
    Transaction transaction(connection_);
    write_rule_state(rule, state);
    transaction.commit();
  }

  std::map<std::string, core::RuleState> load_rule_states() override {
    Statement query(cache_, "SELECT rule, phase, condition_since, fired_at, last_alert_at, last_top_up_at, "
                            "top_ups_in_episode FROM rule_states");
    std::map<std::string, core::RuleState> out;
    while (query.step()) {
      core::RuleState state;
      state.phase = rule_phase_from(query.text(1));
      state.condition_since = query.optional_time(2);
      state.fired_at = query.optional_time(3);
      state.last_alert_at = query.optional_time(4);
      state.last_top_up_at = query.optional_time(5);
      state.top_ups_in_episode = static_cast<std::uint32_t>(query.integer(6));
      out.emplace(query.text(0), state);
    }
    return out;
  }

  void set_setting(const std::string& name, const std::string& value) override {
    Transaction transaction(connection_);
    Statement upsert(cache_, "INSERT INTO settings (name, value) VALUES (?1, ?2) "
                             "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    upsert.bind(1, name).bind(2, value);
    upsert.step();
    transaction.commit();
  }

  std::optional<std::string> setting(const std::string& name) override {
    Statement query(cache_, "SELECT value FROM settings WHERE name = ?1");
    query.bind(1, name);
    if (!query.step()) return std::nullopt;
    return query.text(0);
  }

  std::vector<bool> remember_webhook_events(const std::vector<WebhookEventRecord>& events) override {
    std::vector<bool> fresh;
    fresh.reserve(events.size());
    if (events.empty()) return fresh;
    Transaction transaction(connection_);
    Statement insert(cache_, "INSERT INTO webhook_events (provider, event_id, type, received_at) VALUES (?1, ?2, ?3, ?4) "
                             "ON CONFLICT (provider, event_id) DO NOTHING");
    for (const auto& e : events) {
      insert.reset();
      insert.bind(1, e.provider).bind(2, e.id).bind(3, e.type).bind(4, millis(e.received_at));
      insert.step();
      fresh.push_back(sqlite3_changes(db_) == 1);
    }
    transaction.commit();
    return fresh;
  }

  std::int64_t forget_webhook_events(core::Timestamp before) override {
    return delete_before("DELETE FROM webhook_events WHERE received_at < ?1", before);
  }

  void enqueue_notifications(std::vector<OutboxEntry>& entries) override {
    if (entries.empty()) return;
    Transaction transaction(connection_);
    Statement insert(cache_, "INSERT INTO outbox (notifier, payload, created_at, attempts, next_attempt_at, state, "
                             "last_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (auto& e : entries) {
      insert.reset();
      insert.bind(1, e.notifier).bind(2, e.payload).bind(3, millis(e.created_at)).bind(4, std::int64_t{e.attempts});
      insert.bind(5, millis(e.next_attempt_at)).bind(6, std::string(to_string(e.state))).bind(7, e.last_error);
      insert.step();
      e.id = sqlite3_last_insert_rowid(db_);
    }
    transaction.commit();
  }

  std::vector<OutboxEntry> pending_notifications(const std::string& notifier, std::size_t limit) override {
    Statement query(cache_, "SELECT id, notifier, payload, created_at, attempts, next_attempt_at, state, last_error "
                            "FROM outbox WHERE notifier = ?1 AND state = 'pending' ORDER BY id LIMIT ?2");
    query.bind(1, notifier).bind(2, static_cast<std::int64_t>(limit));
    std::vector<OutboxEntry> out;
    while (query.step()) {
      out.push_back({query.integer(0), query.text(1), query.text(2), timestamp(query.integer(3)),
                     static_cast<int>(query.integer(4)), timestamp(query.integer(5)), outbox_state_from(query.text(6)),
                     query.text(7)});
    }
    return out;
  }

  void update_notifications(const std::vector<OutboxEntry>& entries) override {
    if (entries.empty()) return;
    Transaction transaction(connection_);
    Statement update(cache_, "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, state = ?4, last_error = ?5 "
                             "WHERE id = ?1");
    for (const auto& e : entries) {
      update.reset();
      update.bind(1, e.id).bind(2, std::int64_t{e.attempts}).bind(3, millis(e.next_attempt_at)).bind(4, std::string(to_string(e.state)));
      update.bind(5, e.last_error);
      update.step();
    }
    transaction.commit();
  }

  std::int64_t forget_notifications(core::Timestamp before) override {
    return delete_before("DELETE FROM outbox WHERE state != 'pending' AND created_at < ?1", before);
  }

  void save_silence(const Silence& silence) override {
    Transaction transaction(connection_);
    Statement upsert(cache_, "INSERT INTO silences (target, kind, reason, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) "
                             "ON CONFLICT (target, kind) DO UPDATE SET reason = excluded.reason, "
                             "created_at = excluded.created_at, expires_at = excluded.expires_at");
    upsert.bind(1, silence.target).bind(2, std::string(to_string(silence.kind))).bind(3, silence.reason).bind(4, millis(silence.created_at));
    upsert.bind(5, millis(silence.expires_at));
    upsert.step();
    transaction.commit();
  }

  bool remove_silence(const std::string& target, SilenceKind kind) override {
    Transaction transaction(connection_);
    Statement remove(cache_, "DELETE FROM silences WHERE target = ?1 AND kind = ?2");
    remove.bind(1, target).bind(2, std::string(to_string(kind)));
    remove.step();
    const bool removed = sqlite3_changes(db_) > 0;
    transaction.commit();
    return removed;
  }

  std::vector<Silence> silences(core::Timestamp now) override {
    Statement query(cache_, "SELECT target, kind, reason, created_at, expires_at FROM silences WHERE expires_at > ?1 "
                            "ORDER BY expires_at, target");
    query.bind(1, millis(now));
    std::vector<Silence> out;
    while (query.step()) {
      const auto kind = silence_kind_from(query.text(1));
      if (!kind) continue;  // written by a newer topupd: not ours to apply
      out.push_back({query.text(0), *kind, query.text(2), timestamp(query.integer(3)), timestamp(query.integer(4))});
    }
    return out;
  }

  ApiStore& api() override { return *api_; }
  ConsoleStore& console() override { return *console_; }

  std::int64_t count_webhook_events() override {
    Statement query(cache_, "SELECT COUNT(*) FROM webhook_events");
    return query.step() ? query.integer(0) : 0;
  }

 private:
  // Runs a DELETE whose ?1 is a time, in its own transaction; returns the rows removed.
  std::int64_t delete_before(const char* sql, core::Timestamp before) {
    Transaction transaction(connection_);
    Statement remove(cache_, sql);
    remove.bind(1, millis(before));
    remove.step();
    const std::int64_t removed = sqlite3_changes(db_);
    transaction.commit();
    return removed;
  }

  void append_transition(const std::string& key, std::optional<TopUpState> from, TopUpState to, core::Timestamp at,
                         std::string_view note) {
    Statement insert(cache_, "INSERT INTO top_up_transitions (key, sequence, from_state, to_state, at, note) "
                             "VALUES (?1, (SELECT COALESCE(MAX(sequence), 0) + 1 FROM top_up_transitions "
                             "WHERE key = ?1), ?2, ?3, ?4, ?5)");
    insert.bind(1, key).bind(2, from ? core::to_string(*from) : std::string_view()).bind(3, core::to_string(to));
    insert.bind(4, millis(at)).bind(5, note);
    insert.step();
  }

  void write_rule_state(const std::string& rule, const core::RuleState& s) {
    Statement upsert(cache_, "INSERT INTO rule_states (rule, phase, condition_since, fired_at, last_alert_at, "
                             "last_top_up_at, top_ups_in_episode) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                             "ON CONFLICT (rule) DO UPDATE SET phase = excluded.phase, condition_since = "
                             "excluded.condition_since, fired_at = excluded.fired_at, last_alert_at = "
                             "excluded.last_alert_at, last_top_up_at = excluded.last_top_up_at, "
                             "top_ups_in_episode = excluded.top_ups_in_episode");
    upsert.bind(1, rule).bind(2, core::to_string(s.phase)).bind(3, s.condition_since).bind(4, s.fired_at);
    upsert.bind(5, s.last_alert_at).bind(6, s.last_top_up_at).bind(7, static_cast<std::int64_t>(s.top_ups_in_episode));
    upsert.step();
  }

  static std::vector<TopUpRecord> records(Statement& query) {
    std::vector<TopUpRecord> out;
    while (query.step()) out.push_back(record_of(query));
    return out;
  }

  sqlite::Connection connection_;
  sqlite3* const db_ = connection_.db();
  sqlite::StatementCache& cache_ = connection_.statements();  // each statement prepared once
  std::unique_ptr<ApiStore> api_;  // on db_
  std::unique_ptr<ConsoleStore> console_;  // on db_
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, bool flushed_by_durability) {
  return std::make_unique<SqliteStore>(path, flushed_by_durability ? Commits::reach_the_os : Commits::wait_for_disk);
}

std::unique_ptr<Store> open_sqlite_writer(const std::string& path) {
  return std::make_unique<SqliteStore>(path, Commits::wait_for_disk_checkpoint_apart);
}

}  // namespace topupd::adapters
