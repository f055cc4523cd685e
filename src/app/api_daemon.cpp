// The daemon's side of the backend's API (api.hpp): starting it, the accounts as this
// instance sees them, and the demands that cover_demands rules read, kept in memory
// from the store. (topupctl's token commands are with the others in control.cpp.)
#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "records_json.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::json_string;

bool Daemon::covers_demands() const {
  return std::any_of(generation_.config.rules.begin(), generation_.config.rules.end(), [](const core::Rule& rule) {
    return rule.enabled && rule.when.kind == core::Condition::Kind::cover_demands;
  });
}

void Daemon::reload_demands() {
  if (!covers_demands()) {
    demands_.clear();
    return;
  }
  try {
    std::map<std::string, std::vector<core::DueDemand>> by_account;
    for (const auto& demand : store_->api().demands(clock_.now())) {
      by_account[demand.account].push_back({demand.reference, demand.amount, demand.due_at});
    }
    demands_ = std::move(by_account);
  } catch (const adapters::StoreError& e) {
    // The last demands read stay: a store that is away for a moment forgets none.
    metrics_.count_store_error("demands");
    spdlog::warn("cannot read the demands; the last ones read stay in use: {}", e.what());
  }
}

std::span<const core::DueDemand> Daemon::demands_of(const std::string& account) const {
  const auto it = demands_.find(account);
  if (it == demands_.end()) return {};
  return it->second;
}

asio::awaitable<void> Daemon::demands_loop() {
  // Another instance's API may have taken a demand: read them again now and then.
  asio::steady_timer timer(io_);
  while (!stopping_) {
    timer.expires_after(std::chrono::seconds(15));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
    reload_demands();
  }
}

void Daemon::start_api() {
  const config::ApiConfig& config = generation_.config.api;
  if (!config.enabled) return;
  api_ = std::make_unique<ApiServer>(
      io_, clock_, metrics_, *store_,
      ApiNeighbours{[this] { return api_accounts_json(); },
                    [this](const std::string& name) { return generation_.config.find_account(name); },
                    [this](const std::string& account) {
                      reload_demands();
                      poller_->wake(account);
                    }});
  api_address_ = api_->listen(config);  // throws: the caller refuses to start
}

std::string Daemon::api_accounts_json() {
  const core::Timestamp now = clock_.now();
  std::string out;
  for (const auto& [name, account] : poller_->accounts()) {
    const auto& latest = account->watch.latest;
    const auto runway = runner_->runway(name, now);
    std::string rules;
    for (const auto& rule : generation_.config.rules) {
      if (rule.account != name) continue;
      const core::RuleState state = runner_->state(rule.name);
      rules += fmt::format("{}{{\"name\":{},\"condition\":{},\"state\":{},\"since\":{}}}", rules.empty() ? "" : ",",
                           json_string(rule.name), json_string(core::to_string(rule.when.kind)),
                           json_string(core::to_string(state.phase)),
                           optional_time(state.phase == core::RulePhase::firing ? state.fired_at : state.condition_since));
    }
    std::string runway_json = "null";
    if (runway && runway->enough_data) {
      runway_json = fmt::format(
          "{{\"seconds\":{},\"burn_per_hour_minor\":{}}}",
          runway->runway ? std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*runway->runway).count())
                         : "null",
          runway->burn_per_hour_minor);
    }
    out += fmt::format(
        "{}{{\"name\":{},\"provider\":{},\"currency\":{},\"balance_minor\":{},\"balance\":{},\"observed_at\":{},"
        "\"fresh\":{},\"consecutive_failures\":{},\"polled_here\":{},\"runway\":{},\"rules\":[{}]}}",
        out.empty() ? "" : ",", json_string(name), json_string(account->config.provider),
        json_string(account->config.currency.code()), latest ? std::to_string(latest->balance.minor()) : "null",
        latest ? json_string(core::format_decimal(latest->balance)) : "null",
        optional_time(latest ? std::optional(latest->at) : std::nullopt),
        poller_->fresh_latest(name, now) ? "true" : "false", account->watch.consecutive_failures,
        owns(name) ? "true" : "false", runway_json, rules);
  }
  return "[" + out + "]";
}

}  // namespace topupd::app
