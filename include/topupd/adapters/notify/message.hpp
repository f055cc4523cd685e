// What a notification says, for people and for machines: the standard text, the
// fields templates may use, amounts in the reader's locale, and the JSON a
// notification is kept as in the outbox. Pure functions.
//
// Template fields (written {{name}}): status (FIRING, STILL FIRING, RESOLVED), rule,
// account, severity, reason, balance, threshold, runway, action, topup_id,
// topup_amount, topup_method, topup_state, approval ("needed" or empty), at (RFC 3339),
// fired_at, dashboard_url, runbook_url, qris (a QRIS ticket's code, else empty), and
// text (the standard message). In a text
// template a field is replaced by its value; in a JSON body template by a JSON string
// literal (quotes included), so `{"text": {{text}}}` is always valid JSON.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "topupd/adapters/notify/notifier.hpp"

namespace topupd::adapters::notify {

struct Presentation {
  std::string locale = "en";  // en | id-ID
  std::string dashboard_url;
  std::string runbook_url;
  std::string text_template;  // empty: the standard text
};

std::string format_amount(const core::Money& money, const std::string& locale);
// "FIRING", "STILL FIRING" or "RESOLVED".
const char* status_word(core::DecisionKind kind);
// One line: "[FIRING] payout-low on payout (critical)".
std::string headline(const Notification& n);

std::map<std::string, std::string> template_fields(const Notification& n, const Presentation& p);
// Replaces every {{name}} with the field (JSON-quoted when `json`); unknown names become empty.
std::string render(std::string_view text, const std::map<std::string, std::string>& fields, bool json);

// The message body in plain text (several lines), or the text template rendered.
std::string message_text(const Notification& n, const Presentation& p);
// Several notifications as one message: their texts one after another.
std::string batch_text(std::span<const Notification> batch, const Presentation& p);

// Telegram's HTML parse mode: &, < and > escaped.
std::string html_escape(std::string_view text);

// The outbox's form of a notification, and back (nullopt for text this version cannot read).
std::string to_json(const Notification& n);
std::optional<Notification> notification_from_json(std::string_view text);

}  // namespace topupd::adapters::notify
