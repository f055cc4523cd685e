// The daemon's side of the backend's API (api.hpp): starting it, the accounts as this
// instance sees them, topupctl's token commands (audited like API calls), and the
// demands that cover_demands rules read, kept in memory from the store.
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

namespace {

std::string failure(const std::string& message) {
  return fmt::format("{{\"ok\":false,\"error\":{}}}", json_string(message));
}

bool valid_token_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const unsigned char c : name) {
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

}  // namespace

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

std::string Daemon::control_token(const std::vector<std::string>& args) {
  adapters::ApiStore& api = store_->api();
  const core::Timestamp now = clock_.now();
  const std::string action = args.empty() ? "" : args[0];
  if (action == "list" && args.size() == 1) {
    std::string out;
    for (const auto& token : api.tokens()) {
      std::string scopes;
      for (const auto& scope : token.scopes) scopes += (scopes.empty() ? "" : ",") + json_string(scope);
      out += fmt::format("{}{{\"name\":{},\"scopes\":[{}],\"created_at\":{},\"last_used_at\":{},\"revoked_at\":{}}}",
                         out.empty() ? "" : ",", json_string(token.name), scopes,
                         json_string(core::format_rfc3339(token.created_at)), optional_time(token.last_used_at),
                         optional_time(token.revoked_at));
    }
    return fmt::format("{{\"ok\":true,\"tokens\":[{}]}}", out);
  }
  if (action == "add" && args.size() >= 3) {
    const std::string& name = args[1];
    if (!valid_token_name(name)) return failure("a token's name is 1 to 64 letters, digits and - _ .");
    std::vector<std::string> scopes;
    for (std::size_t i = 2; i < args.size(); ++i) {
      if (args[i] != "read" && args[i] != "demands") {
        return failure(fmt::format("unknown scope {}; expected read or demands", args[i]));
      }
      if (std::find(scopes.begin(), scopes.end(), args[i]) == scopes.end()) scopes.push_back(args[i]);
    }
    const std::string token = new_api_token();
    if (!api.add_token({name, api_token_hash(token), scopes, now})) {
      return failure(fmt::format("a token named {} exists (revoked names are not reused)", name));
    }
    std::string joined;
    for (const auto& scope : scopes) joined += (joined.empty() ? "" : ",") + scope;
    api.audit({now, "topupctl", "token add", fmt::format("{} scopes={}", name, joined)});
    spdlog::info("API token added name={} scopes={}", field(name), joined);
    return fmt::format("{{\"ok\":true,\"name\":{},\"token\":{}}}", json_string(name), json_string(token));
  }
  if (action == "revoke" && args.size() == 2) {
    if (!api.revoke_token(args[1], now)) return failure(fmt::format("no live token is named {}", args[1]));
    api.audit({now, "topupctl", "token revoke", args[1]});
    spdlog::info("API token revoked name={}", field(args[1]));
    return fmt::format("{{\"ok\":true,\"message\":{}}}",
                       json_string(fmt::format("token {} revoked: it opens nothing from now on", args[1])));
  }
  return failure("token takes: add NAME SCOPE…, list, or revoke NAME");
}

}  // namespace topupd::app
