// The Notifier port: how alerts reach people.
//
// A `Notification` says what happened (firing, still firing, resolved), which rule and
// account, the balance against the threshold, the runway, and what topupd did (the
// top-up's id, amount, state and whether it waits for approval). Notifications are
// written to the store's outbox before any notifier sees them; a notifier then gets
// one or more due notifications at once (those that fired within its `group_wait`)
// and says whether they were delivered, should be retried (timeouts, resets, 5xx,
// 429) or were refused for good (other 4xx: retrying cannot help).
#pragma once

#include <optional>
#include <span>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"

namespace topupd::adapters {

struct TopUpSummary {
  std::string key;
  core::Money amount;
  std::string method;  // direct_debit | sweep
  std::string state;   // the journal state when the alert went out
  bool needs_approval = false;
  std::string reference{};  // the gateway's id for it, once known
  std::string approve_url{};  // waiting for approval with console.url set: its page in the console
};

struct Notification {
  core::DecisionKind kind = core::DecisionKind::alert_firing;  // alert_firing, alert_repeat or alert_resolved
  std::string rule;
  // The alert's own name when it is about one top-up of the rule rather than the rule's
  // condition (TopUpStuck): its own identity, firing and resolving apart from the rule's.
  std::string alert;
  std::string account;
  std::string severity;
  std::string reason;
  std::optional<core::Money> balance;    // absent when no poll has succeeded yet
  std::optional<core::Money> threshold;  // below/above rules
  std::optional<core::Duration> runway;  // runway rules
  std::string action;                    // what topupd did, in words; empty: nothing
  std::optional<TopUpSummary> top_up;
  core::Timestamp at;        // when topupd decided it
  core::Timestamp fired_at;  // when the alert started firing (its identity in Alertmanager)
  // An event for the backend's subscriptions (notify/events.hpp), e.g. "top_up.succeeded";
  // empty for an alert to people.
  std::string event{};
  // A QRIS ticket to pay: the code's string. E-mail shows it as an inline image too,
  // Telegram as a photo; other notifiers as text.
  std::string qr{};
};

struct DeliveryResult {
  enum class Kind { delivered, retry, rejected };
  Kind kind = Kind::delivered;
  std::string detail;  // for logs and last_error; never a secret
  std::optional<core::Duration> retry_after;

  static DeliveryResult delivered() { return {}; }
  static DeliveryResult retry(std::string why, std::optional<core::Duration> after = std::nullopt) {
    return {Kind::retry, std::move(why), after};
  }
  static DeliveryResult rejected(std::string why) { return {Kind::rejected, std::move(why), std::nullopt}; }
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Delivers `batch` (at least one notification) as one message where the medium allows.
  virtual boost::asio::awaitable<DeliveryResult> deliver(std::span<const Notification> batch) = 0;
  // Notifiers that must repeat what they said (Alertmanager forgets alerts that are not
  // re-sent) do it in `resend`, called every `resend_every()`; zero: never.
  virtual core::Duration resend_every() const { return core::Duration::zero(); }
  virtual boost::asio::awaitable<void> resend() { co_return; }
  // Whether it must hear every change of an alert, even one people are spared (a
  // resolution under `send_resolved: false`): Alertmanager keeps an alert firing
  // until told it resolved.
  virtual bool hears_every_change() const { return false; }
};

}  // namespace topupd::adapters
