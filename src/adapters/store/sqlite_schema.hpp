// The SQLite store's schema: its versions, applied in order by sqlite_store.cpp.
// A second engine keeps its own schema beside it.
//
// Private to src/adapters/store.
#pragma once

#include <iterator>

namespace topupd::adapters::sqlite {

// Schema versions, applied in order, each in its own transaction. Only append.
inline constexpr const char* kMigrations[] = {
    // 1: the journal and rule states.
    R"sql(
CREATE TABLE top_ups (
  key            TEXT PRIMARY KEY,
  rule           TEXT NOT NULL,
  account        TEXT NOT NULL,
  provider       TEXT NOT NULL,
  method         TEXT NOT NULL,
  destination_id TEXT NOT NULL,
  source         TEXT NOT NULL,
  amount_minor   INTEGER NOT NULL,
  currency       TEXT NOT NULL,
  state          TEXT NOT NULL,
  reference      TEXT NOT NULL,
  last_error     TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL,
  settled_at     INTEGER
);
CREATE INDEX top_ups_by_state ON top_ups (state);
CREATE INDEX top_ups_by_created_at ON top_ups (created_at);
CREATE TABLE top_up_transitions (
  key        TEXT NOT NULL REFERENCES top_ups (key),
  sequence   INTEGER NOT NULL,
  from_state TEXT,
  to_state   TEXT NOT NULL,
  at         INTEGER NOT NULL,
  note       TEXT NOT NULL,
  PRIMARY KEY (key, sequence)
);
CREATE TABLE rule_states (
  rule               TEXT PRIMARY KEY,
  phase              TEXT NOT NULL,
  condition_since    INTEGER,
  fired_at           INTEGER,
  last_alert_at      INTEGER,
  last_top_up_at     INTEGER,
  top_ups_in_episode INTEGER NOT NULL
);
)sql",
    // 2: settings that survive restarts (the pause switch).
    R"sql(
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
    // 3: webhook event ids already received, so a redelivery is processed once.
    R"sql(
CREATE TABLE webhook_events (
  provider    TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  type        TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (provider, event_id)
);
CREATE INDEX webhook_events_by_received_at ON webhook_events (received_at);
)sql",
    // 4: the notification outbox: written before any notifier sees a message.
    R"sql(
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  notifier        TEXT NOT NULL,
  payload         TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  attempts        INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  state           TEXT NOT NULL,
  last_error      TEXT NOT NULL
);
CREATE INDEX outbox_by_notifier_state ON outbox (notifier, state, id);
)sql",
    // 5: silences and acknowledgements from topupctl.
    R"sql(
CREATE TABLE silences (
  target     TEXT NOT NULL,
  kind       TEXT NOT NULL,
  reason     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (target, kind)
);
)sql",
    // 6: rails in order: which rail a top-up went on, and the need (its first rail's key) it serves.
    R"sql(
ALTER TABLE top_ups ADD COLUMN rail INTEGER NOT NULL DEFAULT 0;
ALTER TABLE top_ups ADD COLUMN need TEXT NOT NULL DEFAULT '';
)sql",
    // 7: deposits: the provider that issues the ticket, and the ticket (or static
    // destination) the payment leg pays, once known.
    R"sql(
ALTER TABLE top_ups ADD COLUMN ticket_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_reference TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_bank TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_account_no TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_name TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_expires_at INTEGER;
)sql",
    // 8: a QRIS ticket's code (the string a person's app scans).
    R"sql(
ALTER TABLE top_ups ADD COLUMN ticket_qr TEXT NOT NULL DEFAULT '';
)sql",
    // 9: the backend's API: tokens (a hash of each), the demands it announced, and the
    // audit log of its calls and of changes to its tokens.
    R"sql(
CREATE TABLE api_tokens (
  name         TEXT PRIMARY KEY,
  hash         TEXT NOT NULL UNIQUE,
  scopes       TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at   INTEGER
);
CREATE TABLE demands (
  reference    TEXT PRIMARY KEY,
  account      TEXT NOT NULL,
  amount_minor INTEGER NOT NULL,
  currency     TEXT NOT NULL,
  due_at       INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  created_by   TEXT NOT NULL
);
CREATE INDEX demands_by_due_at ON demands (due_at);
CREATE TABLE audit_log (
  seq    INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  actor  TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_log_by_at ON audit_log (at);
)sql",
    // 10: the console: its users (an argon2id hash of each password), their sessions (a
    // hash of each id), the approvals given to waiting top-ups, and the balance history.
    R"sql(
CREATE TABLE console_users (
  name           TEXT PRIMARY KEY,
  role           TEXT NOT NULL,
  password_hash  TEXT NOT NULL,
  totp_secret    TEXT NOT NULL,
  totp_last_step INTEGER,
  failed_logins  INTEGER NOT NULL,
  locked_until   INTEGER,
  created_at     INTEGER NOT NULL
);
CREATE TABLE console_sessions (
  hash         TEXT PRIMARY KEY,
  user_name    TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_name);
CREATE TABLE top_up_approvals (
  key      TEXT NOT NULL,
  approver TEXT NOT NULL,
  terms    TEXT NOT NULL,
  at       INTEGER NOT NULL,
  PRIMARY KEY (key, approver, terms)
);
CREATE TABLE balance_history (
  account TEXT NOT NULL,
  at      INTEGER NOT NULL,
  minor   INTEGER NOT NULL,
  PRIMARY KEY (account, at)
);
)sql",
};
inline constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace topupd::adapters::sqlite
