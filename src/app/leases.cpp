// Leases: see leases.hpp.
#include "leases.hpp"

#include <algorithm>
#include <functional>
#include <set>
#include <string_view>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "topupd/adapters/store/store.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "topupd/core/ownership.hpp"

namespace topupd::app {

using adapters::field;

Leases::Leases(asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics,
               adapters::LeaseStore& store, std::unique_ptr<adapters::LeaseStore> renewals, adapters::InstanceRow me,
               core::Duration lease, LeaseNeighbours neighbours)
    : io_(io), clock_(clock), metrics_(metrics), store_(store), me_(std::move(me)), lease_(lease),
      neighbours_(std::move(neighbours)), renewal_store_(std::move(renewals)), timer_(io) {}

void Leases::configure(const config::Config& config) {
  accounts_.clear();
  for (const auto& account : config.accounts) accounts_.push_back(account.name);
  accounts_.push_back(std::string(kOutbox));
  rule_accounts_.clear();
  for (const auto& rule : config.rules) rule_accounts_[rule.name] = rule.account;
  // An account and the accounts its rules' rails read (a sweep's source, a payout's
  // payer) are owned together: the rule reads their balances from this instance's polls.
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string&)> root = [&](const std::string& a) -> std::string {
    auto it = parent.find(a);
    if (it == parent.end() || it->second == a) return a;
    return it->second = root(it->second);
  };
  auto join = [&](const std::string& a, const std::string& b) {
    const std::string ra = root(a), rb = root(b);
    if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);  // the smaller name leads the group
  };
  for (const auto& rule : config.rules) {
    if (!rule.top_up) continue;
    for (std::size_t i = 0; i < core::rail_count(*rule.top_up); ++i) {
      const std::string& source = core::source_account(*rule.top_up, i);
      if (!source.empty()) join(rule.account, source);
    }
  }
  group_of_.clear();
  for (const auto& account : accounts_) group_of_[account] = root(account);
}

Leases::~Leases() { stop_renewing(); }

void Leases::start() {
  asio::co_spawn(io_, loop(), adapters::log_failure("leases"));
  renewer_ = std::thread([this] { renew_loop(); });
}

void Leases::stop_renewing() {
  {
    const std::lock_guard<std::mutex> lock(renewer_mutex_);
    renewer_stopping_ = true;
  }
  renewer_wake_.notify_all();
  if (renewer_.joinable()) renewer_.join();
}

void Leases::renew_loop() {
  std::unique_lock<std::mutex> lock(renewer_mutex_);
  while (!renewer_wake_.wait_for(lock, core::lease_renew_every(lease_), [this] { return renewer_stopping_; })) {
    lock.unlock();
    renew_once();
    lock.lock();
  }
}

void Leases::renew_once() {
  std::vector<std::string> accounts;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [account, held] : held_) accounts.push_back(account);
  }
  const core::MonotonicTime asked = clock_.monotonic();
  std::map<std::string, std::int64_t> renewed;
  try {
    renewal_store_->beat(me_);
    renewed = renewal_store_->renew(me_.id, accounts, lease_);
  } catch (const adapters::StoreError& e) {
    spdlog::error("cannot renew leases: {}; no money moves for an account once its lease runs out here "
                  "instance={} held={}",
                  e.what(), field(me_.id), accounts.size());
    asio::post(io_, [this] { metrics_.count_lease_renewal_failure(); });
    return;
  }
  // Only what is still held with the same epoch: the event loop may have given an
  // account up, or seen it change hands, meanwhile — its round deals with those.
  const core::MonotonicTime valid_until = asked + core::lease_valid_for(lease_);
  const std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [account, epoch] : renewed) {
    const auto held = held_.find(account);
    if (held != held_.end() && held->second.epoch == epoch) {
      held->second.valid_until = std::max(held->second.valid_until, valid_until);
    }
  }
}

asio::awaitable<void> Leases::loop() {
  while (!stopped_) {
    timer_.expires_after(core::lease_renew_every(lease_));
    auto [error] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error || stopped_) co_return;
    round();
  }
}

// Called with mutex_ held.
void Leases::drop(const std::string& account, std::vector<std::string>& lost) {
  if (held_.erase(account)) lost.push_back(account);
}

void Leases::round() {
  // Counted from before the store is asked: the server starts the lease later than this.
  const core::MonotonicTime asked = clock_.monotonic();
  try {
    view_ = store_.heartbeat(me_, lease_);
  } catch (const adapters::StoreError& e) {
    metrics_.count_lease_renewal_failure();
    spdlog::error("cannot renew leases: {}; no money moves for an account once its lease runs out here "
                  "instance={} held={}",
                  e.what(), field(me_.id), held_.size());
    return;
  }
  std::vector<std::string> alive;
  for (const auto& instance : view_.instances) alive.push_back(instance.id);
  if (std::find(alive.begin(), alive.end(), me_.id) == alive.end()) alive.push_back(me_.id);

  std::vector<std::string> wanted;
  for (const auto& account : accounts_) {
    if (core::owner_of(group_of_.at(account), alive) == me_.id) wanted.push_back(account);
  }
  const std::set<std::string> wanted_set(wanted.begin(), wanted.end());
  // Given up here first, then in the store: nothing is started for them after this.
  std::vector<std::string> give_up;
  std::vector<std::string> lost;
  std::vector<std::string> gained;
  std::size_t taken_away = 0;  // held, and found another instance's
  std::unique_lock<std::mutex> lock(mutex_);
  for (const auto& [account, held] : held_) {
    if (!wanted_set.count(account)) give_up.push_back(account);
  }
  for (const auto& account : give_up) {
    drop(account, lost);
    spdlog::debug("lease given up: another instance is to own it account={} instance={}", field(account),
                  field(me_.id));
  }
  // What is held and still wanted is the renewal thread's to renew: this round asks
  // only for the rest, and reads from the view whether what it holds is still its
  // own. Renewing every held lease here too wrote each row again every round, on the
  // event loop (about 200 ms of the server's time at 30,000 accounts).
  std::unordered_map<std::string_view, const adapters::LeaseRow*> in_view;
  in_view.reserve(view_.leases.size());
  for (const auto& lease : view_.leases) in_view.emplace(lease.account, &lease);
  std::vector<std::string> to_take;
  for (const auto& account : wanted) {
    const auto held = held_.find(account);
    if (held == held_.end()) {
      to_take.push_back(account);
      continue;
    }
    const auto row = in_view.find(account);
    if (row != in_view.end() && row->second->owner == me_.id && row->second->epoch == held->second.epoch) continue;
    // Another instance's now (this one's lease ran out), or gone: what we knew is old.
    drop(account, lost);
    taken_away += 1;
    spdlog::debug("lease lost to another instance account={} instance={}", field(account), field(me_.id));
    to_take.push_back(account);
  }
  lock.unlock();
  std::map<std::string, std::int64_t> granted;
  try {
    store_.release(me_.id, give_up);
    granted = store_.acquire(me_.id, to_take, lease_);
  } catch (const adapters::StoreError& e) {
    metrics_.count_lease_renewal_failure();
    spdlog::error("cannot renew leases: {}; no money moves for an account once its lease runs out here "
                  "instance={} held={}",
                  e.what(), field(me_.id), held_.size());
    if (!lost.empty() && neighbours_.lost) neighbours_.lost(lost);
    return;
  }
  const core::MonotonicTime valid_until = asked + core::lease_valid_for(lease_);
  lock.lock();
  for (const auto& account : to_take) {
    const auto grant = granted.find(account);
    const auto held = held_.find(account);
    if (grant == granted.end()) {
      // Another instance still holds it (until it lets go or its lease runs out).
      if (held != held_.end()) {
        drop(account, lost);
        taken_away += 1;
        spdlog::debug("lease lost to another instance account={} instance={}", field(account), field(me_.id));
      }
      continue;
    }
    if (held != held_.end() && held->second.epoch == grant->second) {
      held->second.valid_until = std::max(held->second.valid_until, valid_until);
      continue;
    }
    if (held != held_.end()) drop(account, lost);  // it changed hands in between: what we knew is old
    held_[account] = {grant->second, valid_until};
    spdlog::debug("lease taken account={} epoch={} instance={}", field(account), grant->second, field(me_.id));
    gained.push_back(account);
  }
  lock.unlock();
  std::map<std::string, std::int64_t> accounts_held = held();
  accounts_held.erase(std::string(kOutbox));
  std::set<std::string> held_elsewhere;
  for (const auto& lease : view_.leases) {
    if (!lease.owner.empty() && lease.owner != me_.id && lease.expires_at > view_.now) held_elsewhere.insert(lease.account);
  }
  std::size_t without_owner = 0;
  for (const auto& account : accounts_) {
    if (account != kOutbox && !accounts_held.count(account) && !held_elsewhere.count(account)) ++without_owner;
  }
  metrics_.set_ownership(alive.size(), accounts_held.size(), accounts_held, without_owner);
  if (taken_away > 0) {
    spdlog::warn("leases lost to another instance (this one renewed them too late) instance={} accounts={}",
                 field(me_.id), taken_away);
  }
  if (!lost.empty() || !gained.empty()) {
    spdlog::info("leases changed instance={} instances={} taken={} given_up={} held={}", field(me_.id), alive.size(),
                 gained.size(), lost.size(), held_.size());
  }
  if (!lost.empty() && neighbours_.lost) neighbours_.lost(lost);
  // Every round, even with nothing new: accounts taken earlier whose journal could not be
  // read yet are read again.
  if (neighbours_.gained) neighbours_.gained(gained);
}

void Leases::leave() {
  stopped_ = true;
  timer_.cancel();
  stop_renewing();
  std::vector<std::string> accounts;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [account, held] : held_) accounts.push_back(account);
    held_.clear();
  }
  try {
    store_.leave(me_.id);
    spdlog::info("leases given up for a clean stop instance={} accounts={}", field(me_.id), accounts.size());
  } catch (const adapters::StoreError& e) {
    spdlog::warn("cannot give up leases at stop: {}; the others take over when they run out instance={}", e.what(),
                 field(me_.id));
  }
}

bool Leases::owns(const std::string& account) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto held = held_.find(account);
  return held != held_.end() && clock_.monotonic() < held->second.valid_until;
}

std::optional<std::int64_t> Leases::epoch_of(const std::string& account) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto held = held_.find(account);
  if (held == held_.end() || clock_.monotonic() >= held->second.valid_until) return std::nullopt;
  return held->second.epoch;
}

std::optional<std::string> Leases::account_of_rule(const std::string& rule) const {
  const auto it = rule_accounts_.find(rule);
  if (it == rule_accounts_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::int64_t> Leases::held() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, std::int64_t> out;
  for (const auto& [account, held] : held_) out.emplace(account, held.epoch);
  return out;
}

}  // namespace topupd::app
