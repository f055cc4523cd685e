// The running daemon: one io_context that polls every account, evaluates rules,
// raises alerts, executes top-ups, serves the admin endpoints, and handles
// SIGHUP (reload), SIGTERM/SIGINT (stop) and the systemd watchdog.
//
// Private to src/app.
#pragma once

#include <deque>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/net/admin_server.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/net/control_server.hpp"
#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/adapters/providers/provider.hpp"
#include "topupd/adapters/providers/sandbox_provider.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/adapters/sys/system_clock.hpp"
#include "topupd/adapters/webhooks/receiver.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/rule_inputs.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/topup.hpp"
#include "alert_dispatcher.hpp"
#include "rule_runner.hpp"
#include "top_up_executor.hpp"

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
  asio::steady_timer deadline_timer;
};

// A rule on a schedule: its loop sleeps until the next due time.
struct ScheduleRuntime {
  explicit ScheduleRuntime(asio::io_context& io, std::string rule_name) : rule(std::move(rule_name)), timer(io) {}
  std::string rule;
  bool stopped = false;
  asio::steady_timer timer;
};

class Daemon {
 public:
  Daemon(config::Config config);
  // Runs until SIGTERM/SIGINT; returns the process exit code.
  int run();

 private:
  // Lifecycle (app.cpp).
  void apply(config::Config config);
  void reload();
  void shutdown();
  asio::awaitable<void> signal_loop();
  asio::awaitable<void> watchdog_loop(core::Duration interval);
  adapters::RouteTable routes();
  std::string status_line() const;  // systemd STATUS=
  // Loads rule states and recent top-ups from the store; marks requests that were on
  // the wire when topupd last stopped as unknown, so they are looked up first.
  void load_state();

  // topupctl commands (control.cpp).
  std::string control(const std::string& request);
  std::string control_status();
  std::string control_history(const std::vector<std::string>& args);
  std::string control_decide(const std::string& key, bool approve);
  std::string control_pause(bool pause);
  std::string control_silence(adapters::SilenceKind kind, const std::string& target, const std::string& duration,
                              const std::string& reason);
  std::string control_unsilence(const std::string& target);

  // The poller (poller.cpp): poll → the account's watch → reconcile → the rule runner;
  // each account's rule deadlines; the per-second freshness pass.
  asio::awaitable<void> poll_loop(std::shared_ptr<AccountRuntime> account);
  asio::awaitable<void> poll_once(AccountRuntime& account);
  asio::awaitable<void> deadline_loop(std::shared_ptr<AccountRuntime> account);
  // Hands the account to the rule runner and re-arms its deadline timer.
  asio::awaitable<void> evaluate(AccountRuntime& account, core::Timestamp now, Trigger trigger,
                                 const std::string& only_rule);
  // Arms the account's deadline timer for the rule runner's earliest deadline.
  void arm_deadline(AccountRuntime& account);
  asio::awaitable<void> schedule_loop(std::shared_ptr<ScheduleRuntime> schedule);
  asio::awaitable<void> staleness_loop();
  std::optional<core::Observation> fresh_latest(const std::string& account, core::Timestamp now) const;

  // Notifications (notify.cpp).
  // An alert decision of the rule runner, with what its top-up did, into the outbox.
  void notify(const core::Decision& decision, const std::string& action, const std::string& top_up_key);
  void announce_firing_to_alertmanagers();
  void money_operation_finished();

  // Webhooks (webhooks.cpp): check → remember the event id (batched, durable) →
  // answer → apply (look the top-up up and poll its account now).
  struct InboxEntry;
  void apply_webhook_server(const config::Config& config);
  asio::awaitable<adapters::net::ServerResponse> receive_webhook(adapters::net::ServerRequest request);
  asio::awaitable<std::optional<bool>> remember_webhook(adapters::WebhookEventRecord record);
  void flush_webhook_inbox();
  void apply_webhook(const std::string& provider, const adapters::webhooks::Event& event);
  void wake(AccountRuntime& account);

  asio::io_context io_;
  adapters::SystemClock clock_;
  adapters::SystemRandom random_;
  adapters::Metrics metrics_;
  config::Config config_;
  std::map<std::string, std::shared_ptr<adapters::Provider>> providers_;
  std::map<std::string, std::shared_ptr<adapters::SandboxProvider>> sandboxes_;
  std::map<std::string, std::shared_ptr<AccountRuntime>> accounts_;
  std::vector<std::shared_ptr<ScheduleRuntime>> schedules_;
  std::unique_ptr<adapters::Store> store_;
  std::unique_ptr<AlertDispatcher> alerts_;   // made once the store is open
  std::unique_ptr<TopUpExecutor> executor_;  // likewise
  std::unique_ptr<RuleRunner> runner_;       // likewise
  std::unique_ptr<adapters::AdminServer> admin_;
  std::unique_ptr<adapters::ControlServer> control_;
  std::unique_ptr<adapters::net::Server> webhook_server_;
  config::WebhooksConfig webhook_server_config_;  // what the running receiver was started with
  std::shared_ptr<const adapters::webhooks::Routes> webhook_routes_;
  std::string webhook_address_;
  std::vector<InboxEntry*> webhook_inbox_;  // event ids waiting for the next store write
  bool webhook_flush_posted_ = false;
  core::Timestamp webhook_events_pruned_at_{};
  std::string admin_address_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  asio::steady_timer staleness_timer_;
  asio::steady_timer stop_deadline_;
  bool stopping_ = false;
};

}  // namespace topupd::app
