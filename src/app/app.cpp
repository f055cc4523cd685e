// Daemon lifecycle: configuration generations, signals, systemd, admin routes.
#include <csignal>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/notify/http_notifiers.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/providers/http_providers.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "topupd/adapters/sys/systemd.hpp"

namespace topupd::app {

using adapters::field;

namespace {
// How long SIGTERM waits for a money request already on the wire before exiting;
// within the 2 s an operator (and systemd's default) expects.
constexpr auto kStopDeadline = std::chrono::milliseconds(1500);
}  // namespace

Daemon::Daemon(config::Config config)
    : metrics_(TOPUPD_VERSION, TOPUPD_GIT_REVISION),
      config_(std::move(config)),
      signals_(io_, SIGINT, SIGTERM, SIGHUP),
      watchdog_timer_(io_),
      stop_deadline_(io_) {}

int Daemon::run() {
  const std::string store_path = config_.store_path.empty() ? ":memory:" : config_.store_path;
  try {
    store_ = adapters::open_sqlite_store(store_path);
    alerts_ = std::make_unique<AlertDispatcher>(
        io_, clock_, random_, metrics_, *store_, *store_, [this](const config::NotifierConfig& notifier) {
          return adapters::make_notifier(notifier, io_.get_executor(), clock_, random_);
        });
    executor_ = std::make_unique<TopUpExecutor>(
        io_, clock_, metrics_, *store_,
        ExecutorNeighbours{
            [this](const std::string& name) { return poller_->watch(name); },
            [this](const std::string& name) { return runner_->find(name); },
            [this](const adapters::Notification& n, const std::vector<std::string>& to) { alerts_->enqueue(n, to); },
            [this] { money_operation_finished(); }});
    runner_ = std::make_unique<RuleRunner>(
        metrics_, *store_, *executor_,
        RuleRunnerNeighbours{
            [this](const std::string& name) { return poller_->watch(name); },
            [this](const core::Decision& decision, const std::string& action, const std::string& key) {
              notify(decision, action, key);
            }});
    poller_ = std::make_unique<Poller>(io_, clock_, random_, metrics_, *executor_, *runner_);
    intake_ = std::make_unique<WebhookIntake>(
        io_, clock_, metrics_, *store_,
        [this](const std::string& provider, const adapters::webhooks::Event& event) { apply_webhook(provider, event); });
    load_state();
  } catch (const adapters::StoreError& e) {
    spdlog::critical("cannot open the store: {} path={}", e.what(), field(store_path));
    return 1;
  }
  if (config_.store_path.empty()) {
    spdlog::warn("no store configured: the top-up journal and rule states live in memory and a restart "
                 "forgets them; set store.sqlite to a file");
  }
  config::Config initial = config_;
  try {
    apply(std::move(initial));
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {} webhooks.listen={}:{}", e.what(), config_.webhooks.host, config_.webhooks.port);
    return 1;
  }
  announce_firing_to_alertmanagers();
  metrics_.set_config_reload(true, clock_.now());

  // Serializing /metrics reads only the registry, which prometheus-cpp locks.
  admin_ = std::make_unique<adapters::AdminServer>(io_, routes(), std::set<std::string>{"/metrics"});
  try {
    admin_address_ = admin_->listen(config_.http_host, config_.http_port);
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen for the admin HTTP server: {} address={}:{}", e.what(),
                     config_.http_host, config_.http_port);
    return 1;
  }
  if (!config_.control_socket.empty()) {
    control_ = std::make_unique<adapters::ControlServer>(io_, [this](const std::string& request) { return control(request); });
    try {
      control_->listen(config_.control_socket);
    } catch (const std::exception& e) {
      spdlog::critical("cannot open the control socket: {} path={}", e.what(), field(config_.control_socket));
      return 1;
    }
  }
  spdlog::info("topupd {} started: serving /metrics, /healthz and /readyz address={} accounts={} "
               "rules={} dry_run={}",
               TOPUPD_VERSION, admin_address_, config_.accounts.size(), config_.rules.size(),
               config_.dry_run);

  asio::co_spawn(io_, signal_loop(), adapters::log_failure("signal handling"));
  poller_->start_freshness_pass();
  if (auto interval = adapters::systemd::watchdog_interval()) {
    asio::co_spawn(io_, watchdog_loop(*interval), adapters::log_failure("systemd watchdog"));
  }
  adapters::systemd::notify("READY=1\nSTATUS=" + status_line());
  io_.run();
  spdlog::info("topupd stopped");
  return 0;
}

void Daemon::apply(config::Config config) {
  // Providers whose settings did not change are kept, with their state (a sandbox's
  // balances and ledger, an HTTP client's connections and SNAP token).
  std::map<std::string, std::shared_ptr<adapters::Provider>> providers;
  std::map<std::string, std::shared_ptr<adapters::SandboxProvider>> sandboxes;
  for (const auto& provider : config.providers) {
    const config::ProviderConfig* previous = config_.find_provider(provider.name);
    const bool unchanged = previous && previous->same_settings(provider) && providers_.count(provider.name);
    if (provider.type != "sandbox") {
      providers[provider.name] = unchanged ? providers_.at(provider.name)
                                           : adapters::make_http_provider(provider, io_.get_executor(), clock_, random_);
      continue;
    }
    if (unchanged && sandboxes_.count(provider.name)) {
      sandboxes[provider.name] = sandboxes_.at(provider.name);
    } else {
      sandboxes[provider.name] = std::make_shared<adapters::SandboxProvider>(provider, clock_);
    }
    providers[provider.name] = sandboxes[provider.name];
  }

  // The receiver binds before anything else changes, so a bad address or TLS file
  // rejects the configuration and leaves the running one intact.
  intake_->configure(config);

  adapters::set_log_level(config.log_level);

  poller_->configure(config, providers);

  std::set<std::string> account_names;
  for (const auto& account : config.accounts) account_names.insert(account.name);
  metrics_.retain_accounts(account_names);
  metrics_.set_rules(config.rules);

  if (admin_ && config.control_socket != config_.control_socket) {
    spdlog::warn("control.socket changed; the daemon keeps its socket until restart path={}",
                 field(config_.control_socket));
    config.control_socket = config_.control_socket;
  }
  if (admin_ && config.store_path != config_.store_path) {
    spdlog::warn("store.sqlite changed; the daemon keeps its store until restart path={}", field(config_.store_path));
    config.store_path = config_.store_path;
  }
  if (!config_.path.empty() &&
      (config.http_host != config_.http_host || config.http_port != config_.http_port) && admin_) {
    spdlog::warn("http.listen changed; the admin server keeps its address until restart address={}",
                 admin_address_);
  }
  providers_ = std::move(providers);
  sandboxes_ = std::move(sandboxes);
  executor_->configure(providers_, config.dry_run);
  alerts_->configure(config.notifiers);
  const std::string http_host = admin_ ? config_.http_host : config.http_host;
  const std::uint16_t http_port = admin_ ? config_.http_port : config.http_port;
  config_ = std::move(config);
  config_.http_host = http_host;
  config_.http_port = http_port;
  runner_->configure(config_);
  for (const auto& [name, state] : runner_->states()) metrics_.set_rule_state(name, state.phase);

  poller_->start(config_);
}

void Daemon::load_state() {
  runner_->load_states(store_->load_rule_states());
  const bool paused = store_->setting("paused") == "yes";
  executor_->set_paused(paused);
  alerts_->load_silences();
  metrics_.set_paused(paused);
  if (paused) spdlog::warn("paused (topupctl pause): no top-up will start until topupctl resume");
  // Open top-ups whatever their age, and the last two days' for daily limits and runway.
  std::map<std::string, core::TopUpRecord> recent;
  for (auto& record : store_->top_ups_created_since(clock_.now() - std::chrono::hours(48))) {
    recent.emplace(record.key, std::move(record));
  }
  for (auto& record : store_->open_top_ups()) recent.emplace(record.key, std::move(record));
  std::vector<core::TopUpRecord> records;
  for (auto& [key, record] : recent) records.push_back(std::move(record));
  std::sort(records.begin(), records.end(),
            [](const core::TopUpRecord& a, const core::TopUpRecord& b) { return a.created_at < b.created_at; });
  executor_->load(std::move(records));
  std::size_t open = 0;
  for (const auto& record : executor_->journal()) open += core::is_terminal(record.state) ? 0 : 1;
  spdlog::info("state loaded rules={} top_ups={} open_top_ups={}", runner_->states().size(), executor_->journal().size(),
               open);
}

void Daemon::reload() {
  adapters::systemd::notify("RELOADING=1");
  spdlog::info("reloading the configuration file={}", field(config_.path));
  auto result = config::load_file(config_.path, config::SecretSources::from_process());
  if (!result.config) {
    for (const auto& diagnostic : result.diagnostics) {
      spdlog::error("config reload rejected: {}", diagnostic.to_string());
    }
    spdlog::error("config reload rejected; the previous configuration stays in force problems={}",
                  result.diagnostics.size());
    metrics_.set_config_reload(false, clock_.now());
    adapters::systemd::notify("READY=1\nSTATUS=config reload rejected; running the previous configuration");
    return;
  }
  try {
    // Providers are built before anything else changes, so a failure here (an
    // unreadable CA bundle, an unusable key) leaves the running configuration intact.
    apply(std::move(*result.config));
  } catch (const std::exception& e) {
    spdlog::error("config reload rejected; the previous configuration stays in force: {}", e.what());
    metrics_.set_config_reload(false, clock_.now());
    adapters::systemd::notify("READY=1\nSTATUS=config reload rejected; running the previous configuration");
    return;
  }
  metrics_.set_config_reload(true, clock_.now());
  spdlog::info("configuration reloaded accounts={} rules={}", config_.accounts.size(), config_.rules.size());
  adapters::systemd::notify("READY=1\nSTATUS=" + status_line());
}

std::string Daemon::status_line() const {
  return fmt::format("admin http on {}{}, watching {} accounts", admin_address_,
                     intake_ && !intake_->address().empty() ? ", webhooks on " + intake_->address() : "",
                     config_.accounts.size());
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  adapters::systemd::notify("STOPPING=1");
  spdlog::info("stopping: no new polls or top-ups");
  if (admin_) admin_->stop();
  if (control_) control_->stop();
  if (intake_) intake_->stop();
  signals_.cancel();
  watchdog_timer_.cancel();
  if (poller_) poller_->stop();
  if (alerts_) alerts_->stop();
  if (!executor_ || executor_->requests_in_flight() == 0) {
    io_.stop();
    return;
  }
  // A top-up request is on the wire: give it a moment to answer so the journal knows
  // its outcome; otherwise it stays unknown and is looked up at the next start.
  spdlog::warn("waiting for top-up requests in flight count={}", executor_->requests_in_flight());
  stop_deadline_.expires_after(kStopDeadline);
  stop_deadline_.async_wait([this](boost::system::error_code) { io_.stop(); });
}

void Daemon::money_operation_finished() {
  if (stopping_) io_.stop();
}

asio::awaitable<void> Daemon::signal_loop() {
  while (!stopping_) {
    auto [error, signal] = co_await signals_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error) co_return;
    if (signal == SIGHUP) {
      reload();
    } else {
      spdlog::info("received {}", signal == SIGTERM ? "SIGTERM" : "SIGINT");
      shutdown();
    }
  }
}

asio::awaitable<void> Daemon::watchdog_loop(core::Duration interval) {
  // Sent from the io_context thread, so a stuck loop stops the pings and systemd
  // restarts the daemon.
  while (!stopping_) {
    adapters::systemd::notify("WATCHDOG=1");
    watchdog_timer_.expires_after(interval);
    auto [error] = co_await watchdog_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error) co_return;
  }
}

adapters::RouteTable Daemon::routes() {
  adapters::RouteTable table;
  table["/metrics"] = [this] {
    return adapters::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.serialize()};
  };
  table["/healthz"] = [] { return adapters::HttpResponse{200, "text/plain; charset=utf-8", "ok\n"}; };
  table["/readyz"] = [this] {
    std::string waiting;
    for (const auto& [name, account] : poller_->accounts()) {
      if (!account->watch.latest) waiting += (waiting.empty() ? "" : ", ") + name;
    }
    if (waiting.empty()) return adapters::HttpResponse{200, "text/plain; charset=utf-8", "ready\n"};
    return adapters::HttpResponse{503, "text/plain; charset=utf-8",
                                  "waiting for a first successful poll of: " + waiting + "\n"};
  };
  // The embedded sandboxes' own ledgers: what money actually moved, for the demo and
  // for tests that compare it with topupd's journal.
  table["/sandbox/ledger"] = [this] {
    std::string body = "[";
    for (const auto& [name, sandbox] : sandboxes_) {
      body += (body.size() > 1 ? "," : "") + sandbox->ledger_json();
    }
    body += "]\n";
    return adapters::HttpResponse{200, "application/json", body};
  };
  return table;
}

}  // namespace topupd::app
