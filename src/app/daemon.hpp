// The running daemon: one io_context and the parts that share it — the poller, the
// rule runner, the top-up executor, the alert dispatcher — plus webhook intake, the
// admin endpoints, topupctl's commands, SIGHUP (reload: build and apply a new config
// generation, generation.hpp), SIGTERM/SIGINT (stop) and the systemd watchdog. See
// docs/ARCHITECTURE.md for the map.
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
#include <boost/asio/thread_pool.hpp>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/net/admin_server.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/net/control_server.hpp"
#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/adapters/providers/provider.hpp"
#include "topupd/adapters/providers/sandbox_provider.hpp"
#include "topupd/adapters/store/durability.hpp"
#include "topupd/adapters/store/leases.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/adapters/store/writer.hpp"
#include "topupd/adapters/sys/system_clock.hpp"
#include "topupd/adapters/webhooks/receiver.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/rule_inputs.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/topup.hpp"
#include "alert_dispatcher.hpp"
#include "control_request.hpp"
#include "api.hpp"
#include "console.hpp"
#include "destinations.hpp"
#include "leases.hpp"
#include "generation.hpp"
#include "poller.hpp"
#include "rule_suspensions.hpp"
#include "rule_runner.hpp"
#include "top_up_executor.hpp"
#include "webhook_intake.hpp"

namespace topupd::app {

namespace asio = boost::asio;

class Daemon {
 public:
  // `pinned`: the destinations file read at start (nullopt: nothing pinned); kept for
  // the daemon's life, reloads included.
  Daemon(config::Config config, std::optional<PinnedDestinations> pinned = std::nullopt);
  // Runs until SIGTERM/SIGINT; returns the process exit code.
  int run();

 private:
  // Lifecycle (app.cpp).
  // Hands a built generation to the parts; throws (changing nothing) when the webhook
  // receiver cannot take its new address.
  void install(Generation next);
  ProviderFactories provider_factories();
  // SIGHUP: reads the file again on reading_'s thread — seconds at tens of thousands of
  // accounts, which the event loop spends on polls and webhooks meanwhile — then installs
  // it here. A SIGHUP that comes during a reload asks for one more after it.
  void request_reload();
  asio::awaitable<void> reload();
  void apply_reload(config::LoadResult result);  // the file as read: installed, or rejected
  void shutdown();
  asio::awaitable<void> signal_loop();
  asio::awaitable<void> watchdog_loop(core::Duration interval);
  adapters::RouteTable routes();
  std::string status_line() const;  // systemd STATUS=
  // Loads rule states and recent top-ups from the store; marks requests that were on
  // the wire when topupd last stopped as unknown, so they are looked up first.
  void load_state();

  // topupctl commands: the line read by ctl::parse (control_request.hpp), then answered
  // here (control.cpp; the console's people and the audit log in control_users.cpp).
  std::string control(const std::string& request);
  std::string answer(const ctl::Status&);
  std::string answer(const ctl::Tickets&);
  std::string answer(const ctl::History&);
  std::string answer(const ctl::Decide&);
  std::string answer(const ctl::Pause&);
  std::string answer(const ctl::ResumeRule&);
  std::string answer(const ctl::Silence&);
  std::string answer(const ctl::Unsilence&);
  // What topupctl and the console both do, audited under `who`.
  void set_paused(bool pause, const std::string& who);
  std::optional<std::string> silence(adapters::SilenceKind kind, const std::string& target,
                                     const std::string& duration, const std::string& reason, const std::string& who);
  bool unsilence(const std::string& target, const std::string& who);
  // The web console (console_daemon.cpp): started after the API when `console:` is set;
  // the accounts and alerts as this instance sees them; the balance history it draws,
  // recorded here (one point per owned account per minute, thinned with age).
  void start_console();
  std::vector<ConsoleAccount> console_accounts();
  std::vector<ConsoleAlert> console_alerts();
  asio::awaitable<void> history_loop();
  // The backend's API (api_daemon.cpp): started after the admin server when `api:` is
  // set; the accounts as this instance sees them; topupctl token add|list|revoke.
  void start_api();
  std::string api_accounts_json();
  std::string answer(const ctl::TokenList&);
  std::string answer(const ctl::TokenAdd&);
  std::string answer(const ctl::TokenRevoke&);
  // The console's people and the audit log (control_users.cpp): topupctl user …, topupctl
  // audit; `audit` is how every actor — topupctl, the API, the console — writes the log.
  std::string answer(const ctl::UserList&);
  std::string answer(const ctl::UserAdd&);
  std::string answer(const ctl::UserPasswd&);
  std::string answer(const ctl::UserRole&);
  std::string answer(const ctl::UserRemove&);
  std::string answer(const ctl::UserTotp&);
  std::string answer(const ctl::Audit&);
  void audit(const std::string& actor, const std::string& action, const std::string& detail);
  // The demands cover_demands rules read: from the store at start, when the API changes
  // one, and every 15 s (another instance's API may have); none without such a rule.
  bool covers_demands() const;
  void reload_demands();
  std::span<const core::DueDemand> demands_of(const std::string& account) const;
  asio::awaitable<void> demands_loop();

  // Notifications (notify.cpp).
  // An alert decision of the rule runner, with what its top-up did, into the outbox.
  void notify(const core::Decision& decision, const std::string& action, const std::string& top_up_key);
  void announce_firing_to_alertmanagers();
  // An event for the backend's subscriptions that want `type` (notify/events.hpp);
  // nothing when none does.
  void emit(const std::string& type, adapters::Notification event);
  void emit_top_up(const std::string& type, const core::TopUpRecord& record, const std::string& reason);
  void money_operation_finished();
  // instances.cpp: leases on a PostgreSQL store, what happens when accounts change
  // hands, and the instances' part of topupctl status.
  void start_leases();
  bool owns(const std::string& account) const;
  void took_over(const std::vector<std::string>& accounts);
  void gave_up(const std::vector<std::string>& accounts);
  std::string instances_json() const;
  // The shared webhook inbox, read twice a second: each event is acted on by the owner
  // of what it names, which then takes it out.
  asio::awaitable<void> inbox_loop();
  void read_inbox();

  // An accepted webhook (webhooks.cpp): look its top-up up, poll its accounts now.
  // What applying a webhook did: the owner of the top-up or account it names acted on it;
  // another instance owns that; or it named neither, and this instance woke the polls of
  // the provider's accounts it owns.
  enum class WebhookEffect { acted, elsewhere, everywhere };
  WebhookEffect apply_webhook(const std::string& provider, const adapters::webhooks::Event& event);
  // The top-up an event of `provider` names (by key, the gateway's reference or a partner
  // reference), the first in journal order; null when it names none still in memory.
  const core::TopUpRecord* named_top_up(const std::string& provider, const adapters::webhooks::Event& event) const;

  asio::io_context io_;
  adapters::SystemClock clock_;
  adapters::SystemRandom random_;
  adapters::Metrics metrics_;
  Generation generation_;  // the configuration in force and its providers
  std::optional<PinnedDestinations> pinned_;  // read at start only
  std::unique_ptr<adapters::Store> store_;
  std::unique_ptr<adapters::Durability> durability_;  // flushes the store's commits to disk
  std::unique_ptr<adapters::StoreWriter> writer_;  // commits webhooks' event ids and the balance history
  std::unique_ptr<AlertDispatcher> alerts_;   // made once the store is open
  std::unique_ptr<TopUpExecutor> executor_;  // likewise
  std::unique_ptr<RuleRunner> runner_;       // likewise
  std::unique_ptr<RuleSuspensions> suspensions_;  // likewise
  std::unique_ptr<Poller> poller_;           // likewise
  std::unique_ptr<WebhookIntake> intake_;    // likewise
  // Several instances on PostgreSQL (instances.cpp): the leases, and accounts taken
  // over whose journal and rule states are not read yet (not acted on until they are).
  std::unique_ptr<adapters::LeaseStore> lease_store_;
  std::unique_ptr<Leases> leases_;
  std::set<std::string> unread_;
  std::map<std::int64_t, core::Timestamp> inbox_seen_;  // inbox events that named no owner, woken here once
  bool state_loaded_ = false;
  std::unique_ptr<adapters::AdminServer> admin_;
  std::unique_ptr<adapters::ControlServer> control_;
  std::unique_ptr<ApiServer> api_;
  std::string api_address_;  // empty: no API
  std::unique_ptr<ConsoleServer> console_;
  std::string console_address_;  // empty: no console
  std::map<std::string, std::int64_t> history_minute_;  // per account: the minute of its last recorded point
  std::vector<adapters::BalancePoint> history_pending_;
  std::map<std::string, std::vector<core::DueDemand>> demands_;  // by account, by due time
  std::string admin_address_;
  asio::signal_set signals_;
  asio::steady_timer watchdog_timer_;
  asio::steady_timer stop_deadline_;
  bool stopping_ = false;
  bool reloading_ = false;
  bool reload_again_ = false;
  // Where a reload reads the config file; last, so that it is joined before the
  // io_context it answers on is gone.
  std::unique_ptr<asio::thread_pool> reading_;
};

}  // namespace topupd::app
