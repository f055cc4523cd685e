// The alert dispatcher: the part of the daemon that tells people.
//
// It owns the notifiers of the current config generation, one delivery loop per
// notifier (and a re-send loop for those that must repeat themselves), and the
// silences and acknowledgements from topupctl. Every message is written to the
// store's outbox before any notifier sees it; a delivery loop sends its notifier's
// messages in order, grouping those that fired within `group_wait`, retrying with
// backoff on timeouts, resets, 429 and 5xx (never on other 4xx), and carrying on after
// a restart with what was still pending. A notifier that is down holds up only its
// own messages.
//
// It may call: the store (outbox, silences), the notifiers, the clock, randomness
// (retry jitter) and metrics. It knows nothing of rules or top-ups: the daemon turns
// decisions into `Notification`s.
//
// Private to src/app.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::app {

namespace asio = boost::asio;

class AlertDispatcher {
 public:
  // Builds the notifier a config entry describes (adapters::make_notifier in the daemon).
  using NotifierFactory = std::function<std::shared_ptr<adapters::Notifier>(const config::NotifierConfig&)>;

  AlertDispatcher(asio::io_context& io, const core::Clock& clock, core::Random& random, adapters::Metrics& metrics,
                  adapters::Outbox& outbox, adapters::SilenceStore& silences, NotifierFactory make_notifier);

  // At start: the silences the store kept.
  void load_silences() { silences_ = silence_store_.silences(clock_.now()); }
  // A new config generation's notifiers: one with the same settings keeps its loop
  // and state; the others start, and those gone stop.
  void configure(const std::vector<config::NotifierConfig>& notifiers);
  // Several instances on one store: only while `delivers` says so does this one send
  // the outbox (it holds the outbox's lease, leases.hpp); the others only enqueue.
  // Unset: always.
  void set_delivering(std::function<bool()> delivers) { delivers_ = std::move(delivers); }
  // Stops every loop (shutdown).
  void stop();
  // The wall clock stepped: every notifier measures again how long until its next
  // message is due (retries and group waits are wall-clock instants in the outbox).
  void wall_clock_stepped();

  // Puts `notification` in the outbox of each of `notify`, unless a silence holds it
  // back. `people_spared`: only the notifiers that hear every change (Alertmanager)
  // get it, and silences do not apply.
  void enqueue(const adapters::Notification& notification, const std::vector<std::string>& notify,
               bool people_spared = false);

  // topupctl silence / ack: stored, and in force until it expires.
  void silence(const adapters::Silence& silence);
  // topupctl unsilence: lifts both kinds for `target`; false when there was none.
  bool unsilence(const std::string& target);
  std::vector<adapters::Silence> active_silences(core::Timestamp now);

 private:
  // One notifier of the current configuration and its delivery loop.
  struct NotifierRuntime {
    NotifierRuntime(asio::io_context& io, config::NotifierConfig notifier_config,
                    std::shared_ptr<adapters::Notifier> implementation)
        : config(std::move(notifier_config)), notifier(std::move(implementation)), wake(io), resend_timer(io) {}
    config::NotifierConfig config;
    std::shared_ptr<adapters::Notifier> notifier;
    asio::steady_timer wake;          // cancelled when a message is enqueued
    asio::steady_timer resend_timer;  // notifiers that re-send (Alertmanager)
    std::int64_t pending = 0;
    bool stopped = false;
  };

  // Why a notification is held back (a silence, or an ack of a repeat), or nullopt.
  std::optional<std::string> suppressed(const adapters::Notification& n);
  asio::awaitable<void> delivery_loop(std::shared_ptr<NotifierRuntime> runtime);
  asio::awaitable<void> resend_loop(std::shared_ptr<NotifierRuntime> runtime);

  asio::io_context& io_;
  const core::Clock& clock_;
  core::Random& random_;
  adapters::Metrics& metrics_;
  adapters::Outbox& outbox_;
  adapters::SilenceStore& silence_store_;
  NotifierFactory make_notifier_;
  std::map<std::string, std::shared_ptr<NotifierRuntime>> notifiers_;
  std::set<std::string> busy_;  // notifiers whose delivery loop is running
  std::vector<adapters::Silence> silences_;  // from topupctl silence / ack; expire by themselves
  core::Timestamp pruned_at_{};
  bool stopping_ = false;
  std::function<bool()> delivers_;
};

}  // namespace topupd::app
