// The daemon's side of the web console (console.hpp): starting it, the accounts and
// alerts as this instance sees them, and the balance history its charts draw — one
// point per owned account per minute, written every 10 s in a few statements, thinned
// hourly (every point of the last day; one per 15 minutes older; none older than
// console.history).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

namespace {

constexpr auto kHistoryWrite = std::chrono::seconds(10);
constexpr auto kFineFor = std::chrono::hours(24);
constexpr auto kCoarseStep = std::chrono::minutes(15);
constexpr auto kThinEvery = std::chrono::hours(1);

}  // namespace

void Daemon::start_console() {
  const config::ConsoleConfig& config = generation_.config.console;
  if (!config.enabled) return;
  ConsoleNeighbours neighbours;
  neighbours.accounts = [this] { return console_accounts(); };
  neighbours.alerts = [this] { return console_alerts(); };
  neighbours.silences = [this] { return alerts_->active_silences(clock_.now()); };
  neighbours.open_top_ups = [this] {
    std::vector<core::TopUpRecord> open;
    for (const auto& record : executor_->journal()) {
      if (!core::is_terminal(record.state)) open.push_back(record);
    }
    return open;
  };
  neighbours.decide = [this](const std::string& key, bool approve, const std::string& who, const std::string& how) {
    return executor_->decide(key, approve, who, how);
  };
  neighbours.silence = [this](adapters::SilenceKind kind, const std::string& target, const std::string& duration,
                              const std::string& reason, const std::string& who) {
    return silence(kind, target, duration, reason, who);
  };
  neighbours.unsilence = [this](const std::string& target, const std::string& who) { return unsilence(target, who); };
  neighbours.pause = [this](bool pause, const std::string& who) { set_paused(pause, who); };
  neighbours.paused = [this] { return executor_->paused(); };
  neighbours.rule = [this](const std::string& name) -> const core::Rule* {
    for (const auto& rule : generation_.config.rules) {
      if (rule.name == name) return &rule;
    }
    return nullptr;
  };
  neighbours.audit = [this](const std::string& actor, const std::string& action, const std::string& detail) {
    audit(actor, action, detail);
  };
  console_ = std::make_unique<ConsoleServer>(io_, clock_, metrics_, *store_, std::move(neighbours));
  console_address_ = console_->listen(config);  // throws: the caller refuses to start
  asio::co_spawn(io_, history_loop(), adapters::log_failure("balance history"));
}

std::vector<ConsoleAccount> Daemon::console_accounts() {
  const core::Timestamp now = clock_.now();
  std::vector<ConsoleAccount> out;
  for (const auto& [name, account] : poller_->accounts()) {
    ConsoleAccount view{name, account->config.provider, account->config.currency, std::nullopt, std::nullopt,
                        false, 0, std::nullopt, {}};
    if (const auto& latest = account->watch.latest) {
      view.balance = latest->balance;
      view.observed_at = latest->at;
    }
    view.fresh = poller_->fresh_latest(name, now).has_value();
    view.failed_polls = account->watch.consecutive_failures;
    if (const auto runway = runner_->runway(name, now); runway && runway->enough_data) view.runway = runway->runway;
    for (const auto& rule : generation_.config.rules) {
      if (rule.account != name) continue;
      const bool threshold = rule.when.kind == core::Condition::Kind::below ||
                             rule.when.kind == core::Condition::Kind::above;
      view.rules.push_back({rule.name, std::string(core::to_string(rule.when.kind)),
                            std::string(core::to_string(runner_->state(rule.name).phase)),
                            threshold ? std::optional(rule.when.threshold) : std::nullopt});
    }
    out.push_back(std::move(view));
  }
  return out;
}

std::vector<ConsoleAlert> Daemon::console_alerts() {
  std::vector<ConsoleAlert> out;
  for (const auto& rule : generation_.config.rules) {
    const core::RuleState state = runner_->state(rule.name);
    if (state.phase == core::RulePhase::inactive) continue;
    out.push_back({rule.name, rule.account, std::string(core::to_string(rule.when.kind)),
                   std::string(core::to_string(state.phase)),
                   state.phase == core::RulePhase::firing ? state.fired_at : state.condition_since});
  }
  return out;
}

asio::awaitable<void> Daemon::history_loop() {
  asio::steady_timer timer(io_);
  core::Timestamp thinned_at{};
  while (!stopping_) {
    timer.expires_after(kHistoryWrite);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
    for (const auto& [name, account] : poller_->accounts()) {
      const auto& latest = account->watch.latest;
      if (!latest || !owns(name)) continue;
      const std::int64_t minute =
          std::chrono::duration_cast<std::chrono::minutes>(latest->at.time_since_epoch()).count();
      auto [it, first] = history_minute_.try_emplace(name, minute);
      if (!first && it->second == minute) continue;
      it->second = minute;
      history_pending_.push_back({name, latest->at, latest->balance.minor()});
    }
    const core::Timestamp now = clock_.now();
    const bool thin = now - thinned_at >= kThinEvery;
    if (history_pending_.empty() && !thin) continue;
    if (thin) thinned_at = now;
    // On the store's writer: thousands of points, and thinning a long history, are
    // commits the event loop does not wait for.
    auto job = [points = history_pending_, thin, fine_since = now - kFineFor,
                keep_since = now - generation_.config.console.history_keep](adapters::Store& store) {
      if (!points.empty()) store.console().add_balance_points(points);
      return thin ? store.console().thin_balance_history(fine_since, kCoarseStep, keep_since) : std::int64_t{0};
    };
    try {
      const std::int64_t dropped = co_await writer_->write(std::move(job));
      history_pending_.clear();
      if (dropped > 0) spdlog::debug("balance history thinned points={}", dropped);
    } catch (const adapters::StoreError& e) {
      // The points wait for the next round; a chart misses nothing but the gap.
      metrics_.count_store_error("history");
      spdlog::warn("cannot write the balance history: {}", e.what());
      if (history_pending_.size() > 100'000) history_pending_.clear();
    }
  }
}

}  // namespace topupd::app
