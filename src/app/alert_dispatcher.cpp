// The alert dispatcher: see alert_dispatcher.hpp.
#include "alert_dispatcher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "topupd/adapters/net/http.hpp"
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
// The longest a message waits for its next attempt, whatever a Retry-After asks.
constexpr auto kLongestWait = std::chrono::hours(1);
constexpr auto kKeepDelivered = std::chrono::hours(24 * 7);
constexpr auto kStoreRetry = std::chrono::seconds(5);
}  // namespace

AlertDispatcher::AlertDispatcher(asio::io_context& io, const core::Clock& clock, core::Random& random,
                                 adapters::Metrics& metrics, adapters::Outbox& outbox, adapters::SilenceStore& silences,
                                 NotifierFactory make_notifier)
    : io_(io), clock_(clock), random_(random), metrics_(metrics), outbox_(outbox), silence_store_(silences),
      make_notifier_(std::move(make_notifier)) {}

void AlertDispatcher::wall_clock_stepped() {
  for (auto& [name, runtime] : notifiers_) runtime->wake.cancel();
}

void AlertDispatcher::stop() {
  stopping_ = true;
  for (auto& [name, notifier] : notifiers_) {
    notifier->stopped = true;
    notifier->wake.cancel();
    notifier->resend_timer.cancel();
  }
}

void AlertDispatcher::silence(const adapters::Silence& silence) {
  silence_store_.save_silence(silence);
  std::erase_if(silences_,
                [&](const adapters::Silence& s) { return s.target == silence.target && s.kind == silence.kind; });
  silences_.push_back(silence);
}

bool AlertDispatcher::unsilence(const std::string& target) {
  const bool silence = silence_store_.remove_silence(target, adapters::SilenceKind::silence);
  const bool ack = silence_store_.remove_silence(target, adapters::SilenceKind::ack);
  std::erase_if(silences_, [&](const adapters::Silence& s) { return s.target == target; });
  return silence || ack;
}

void AlertDispatcher::configure(const std::vector<config::NotifierConfig>& notifiers) {
  std::map<std::string, std::shared_ptr<NotifierRuntime>> runtimes;
  for (const auto& notifier : notifiers) {
    auto previous = notifiers_.find(notifier.name);
    if (previous != notifiers_.end() && previous->second->config == notifier) {
      runtimes[notifier.name] = previous->second;  // same settings: keep its loop and state
      continue;
    }
    auto runtime = std::make_shared<NotifierRuntime>(io_, notifier, make_notifier_(notifier));
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
  std::vector<std::string> names;
  for (const auto& [name, runtime] : notifiers_) names.push_back(name);
  metrics_.set_notifiers(names);
}

std::vector<adapters::Silence> AlertDispatcher::active_silences(core::Timestamp now) {
  std::erase_if(silences_, [&](const adapters::Silence& s) { return s.expires_at <= now; });
  return silences_;
}

std::optional<std::string> AlertDispatcher::suppressed(const adapters::Notification& n) {
  for (const auto& s : active_silences(clock_.now())) {
    if (s.target != n.rule && s.target != n.account) continue;
    if (s.kind == adapters::SilenceKind::silence) return fmt::format("silenced until {} ({})", core::format_rfc3339(s.expires_at), s.reason);
    if (n.kind == core::DecisionKind::alert_repeat) {
      return fmt::format("acknowledged until {} ({})", core::format_rfc3339(s.expires_at), s.reason);
    }
  }
  if (n.kind == core::DecisionKind::alert_resolved && n.alert.empty()) {
    // An acknowledgement lasts until what it acknowledged resolves: the rule's condition,
    // not an alert about one of its top-ups.
    for (const auto& s : silences_) {
      if (s.kind == adapters::SilenceKind::ack && (s.target == n.rule || s.target == n.account)) {
        try {
          silence_store_.remove_silence(s.target, adapters::SilenceKind::ack);
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

void AlertDispatcher::enqueue(const adapters::Notification& notification, const std::vector<std::string>& notify,
                              bool people_spared) {
  if (notify.empty()) return;  // nobody to tell (a rule without an alert)
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
    outbox_.enqueue_notifications(entries);
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

asio::awaitable<void> AlertDispatcher::delivery_loop(std::shared_ptr<NotifierRuntime> runtime) {
  const std::string name = runtime->config.name;
  // A loop of a previous configuration may still be sending: never two at once.
  while (busy_.count(name) && !runtime->stopped) {
    runtime->wake.expires_after(std::chrono::milliseconds(50));
    co_await runtime->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  busy_.insert(name);
  while (!runtime->stopped && !stopping_) {
    if (delivers_ && !delivers_()) {
      // Another instance sends the outbox; look again soon, it may die.
      runtime->wake.expires_after(std::chrono::seconds(1));
      co_await runtime->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    std::vector<OutboxEntry> pending;
    bool readable = true;
    try {
      pending = outbox_.pending_notifications(name, 200);
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
    // An instant further ahead than any wait this daemon sets was set under a wall
    // clock that has since stepped back (in this life or an earlier one): due now.
    const core::Duration horizon = std::max<core::Duration>(kLongestWait, runtime->config.group_wait);
    for (auto& entry : pending) {
      if (entry.next_attempt_at - now > horizon) entry.next_attempt_at = now;
      if (entry.created_at - now > horizon) entry.created_at = now;
    }
    std::optional<core::Timestamp> due_at;
    if (!pending.empty()) due_at = std::max(pending.front().next_attempt_at, pending.front().created_at + runtime->config.group_wait);
    if (!due_at || *due_at > now) {
      // Sleep until the head is due, or until something new arrives — from another
      // instance too, which cannot wake this one: then look again within a second.
      if (due_at) runtime->wake.expires_after(*due_at - now);
      else runtime->wake.expires_at(asio::steady_timer::time_point::max());
      if (delivers_ && runtime->wake.expiry() > asio::steady_timer::clock_type::now() + std::chrono::seconds(1)) {
        runtime->wake.expires_after(std::chrono::seconds(1));
      }
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
        outbox_.update_notifications(unreadable);
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
        entry.next_attempt_at = finished + std::min<core::Duration>(result.retry_after.value_or(backoff), kLongestWait);
      }
      metrics_.count_notification(name, outcome);
    }
    try {
      outbox_.update_notifications(batch);
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
    if (finished - pruned_at_ > std::chrono::hours(1)) {
      pruned_at_ = finished;
      try {
        outbox_.forget_notifications(finished - kKeepDelivered);
      } catch (const adapters::StoreError&) {
        metrics_.count_store_error("outbox");
      }
    }
  }
  busy_.erase(name);
}

asio::awaitable<void> AlertDispatcher::resend_loop(std::shared_ptr<NotifierRuntime> runtime) {
  const auto every = runtime->notifier->resend_every();
  while (!runtime->stopped && !stopping_) {
    runtime->resend_timer.expires_after(every);
    auto [error] = co_await runtime->resend_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error || runtime->stopped || stopping_) break;
    co_await runtime->notifier->resend();
  }
}

}  // namespace topupd::app
