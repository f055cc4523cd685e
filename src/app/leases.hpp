// Leases: which accounts this instance owns when several topupd share one PostgreSQL.
//
// It owns this instance's identity, its heartbeat, and the leases it holds — each with
// its epoch and the instant, on this host's monotonic clock, after which it must not
// act on it any more (core::lease_valid_for, counted from before the renewal was
// asked). Every `core::lease_renew_every` it says it is alive, reads who else is and
// every lease, gives up the accounts core::owner_of gives to another instance, drops
// those the leases show another's, and takes those it gives to this one that it does
// not hold yet — an account together with the accounts its rules' rails read, so a
// rule sees every balance it needs in this instance's polls. The poller polls, and the
// executor moves money for, only what `owns` says; the store fences each journal and
// rule-state write with `epoch_of` (it is the store's `Fence`). A round that cannot
// reach the store changes nothing: the leases run out on their own, here before
// anywhere else.
//
// The leases held are renewed, and the heartbeat kept, by a thread of their own on a
// connection of its own (the constructor's `renewals`): an event loop
// busy with polls may start a round late, and a lease must not lapse — nor ownership
// move — because of that. That thread only extends what this instance still holds;
// taking and giving up stay on the event loop.
//
// It may call: the lease store, the clock, metrics, and its neighbours — told when an
// account becomes this instance's (read its journal and rule states again, poll it)
// and when it stops being so.
//
// Private to src/app.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/store/leases.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::app {

namespace asio = boost::asio;

// Told once per round: every account given up, and every account taken (the outbox's
// lease too) — `gained` after every round that reached the store, even with none.
struct LeaseNeighbours {
  std::function<void(const std::vector<std::string>& accounts)> gained;
  std::function<void(const std::vector<std::string>& accounts)> lost;
};

class Leases final : public adapters::Fence {
 public:
  // `renewals`: another connection to the same store, for the renewal thread.
  Leases(asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics, adapters::LeaseStore& store,
         std::unique_ptr<adapters::LeaseStore> renewals, adapters::InstanceRow me, core::Duration lease,
         LeaseNeighbours neighbours);

  // A config generation: its accounts and which account each rule belongs to. Leases
  // of accounts that left are given up at the next round.
  void configure(const config::Config& config);
  // One round now (at start, so a sole instance owns its accounts before it polls);
  // then `start` renews every core::lease_renew_every.
  void round();
  // Starts the rounds, and the renewal thread: the leases held, and the heartbeat,
  // renewed every core::lease_renew_every through `renewals`.
  void start();
  ~Leases() override;
  // A clean stop: every lease given up and the heartbeat removed, so the others take
  // over at once instead of after the lease time.
  void leave();

  // This instance holds the account's lease and it has not run out here.
  bool owns(const std::string& account) const;
  // The lease of the notification outbox: its holder alone delivers notifications, so
  // each is sent by one instance, and by another when that one dies.
  static constexpr std::string_view kOutbox = "@outbox";

  const std::string& instance() const override { return me_.id; }
  std::optional<std::int64_t> epoch_of(const std::string& account) const override;
  std::optional<std::string> account_of_rule(const std::string& rule) const override;

  // What the last round saw (topupctl status), and the leases held with their epochs.
  const adapters::LeaseView& view() const { return view_; }
  std::map<std::string, std::int64_t> held() const;
  core::Duration lease() const { return lease_; }

 private:
  struct Held {
    std::int64_t epoch = 0;
    core::MonotonicTime valid_until;
  };
  asio::awaitable<void> loop();
  void drop(const std::string& account, std::vector<std::string>& lost);
  void renew_loop();
  void renew_once();
  void stop_renewing();

  asio::io_context& io_;
  const core::Clock& clock_;
  adapters::Metrics& metrics_;
  adapters::LeaseStore& store_;
  adapters::InstanceRow me_;
  core::Duration lease_;
  LeaseNeighbours neighbours_;
  std::vector<std::string> accounts_;
  std::map<std::string, std::string> rule_accounts_;  // rule → its account
  std::map<std::string, std::string> group_of_;       // account → the account its group is hashed by
  std::map<std::string, Held> held_;  // guarded by mutex_: the renewal thread extends it
  mutable std::mutex mutex_;
  std::unique_ptr<adapters::LeaseStore> renewal_store_;
  std::thread renewer_;
  std::mutex renewer_mutex_;
  std::condition_variable renewer_wake_;
  bool renewer_stopping_ = false;
  adapters::LeaseView view_;
  asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace topupd::app
