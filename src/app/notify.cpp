// Notifications in the daemon: every message is written to the outbox before any
// notifier sees it; one delivery loop per notifier sends its messages in order,
// grouping those that fired within `group_wait`, retrying with backoff on timeouts,
// resets, 429 and 5xx (never on other 4xx), and carrying on after a restart with what
// was still pending. A notifier that is down holds up only its own messages.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/net/http.hpp"
#include "topupd/adapters/notify/http_notifiers.hpp"
#include "topupd/adapters/notify/message.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::OutboxEntry;

namespace {
constexpr std::size_t kBatchLimit = 20;
constexpr auto kFirstRetry = std::chrono::seconds(1);
constexpr auto kLongestRetry = std::chrono::minutes(5);
constexpr auto kKeepDelivered = std::chrono::hours(24 * 7);
constexpr auto kStoreRetry = std::chrono::seconds(5);
}  // namespace

void Daemon::apply_notifiers(const config::Config& config) {
  std::map<std::string, std::shared_ptr<NotifierRuntime>> runtimes;
  for (const auto& notifier : config.notifiers) {
    auto previous = notifiers_.find(notifier.name);
    if (previous != notifiers_.end() && previous->second->config == notifier) {
      runtimes[notifier.name] = previous->second;  // same settings: keep its loop and state
      continue;
    }
    auto runtime = std::make_shared<NotifierRuntime>(
        io_, notifier, adapters::make_notifier(notifier, io_.get_executor(), clock_, random_));
    runtimes[notifier.name] = runtime;
  }
  for (auto& [name, runtime] : notifiers_) {
    if (runtimes.count(name) && runtimes.at(name) == runtime) continue;
    runtime->stopped = true;
    runtime->wake.cancel();
    runtime->resend_timer.cancel();
  }
  for (auto& [name, runtime] : runtimes) {
    if (notifiers_.count(name) && notifiers_.at(name) == runtime) continue;
    asio::co_spawn(io_, delivery_loop(runtime), adapters::log_failure("notifier " + name));
    if (runtime->notifier->resend_every().count() > 0) {
      asio::co_spawn(io_, resend_loop(runtime), adapters::log_failure("notifier " + name + " re-sends"));
    }
  }
  notifiers_ = std::move(runtimes);
}

std::vector<adapters::Silence> Daemon::active_silences(core::Timestamp now) {
  std::erase_if(silences_, [&](const adapters::Silence& s) { return s.expires_at <= now; });
  return silences_;
}

std::optional<std::string> Daemon::suppressed(const adapters::Notification& n) {
  for (const auto& s : active_silences(clock_.now())) {
    if (s.target != n.rule && s.target != n.account) continue;
    if (s.kind == adapters::SilenceKind::silence) return fmt::format("silenced until {} ({})", core::format_rfc3339(s.expires_at), s.reason);
    if (n.kind == core::DecisionKind::alert_repeat) {
      return fmt::format("acknowledged until {} ({})", core::format_rfc3339(s.expires_at), s.reason);
    }
  }
  if (n.kind == core::DecisionKind::alert_resolved) {
    // An acknowledgement lasts until what it acknowledged resolves.
    for (const auto& s : silences_) {
      if (s.kind == adapters::SilenceKind::ack && (s.target == n.rule || s.target == n.account)) {
        try {
          store_->remove_silence(s.target, adapters::SilenceKind::ack);
        } catch (const adapters::StoreError&) {
          metrics_.count_store_error("silence");
        }
      }
    }
    std::erase_if(silences_, [&](const adapters::Silence& s) {
      return s.kind == adapters::SilenceKind::ack && (s.target == n.rule || s.target == n.account);
    });
  }
  return std::nullopt;
}

void Daemon::enqueue_notification(const adapters::Notification& notification, const std::vector<std::string>& notify,
                                  bool people_spared) {
  const auto now = clock_.now();
  // Alertmanager keeps its own silences; announcing what fires is not a page.
  if (auto why = people_spared ? std::nullopt : suppressed(notification)) {
    for (const auto& name : notify) {
      if (notifiers_.count(name)) metrics_.count_notification(name, "silenced");
    }
    spdlog::info("alert not sent: {} rule={} account={} status={}", *why, field(notification.rule),
                 field(notification.account), adapters::notify::status_word(notification.kind));
    return;
  }
  std::vector<OutboxEntry> entries;
  const std::string payload = adapters::notify::to_json(notification);
  for (const auto& name : notify) {
    auto it = notifiers_.find(name);
    if (it == notifiers_.end()) continue;
    if (people_spared && !it->second->notifier->hears_every_change()) continue;
    OutboxEntry entry;
    entry.notifier = name;
    entry.payload = payload;
    entry.created_at = now;
    entry.next_attempt_at = now;
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) return;
  try {
    store_->enqueue_notifications(entries);
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("outbox");
    spdlog::error("cannot write the notification outbox: {}; the alert is in this log only rule={} account={}", e.what(),
                  field(notification.rule), field(notification.account));
    return;
  }
  for (const auto& entry : entries) {
    auto& runtime = *notifiers_.at(entry.notifier);
    runtime.pending += 1;
    metrics_.set_notifications_pending(entry.notifier, runtime.pending);
    runtime.wake.cancel();
  }
}

asio::awaitable<void> Daemon::delivery_loop(std::shared_ptr<NotifierRuntime> runtime) {
  const std::string name = runtime->config.name;
  // A loop of a previous configuration may still be sending: never two at once.
  while (notifiers_busy_.count(name) && !runtime->stopped) {
    runtime->wake.expires_after(std::chrono::milliseconds(50));
    co_await runtime->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  notifiers_busy_.insert(name);
  while (!runtime->stopped && !stopping_) {
    std::vector<OutboxEntry> pending;
    bool readable = true;
    try {
      pending = store_->pending_notifications(name, 200);
    } catch (const adapters::StoreError& e) {
      metrics_.count_store_error("outbox");
      spdlog::error("cannot read the notification outbox: {} notifier={}", e.what(), field(name));
      readable = false;
    }
    if (!readable) {
      runtime->wake.expires_after(kStoreRetry);
      co_await runtime->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    runtime->pending = static_cast<std::int64_t>(pending.size());
    metrics_.set_notifications_pending(name, runtime->pending);
    const auto now = clock_.now();
    std::optional<core::Timestamp> due_at;
    if (!pending.empty()) due_at = std::max(pending.front().next_attempt_at, pending.front().created_at + runtime->config.group_wait);
    if (!due_at || *due_at > now) {
      // Sleep until the head is due, or until something new arrives.
      if (due_at) runtime->wake.expires_after(*due_at - now);
      else runtime->wake.expires_at(asio::steady_timer::time_point::max());
      co_await runtime->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    // The head and everything due that fired within group_wait of it: one message.
    std::vector<OutboxEntry> batch;
    std::vector<adapters::Notification> notifications;
    std::vector<OutboxEntry> unreadable;
    const auto group_end = pending.front().created_at + runtime->config.group_wait;
    for (auto& entry : pending) {
      if (batch.size() >= kBatchLimit || entry.created_at > std::max(group_end, now) || entry.next_attempt_at > now) break;
      if (auto n = adapters::notify::notification_from_json(entry.payload)) {
        notifications.push_back(std::move(*n));
        batch.push_back(std::move(entry));
      } else {
        entry.state = adapters::OutboxState::rejected;
        entry.last_error = "this topupd cannot read the stored message";
        unreadable.push_back(std::move(entry));
      }
    }
    if (!unreadable.empty()) {
      spdlog::error("dropping notifications this topupd cannot read notifier={} count={}", field(name), unreadable.size());
      try {
        store_->update_notifications(unreadable);
      } catch (const adapters::StoreError&) {
        metrics_.count_store_error("outbox");
      }
    }
    if (batch.empty()) continue;
    auto call = runtime->notifier->deliver(notifications);
    const adapters::DeliveryResult result = co_await std::move(call);
    const auto finished = clock_.now();
    const char* outcome = "delivered";
    for (auto& entry : batch) {
      entry.attempts += 1;
      entry.last_error = result.detail;
      if (result.kind == adapters::DeliveryResult::Kind::delivered) {
        entry.state = adapters::OutboxState::delivered;
      } else if (result.kind == adapters::DeliveryResult::Kind::rejected) {
        entry.state = adapters::OutboxState::rejected;
        outcome = "rejected";
      } else {
        outcome = "retry";
        const auto backoff = std::max<core::Duration>(
            kFirstRetry, adapters::net::full_jitter_backoff(entry.attempts, kFirstRetry * 2, kLongestRetry, random_.next()));
        entry.next_attempt_at = finished + result.retry_after.value_or(backoff);
      }
      metrics_.count_notification(name, outcome);
    }
    try {
      store_->update_notifications(batch);
    } catch (const adapters::StoreError& e) {
      // Not recorded as delivered: it goes out again after the store recovers, which
      // repeats a message rather than losing one.
      metrics_.count_store_error("outbox");
      spdlog::error("cannot record a notification delivery: {} notifier={}", e.what(), field(name));
    }
    if (result.kind == adapters::DeliveryResult::Kind::delivered) {
      spdlog::info("notification delivered notifier={} messages={} first={}", field(name), batch.size(),
                   field(adapters::notify::headline(notifications.front())));
    } else if (result.kind == adapters::DeliveryResult::Kind::rejected) {
      spdlog::error("notification refused, not retried: {} notifier={} messages={}", result.detail, field(name),
                    batch.size());
    } else {
      spdlog::warn("notification not delivered, will retry: {} notifier={} attempt={} next_in={}", result.detail,
                   field(name), batch.front().attempts,
                   core::format_duration(std::chrono::ceil<std::chrono::seconds>(batch.front().next_attempt_at - finished)));
    }
    if (finished - notifications_pruned_at_ > std::chrono::hours(1)) {
      notifications_pruned_at_ = finished;
      try {
        store_->forget_notifications(finished - kKeepDelivered);
      } catch (const adapters::StoreError&) {
        metrics_.count_store_error("outbox");
      }
    }
  }
  notifiers_busy_.erase(name);
}

asio::awaitable<void> Daemon::resend_loop(std::shared_ptr<NotifierRuntime> runtime) {
  const auto every = runtime->notifier->resend_every();
  while (!runtime->stopped && !stopping_) {
    runtime->resend_timer.expires_after(every);
    auto [error] = co_await runtime->resend_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error || runtime->stopped || stopping_) break;
    co_await runtime->notifier->resend();
  }
}

void Daemon::notify(const core::Decision& decision, const std::string& action, const std::string& top_up_key) {
  const core::Rule* rule = runner_->find(decision.rule);
  if (!rule || !rule->alert) return;
  if (decision.kind == core::DecisionKind::alert_firing) metrics_.count_alert(rule->name, rule->alert->severity);
  adapters::Notification n;
  n.kind = decision.kind;
  n.rule = decision.rule;
  n.account = decision.account;
  n.severity = rule->alert->severity;
  n.reason = decision.reason;
  n.balance = decision.balance;
  n.threshold = decision.threshold;
  n.runway = decision.runway;
  n.action = action;
  n.at = clock_.now();
  const core::RuleState state = runner_->state(rule->name);
  n.fired_at = state.fired_at.value_or(n.at);
  for (const auto& record : executor_->journal()) {
    if (top_up_key.empty() || record.key != top_up_key) continue;
    n.top_up = adapters::TopUpSummary{record.key, record.amount, std::string(core::to_string(record.method)),
                                      std::string(core::to_string(record.state)),
                                      record.state == core::TopUpState::awaiting_approval};
  }
  const bool people_hear_it = n.kind != core::DecisionKind::alert_resolved || rule->alert->send_resolved;
  enqueue_notification(n, rule->alert->notify, !people_hear_it);
}

void Daemon::announce_firing_to_alertmanagers() {
  // Alertmanager forgets alerts that are not re-sent: tell it again what is firing.
  for (const auto& rule : config_.rules) {
    const auto state = runner_->states().find(rule.name);
    if (!rule.alert || state == runner_->states().end() || state->second.phase != core::RulePhase::firing) continue;
    adapters::Notification n;
    n.kind = core::DecisionKind::alert_repeat;
    n.rule = rule.name;
    n.account = rule.account;
    n.severity = rule.alert->severity;
    n.reason = "still firing (announced again after topupd started)";
    n.at = clock_.now();
    n.fired_at = state->second.fired_at.value_or(n.at);
    if (auto account = accounts_.find(rule.account); account != accounts_.end() && account->second->watch.latest) {
      n.balance = account->second->watch.latest->balance;
    }
    enqueue_notification(n, rule.alert->notify, true);
  }
}

}  // namespace topupd::app
