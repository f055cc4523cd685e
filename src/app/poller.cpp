// The poller: see poller.hpp.
#include "poller.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "provider_call.hpp"
#include "topupd/core/schedule.hpp"

namespace topupd::app {

using adapters::field;
using adapters::FailureKind;
using adapters::ProviderError;

Poller::Poller(asio::io_context& io, const core::Clock& clock, core::Random& random, adapters::Metrics& metrics,
               TopUpExecutor& executor, RuleRunner& runner)
    : io_(io), clock_(clock), random_(random), metrics_(metrics), executor_(executor), runner_(runner),
      freshness_timer_(io) {}

void Poller::configure(const config::Config& config,
                       const std::map<std::string, std::shared_ptr<adapters::Provider>>& providers) {
  // Retire the old poll loops; a loop in the middle of a request finishes it and stops.
  std::map<std::string, std::shared_ptr<AccountRuntime>> previous = std::move(accounts_);
  accounts_.clear();
  for (auto& [name, account] : previous) {
    account->stopped = true;
    account->timer.cancel();
    account->deadline_timer.cancel();
  }
  const core::Timestamp now = clock_.now();
  const core::HistoryWindows windows(config.rules);
  for (const auto& account : config.accounts) {
    auto runtime = std::make_shared<AccountRuntime>(io_, account, providers.at(account.provider));
    if (auto it = previous.find(account.name); it != previous.end() &&
        it->second->config.provider == account.provider && it->second->config.id == account.id &&
        providers.at(account.provider) == it->second->provider) {
      runtime->watch = std::move(it->second->watch);
    } else {
      runtime->watch.name = account.name;
      runtime->watch.monitoring_since = now;
    }
    runtime->watch.poll_every = account.poll.every;
    runtime->watch.poll_timeout = account.poll.timeout;
    runtime->watch.history_window = windows.of(account.name);
    accounts_[account.name] = runtime;
  }
  by_id_.clear();
  by_provider_.clear();
  for (const auto& [name, runtime] : accounts_) {
    by_id_[{runtime->config.provider, runtime->config.id}].push_back(runtime.get());
    by_provider_[runtime->config.provider].push_back(runtime.get());
  }
  retire_schedules();
}

namespace {
const std::vector<AccountRuntime*> kNoAccounts;
}

const std::vector<AccountRuntime*>& Poller::accounts_at(const std::string& provider, const std::string& id) const {
  const auto it = by_id_.find({provider, id});
  return it == by_id_.end() ? kNoAccounts : it->second;
}

const std::vector<AccountRuntime*>& Poller::accounts_at(const std::string& provider) const {
  const auto it = by_provider_.find(provider);
  return it == by_provider_.end() ? kNoAccounts : it->second;
}

void Poller::start(const config::Config& config) {
  config_ = &config;
  for (auto& [name, runtime] : accounts_) {
    asio::co_spawn(io_, poll_loop(runtime), adapters::log_failure("poll loop for account " + name));
    asio::co_spawn(io_, deadline_loop(runtime), adapters::log_failure("rule deadlines of account " + name));
  }
  for (const auto& rule : config.rules) {
    if (rule.when.kind != core::Condition::Kind::schedule || !rule.enabled) continue;
    auto schedule = std::make_shared<ScheduleRuntime>(io_, rule.name);
    schedules_.push_back(schedule);
    asio::co_spawn(io_, schedule_loop(schedule), adapters::log_failure("schedule of rule " + rule.name));
  }
}

void Poller::start_freshness_pass() {
  asio::co_spawn(io_, freshness_loop(), adapters::log_failure("freshness checks"));
}

void Poller::wake_wall_clock_timers() {
  // Each sleeps for a wall-clock deadline turned into a monotonic wait when it was
  // armed; after a step that wait is wrong by the step (an hour back: an hour late).
  // Woken, each loop measures again from the new time.
  for (auto& [name, account] : accounts_) {
    runner_.recompute_deadlines(name, account->watch);
    account->armed_deadline = runner_.next_deadline(name);
    account->clock_stepped = true;
    account->deadline_timer.cancel();
  }
  for (auto& schedule : schedules_) schedule->timer.cancel();
}

void Poller::retire_schedules() {
  for (auto& schedule : schedules_) {
    schedule->stopped = true;
    schedule->timer.cancel();
  }
  schedules_.clear();
}

void Poller::stop() {
  stopping_ = true;
  freshness_timer_.cancel();
  retire_schedules();
  for (auto& [name, account] : accounts_) {
    account->stopped = true;
    account->timer.cancel();
    account->deadline_timer.cancel();
  }
}

void Poller::wake(const std::string& name) {
  const auto it = accounts_.find(name);
  if (it != accounts_.end()) wake(*it->second);
}

void Poller::wake(AccountRuntime& account) {
  // Already woken: its loop polls again before it sleeps, whether it is polling now or
  // its timer's cancellation is on its way.
  if (account.stopped || account.wake_requested || account.watch.consecutive_failures > 0) return;
  account.wake_requested = true;
  account.timer.cancel();
}

const core::AccountWatch* Poller::watch(const std::string& name) const {
  const auto it = accounts_.find(name);
  return it == accounts_.end() ? nullptr : &it->second->watch;
}

asio::awaitable<void> Poller::poll_loop(std::shared_ptr<AccountRuntime> account) {
  const auto& poll = account->config.poll;
  bool first = true;
  while (!account->stopped) {
    account->wake_requested = false;  // this poll answers every request made so far
    // Another instance's account is not asked for here: a gateway sees one poller.
    if (owned(account->config.name)) co_await poll_once(*account);
    if (account->stopped) break;
    if (account->wake_requested) continue;  // a webhook arrived while polling
    const core::Duration delay =
        account->watch.consecutive_failures > 0
            ? core::failure_backoff(poll.every, poll.max_backoff, account->watch.consecutive_failures,
                                    poll.jitter_percent, random_.next())
        : first ? core::first_delay(poll.every, poll.jitter_percent, random_.next())
                : core::jittered(poll.every, poll.jitter_percent, random_.next());
    first = false;
    account->timer.expires_after(delay);
    const core::MonotonicTime due = clock_.monotonic() + delay;
    auto [error] = co_await account->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error && (account->stopped || !account->wake_requested)) break;  // retired by a reload or shutdown
    // How late the poll starts: near zero unless the event loop is overloaded.
    if (!error) metrics_.observe_poll_lateness(clock_.monotonic() - due);
  }
}

asio::awaitable<void> Poller::poll_once(AccountRuntime& account) {
  const std::string& name = account.config.name;
  // Timed finer than the clock's milliseconds: loopback and nearby gateways answer in less.
  const core::MonotonicTime started = clock_.monotonic();
  // The observation is dated when the balance was asked for, not when the answer came:
  // a top-up that ended after this instant may be missing from it (core::ended_after).
  const core::Timestamp asked = clock_.now();
  // poll.timeout bounds the exchange with the gateway. A read waiting for a connection
  // slot behind the provider's rate limit waits up to a poll interval (at least the
  // timeout) and then fails as "queued", not as the gateway's timeout.
  const config::PollConfig& poll = account.config.poll;
  const auto deadline =
      std::make_shared<CallDeadline>(account.timer.get_executor(), poll.timeout, std::max(poll.every, poll.timeout));
  // Named, not a temporary: GCC 12 destroys temporaries inside co_await expressions twice.
  const adapters::BalanceQuery query{account.config.id, account.config.balance, account.config.currency,
                                     deadline->queue_hook()};
  auto call = account.provider->balance(query);
  auto result = co_await bounded(std::move(call), deadline, FailureKind::retryable);
  metrics_.observe_poll_duration(account.config.provider, clock_.monotonic() - started);
  if (account.stopped) co_return;

  if (result && !(result->currency() == account.config.currency)) {
    result = ProviderError{FailureKind::not_retryable, "currency_mismatch",
                           fmt::format("provider reported {} for a {} account",
                                       result->currency().code(), account.config.currency.code())};
  }
  if (!result) {
    core::record_poll_failure(account.watch);
    metrics_.count_poll_error(name, result.error().reason);
    metrics_.set_balance_stale(name, true);
    const auto& latest = account.watch.latest;
    spdlog::warn("balance poll failed: {} account={} reason={} consecutive_failures={}{}",
                 result.error().message, field(name), result.error().reason, account.watch.consecutive_failures,
                 latest ? " last_success=" + core::format_rfc3339(latest->at) : "");
    co_return;
  }
  const core::Observation observation{name, *result, asked};
  const bool runway_sampled = core::record_observation(account.watch, observation);
  if (runway_sampled) runner_.export_runway(name, observation.at);
  metrics_.set_polled(name, observation.balance, observation.at);
  if (spdlog::should_log(spdlog::level::debug)) {  // the arguments cost more than the poll's own work
    spdlog::debug("balance account={} balance={}", field(name), field(core::format_human(observation.balance)));
  }

  // Known top-ups first: an unknown outcome is looked up before anything new starts.
  co_await executor_.reconcile(name);
  if (account.stopped || stopping_) co_return;
  executor_.observed(name, observation);
  const std::string every_rule;
  co_await evaluate(account, observation.at, Trigger::poll, every_rule);
}

std::optional<core::Observation> Poller::fresh_latest(const std::string& name, core::Timestamp now) const {
  auto it = accounts_.find(name);
  return it == accounts_.end() ? std::nullopt : core::fresh_latest(it->second->watch, now);
}

asio::awaitable<void> Poller::evaluate(AccountRuntime& account, core::Timestamp now, Trigger trigger,
                                       const std::string& only_rule) {
  if (!owned(account.config.name)) co_return;
  co_await runner_.evaluate(account.config, account.watch, now, trigger, only_rule);
  if (!account.stopped && trigger != Trigger::schedule) arm_deadline(account);
}

void Poller::arm_deadline(AccountRuntime& account) {
  const std::optional<core::Timestamp> earliest = runner_.next_deadline(account.config.name);
  // The loop sleeps until the armed deadline and then asks again, so only an earlier
  // one needs to wake it.
  const bool earlier = earliest && (!account.armed_deadline || *earliest < *account.armed_deadline);
  account.armed_deadline = earliest;
  if (earlier) account.deadline_timer.cancel();
}

asio::awaitable<void> Poller::deadline_loop(std::shared_ptr<AccountRuntime> account) {
  runner_.recompute_deadlines(account->config.name, account->watch);
  arm_deadline(*account);
  while (!account->stopped && !stopping_) {
    const std::optional<core::Timestamp> deadline = account->armed_deadline;
    if (deadline) {
      account->deadline_timer.expires_after(std::max(core::Duration(0), *deadline - clock_.now()));
    } else {
      account->deadline_timer.expires_at(asio::steady_timer::time_point::max());
    }
    auto [error] = co_await account->deadline_timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (account->stopped || stopping_) co_return;
    if (error || !account->armed_deadline) continue;  // re-armed earlier: sleep until the new one
    const core::Timestamp due = *account->armed_deadline;
    const core::Timestamp now = clock_.now();
    if (now < due) continue;  // woke early (the wall clock was set back), or moved later
    // Judged at the instant it came due, as `simulate` does, not whenever the loop woke;
    // but after the wall clock stepped, once, now — a step forwards would otherwise be
    // judged at every instant it skipped, repeating an alert hundreds of times.
    const core::Timestamp at = account->clock_stepped ? now : due;
    account->clock_stepped = false;
    const std::string every_rule;
    co_await evaluate(*account, at, Trigger::deadline, every_rule);
    if (account->armed_deadline && *account->armed_deadline <= at) {
      // Nothing at this instant changed what is due: never look at it twice.
      runner_.passed(account->config.name, at);
      account->armed_deadline = runner_.next_deadline(account->config.name);
    }
  }
}

asio::awaitable<void> Poller::schedule_loop(std::shared_ptr<ScheduleRuntime> schedule) {
  while (!schedule->stopped) {
    const core::Rule* rule = runner_.find(schedule->rule);
    if (!rule || !rule->when.schedule) co_return;
    // The next due time after now — and after the last one judged, which a clock set
    // back would otherwise bring round again.
    const core::Timestamp now = clock_.now();
    const auto due = core::next_due(*rule->when.schedule, config_->zone, std::max(now, schedule->judged.value_or(now)));
    if (!due) {
      spdlog::warn("schedule never comes due rule={} schedule={}", field(rule->name), field(rule->when.schedule->text));
      co_return;
    }
    spdlog::debug("next scheduled run rule={} at={}", field(rule->name), core::format_rfc3339(*due));
    schedule->timer.expires_after(std::max(*due - now, core::Duration::zero()));
    co_await schedule->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (schedule->stopped) co_return;
    // Woken before it came due (the wall clock was set back): measure again. Woken by a
    // step forwards past it: it is due now, once — a day is not skipped, and the due
    // times the step passed over come to this one.
    if (clock_.now() < *due) continue;
    schedule->judged = *due;
    const std::string rule_name = schedule->rule;
    const std::string account_name = rule->account;
    auto account = accounts_.find(account_name);
    if (account == accounts_.end()) continue;
    const std::shared_ptr<AccountRuntime> keep = account->second;
    // Whether the balances are fresh enough is the rule's to judge (it says why not).
    co_await evaluate(*keep, *due, Trigger::schedule, rule_name);
  }
}

asio::awaitable<void> Poller::freshness_loop() {
  // Stale conditions change with time alone, so they are checked every second rather
  // than only when a poll answers (a poll that hangs answers late). Each round also
  // notices the wall clock stepping (an operator, a VM resumed, NTP after a long
  // outage): intervals keep to the monotonic clock, but schedules, daily limits and
  // signature tolerances follow the wall clock, so the step is logged and counted.
  core::Timestamp wall_before = clock_.now();
  core::MonotonicTime steady_before = clock_.monotonic();
  while (!stopping_) {
    const core::Timestamp now = clock_.now();
    const core::MonotonicTime steady = clock_.monotonic();
    if (auto step = core::wall_clock_step(wall_before, steady_before, now, steady, kClockStep)) {
      metrics_.count_clock_jump(step->count() > 0);
      spdlog::warn("the wall clock stepped {} by {}: schedules, daily limits and webhook tolerances follow the new "
                   "time; intervals do not",
                   step->count() > 0 ? "forwards" : "backwards", core::format_duration(step->count() > 0 ? *step : -*step));
      if (clock_stepped_) clock_stepped_();  // rule states as of the new time, first
      wake_wall_clock_timers();
    }
    wall_before = now;
    steady_before = steady;
    executor_.catch_up_journal();
    executor_.expire_verifications(now);
    executor_.watch_stuck(now);
    executor_.forget_old_top_ups(now);
    for (const auto& [name, account] : accounts_) {
      if (owned(name)) metrics_.set_balance_stale(name, !fresh_latest(name, now));
    }
    freshness_timer_.expires_after(std::chrono::seconds(1));
    auto [error] = co_await freshness_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error) co_return;
  }
}

}  // namespace topupd::app
