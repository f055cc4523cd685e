// The PostgreSQL store's schema: its versions, applied in order by pg_store.cpp. The
// same tables as SQLite's (sqlite_schema.hpp), times in milliseconds since the epoch
// as BIGINT, so both engines hold exactly the same values.
//
// Private to src/adapters/store.
#pragma once

#include <iterator>

namespace topupd::adapters::pg {

// Schema versions, applied in order, each in its own transaction. Only append.
inline constexpr const char* kMigrations[] = {
    // 1: everything SQLite's versions 1 to 6 hold.
    R"sql(
CREATE TABLE top_ups (
  key            TEXT PRIMARY KEY,
  rule           TEXT NOT NULL,
  account        TEXT NOT NULL,
  provider       TEXT NOT NULL,
  method         TEXT NOT NULL,
  destination_id TEXT NOT NULL,
  source         TEXT NOT NULL,
  amount_minor   BIGINT NOT NULL,
  currency       TEXT NOT NULL,
  state          TEXT NOT NULL,
  reference      TEXT NOT NULL,
  last_error     TEXT NOT NULL,
  created_at     BIGINT NOT NULL,
  updated_at     BIGINT NOT NULL,
  settled_at     BIGINT,
  rail           INTEGER NOT NULL DEFAULT 0,
  need           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX top_ups_by_state ON top_ups (state);
CREATE INDEX top_ups_by_created_at ON top_ups (created_at);
CREATE TABLE top_up_transitions (
  key        TEXT NOT NULL REFERENCES top_ups (key),
  sequence   INTEGER NOT NULL,
  from_state TEXT,
  to_state   TEXT NOT NULL,
  at         BIGINT NOT NULL,
  note       TEXT NOT NULL,
  PRIMARY KEY (key, sequence)
);
CREATE TABLE rule_states (
  rule               TEXT PRIMARY KEY,
  phase              TEXT NOT NULL,
  condition_since    BIGINT,
  fired_at           BIGINT,
  last_alert_at      BIGINT,
  last_top_up_at     BIGINT,
  top_ups_in_episode INTEGER NOT NULL
);
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE webhook_events (
  provider    TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  type        TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  PRIMARY KEY (provider, event_id)
);
CREATE INDEX webhook_events_by_received_at ON webhook_events (received_at);
CREATE TABLE outbox (
  id              BIGSERIAL PRIMARY KEY,
  notifier        TEXT NOT NULL,
  payload         TEXT NOT NULL,
  created_at      BIGINT NOT NULL,
  attempts        INTEGER NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  state           TEXT NOT NULL,
  last_error      TEXT NOT NULL
);
CREATE INDEX outbox_by_notifier_state ON outbox (notifier, state, id);
CREATE TABLE silences (
  target     TEXT NOT NULL,
  kind       TEXT NOT NULL,
  reason     TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (target, kind)
);
)sql",
    // 2: deposits (SQLite's 7): the provider that issues the ticket, and the ticket (or
    // static destination) the payment leg pays, once known.
    R"sql(
ALTER TABLE top_ups ADD COLUMN ticket_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_reference TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_bank TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_account_no TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_name TEXT NOT NULL DEFAULT '';
ALTER TABLE top_ups ADD COLUMN ticket_expires_at BIGINT;
)sql",
    // 3: a QRIS ticket's code (SQLite's 8).
    R"sql(
ALTER TABLE top_ups ADD COLUMN ticket_qr TEXT NOT NULL DEFAULT '';
)sql",
    // 4: several instances (leases.hpp): each one's heartbeat, and each account's owner,
    // epoch and expiry, on the server's clock in milliseconds.
    R"sql(
CREATE TABLE instances (
  id           TEXT PRIMARY KEY,
  host         TEXT NOT NULL,
  started_at   BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL
);
CREATE TABLE leases (
  account    TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  epoch      BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
)sql",
    // 5: the webhook events several instances share: put there by whichever receives
    // one, taken out by the owner of the account it concerns once acted on.
    R"sql(
CREATE TABLE webhook_inbox (
  seq         BIGSERIAL PRIMARY KEY,
  provider    TEXT NOT NULL,
  payload     TEXT NOT NULL,
  received_at BIGINT NOT NULL
);
CREATE INDEX webhook_inbox_by_received_at ON webhook_inbox (received_at);
)sql",
    // 6: the backend's API: tokens (a hash of each), the demands it announced, and the
    // audit log of its calls and of changes to its tokens.
    R"sql(
CREATE TABLE api_tokens (
  name         TEXT PRIMARY KEY,
  hash         TEXT NOT NULL UNIQUE,
  scopes       TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at   BIGINT
);
CREATE TABLE demands (
  reference    TEXT PRIMARY KEY,
  account      TEXT NOT NULL,
  amount_minor BIGINT NOT NULL,
  currency     TEXT NOT NULL,
  due_at       BIGINT NOT NULL,
  created_at   BIGINT NOT NULL,
  created_by   TEXT NOT NULL
);
CREATE INDEX demands_by_due_at ON demands (due_at);
CREATE TABLE audit_log (
  seq    BIGSERIAL PRIMARY KEY,
  at     BIGINT NOT NULL,
  actor  TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX audit_log_by_at ON audit_log (at);
)sql",
    // 7: the console: its users (an argon2id hash of each password), their sessions (a
    // hash of each id), the approvals given to waiting top-ups, and the balance history.
    R"sql(
CREATE TABLE console_users (
  name           TEXT PRIMARY KEY,
  role           TEXT NOT NULL,
  password_hash  TEXT NOT NULL,
  totp_secret    TEXT NOT NULL,
  totp_last_step BIGINT,
  failed_logins  BIGINT NOT NULL,
  locked_until   BIGINT,
  created_at     BIGINT NOT NULL
);
CREATE TABLE console_sessions (
  hash         TEXT PRIMARY KEY,
  user_name    TEXT NOT NULL,
  created_at   BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_by_user ON console_sessions (user_name);
CREATE TABLE top_up_approvals (
  key      TEXT NOT NULL,
  approver TEXT NOT NULL,
  terms    TEXT NOT NULL,
  at       BIGINT NOT NULL,
  PRIMARY KEY (key, approver, terms)
);
CREATE TABLE balance_history (
  account TEXT NOT NULL,
  at      BIGINT NOT NULL,
  minor   BIGINT NOT NULL,
  PRIMARY KEY (account, at)
);
)sql",
};

// The server's clock in milliseconds since the epoch: leases and heartbeats are
// counted on it, one clock for every instance.
inline constexpr const char* kServerMillis = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
inline constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace topupd::adapters::pg
