// The poller: the part of the daemon that watches balances.
//
// It owns the accounts of the current config generation — each with its watch (what
// the polls have seen, core/rule_inputs.hpp), its poll timer and its rule-deadline
// timer — and the schedules' timers. A poll feeds the account's watch, has the
// executor reconcile the account's open top-ups and verify what the balance shows,
// then hands the account to the rule runner; a deadline or a schedule hands it over at
// the instant it came due (the instants the rule runner and cron name). Once a second
// it refreshes the freshness metric and lets verifications expire. With several
// instances it polls and evaluates only the accounts this one owns (`set_owner`).
//
// It may call: each account's provider (balance only, bounded by `poll.timeout` once the
// read holds its connection slot, and by `poll.every` — at least `poll.timeout` — while
// it waits for one), the rule runner, the top-up executor, the clock, randomness and
// metrics.
//
// Private to src/app.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "rule_runner.hpp"
#include "top_up_executor.hpp"
#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/providers/provider.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"
#include "topupd/core/rule_inputs.hpp"

namespace topupd::app {

namespace asio = boost::asio;

// One polled account of the current config generation.
struct AccountRuntime {
  AccountRuntime(asio::io_context& io, config::AccountConfig account,
                 std::shared_ptr<adapters::Provider> balance_provider)
      : config(std::move(account)), provider(std::move(balance_provider)), timer(io), deadline_timer(io) {}

  config::AccountConfig config;
  std::shared_ptr<adapters::Provider> provider;
  core::AccountWatch watch;  // what the polls have seen: latest, history, failures
  bool stopped = false;  // set when a reload or shutdown retires this loop
  bool wake_requested = false;  // poll again now (a webhook said something changed)
  asio::steady_timer timer;
  // Time-driven rule conditions (stale_for ages, `for` deadlines, repeats): the
  // earliest instant the rule runner named, and the timer for it.
  std::optional<core::Timestamp> armed_deadline;
  bool clock_stepped = false;  // since the last deadline was judged: judge the next at once
  asio::steady_timer deadline_timer;
};

class Poller {
 public:
  Poller(asio::io_context& io, const core::Clock& clock, core::Random& random, adapters::Metrics& metrics,
         TopUpExecutor& executor, RuleRunner& runner);

  // A new config generation's accounts: the old loops stop (one in the middle of a
  // request finishes it first); an account at the same provider under the same id
  // keeps what it has seen (still ready, same history, same staleness clock).
  void configure(const config::Config& config,
                 const std::map<std::string, std::shared_ptr<adapters::Provider>>& providers);
  // Starts the current generation's loops, once the rule runner has the same
  // generation. `config` must outlive the next configure.
  void start(const config::Config& config);
  // The once-a-second pass: freshness metric, verification deadlines, a journal that fell
  // behind. Runs until stop.
  void start_freshness_pass();
  void stop();

  // A webhook said something changed at `account`: poll it now. A failing gateway
  // keeps its backoff; webhooks do not turn it into a storm of polls.
  void wake(const std::string& account);
  void wake(AccountRuntime& account);
  // Several instances: whether this one owns an account now (leases.hpp); another
  // instance's accounts are neither polled nor evaluated here. Unset: all are ours.
  void set_owner(std::function<bool(const std::string& account)> owns) { owns_ = std::move(owns); }
  // Told when the once-a-second pass sees the wall clock step, before the poller's own
  // wall-clock timers are woken: others that keep or sleep until wall-clock instants.
  void on_clock_step(std::function<void()> stepped) { clock_stepped_ = std::move(stepped); }
  const core::AccountWatch* watch(const std::string& account) const;
  std::optional<core::Observation> fresh_latest(const std::string& account, core::Timestamp now) const;
  const std::map<std::string, std::shared_ptr<AccountRuntime>>& accounts() const { return accounts_; }
  // The accounts at `provider` under the provider's own id `id`, and all the provider's
  // accounts, by name: a webhook's look-ups, without a walk of every account. Valid
  // until the next configure.
  const std::vector<AccountRuntime*>& accounts_at(const std::string& provider, const std::string& id) const;
  const std::vector<AccountRuntime*>& accounts_at(const std::string& provider) const;

 private:
  // A rule on a schedule: its loop sleeps until the next due time.
  struct ScheduleRuntime {
    ScheduleRuntime(asio::io_context& io, std::string rule_name) : rule(std::move(rule_name)), timer(io) {}
    std::string rule;
    bool stopped = false;
    asio::steady_timer timer;
    std::optional<core::Timestamp> judged{};  // the last due time evaluated
  };

  asio::awaitable<void> poll_loop(std::shared_ptr<AccountRuntime> account);
  asio::awaitable<void> poll_once(AccountRuntime& account);
  asio::awaitable<void> deadline_loop(std::shared_ptr<AccountRuntime> account);
  // Hands the account to the rule runner and re-arms its deadline timer.
  asio::awaitable<void> evaluate(AccountRuntime& account, core::Timestamp now, Trigger trigger,
                                 const std::string& only_rule);
  // Arms the account's deadline timer for the rule runner's earliest deadline.
  void arm_deadline(AccountRuntime& account);
  asio::awaitable<void> schedule_loop(std::shared_ptr<ScheduleRuntime> schedule);
  // After a step of the wall clock: every timer armed for a wall-clock instant
  // (rule deadlines, schedules) measures its wait again.
  void wake_wall_clock_timers();
  // How far the wall clock may move against the monotonic clock before it counts as a step.
  static constexpr core::Duration kClockStep{std::chrono::seconds(5)};
  asio::awaitable<void> freshness_loop();
  void retire_schedules();

  asio::io_context& io_;
  const core::Clock& clock_;
  core::Random& random_;
  adapters::Metrics& metrics_;
  TopUpExecutor& executor_;
  RuleRunner& runner_;
  const config::Config* config_ = nullptr;
  std::map<std::string, std::shared_ptr<AccountRuntime>> accounts_;
  // accounts_at's indexes, by name in each; rebuilt by configure.
  std::map<std::pair<std::string, std::string>, std::vector<AccountRuntime*>> by_id_;
  std::map<std::string, std::vector<AccountRuntime*>> by_provider_;
  std::vector<std::shared_ptr<ScheduleRuntime>> schedules_;
  asio::steady_timer freshness_timer_;
  bool stopping_ = false;
  std::function<bool(const std::string& account)> owns_;
  std::function<void()> clock_stepped_;
  bool owned(const std::string& account) const { return !owns_ || owns_(account); }
};

}  // namespace topupd::app
