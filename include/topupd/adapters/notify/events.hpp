// Events for the company's backend: machine-readable, signed by the Standard Webhooks
// convention (https://www.standardwebhooks.com), delivered through the outbox like
// notifications, at least once and in order per subscription.
//
// An event is a `Notification` whose `event` names its type (config::kEventTypes). Its id is
// derived from the notification as stored, so every retry of one event carries the
// same `webhook-id` and a receiver drops repeats. The body:
//
//   {"id": "evt_…", "type": "top_up.succeeded", "timestamp": "2026-11-30T10:00:00Z",
//    "data": {"account": …, "rule": …, "top_up": {"key": …, "reference": …,
//             "amount": {"minor": 5000000, "value": "50000.00", "currency": "IDR"}, …},
//             "balance": {…}, "threshold": {…}, "reason": …}}
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "topupd/adapters/notify/notifier.hpp"

namespace topupd::adapters::notify {

std::string event_id(const Notification& event);
std::string event_body(const Notification& event);

// `v1,<base64 HMAC-SHA256>` over "id.timestamp.body" with the secret's key: the part of
// a `whsec_…` secret after the prefix, base64-decoded. nullopt for a malformed secret.
std::optional<std::string> standard_webhooks_signature(std::string_view secret, std::string_view id,
                                                       std::string_view timestamp, std::string_view body);

}  // namespace topupd::adapters::notify
