// Daemon lifecycle: configuration generations, signals, systemd, admin routes.
#include <unistd.h>

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
#include "topupd/adapters/sys/process_figures.hpp"
#include "topupd/adapters/sys/systemd.hpp"

namespace topupd::app {

using adapters::field;

namespace {
// How long SIGTERM waits for a money request already on the wire before exiting;
// within the 2 s an operator (and systemd's default) expects.
constexpr auto kStopDeadline = std::chrono::milliseconds(1500);
}  // namespace

Daemon::Daemon(config::Config config, std::optional<PinnedDestinations> pinned)
    : metrics_(TOPUPD_VERSION, TOPUPD_GIT_REVISION),
      generation_{std::move(config), {}, {}, {}},
      pinned_(std::move(pinned)),
      signals_(io_, SIGINT, SIGTERM, SIGHUP),
      watchdog_timer_(io_),
      stop_deadline_(io_),
      reading_(std::make_unique<asio::thread_pool>(1)) {}

int Daemon::run() {
  const bool on_postgres = !generation_.config.store_dsn.empty();
  // The DSN is a secret: logs name the engine, never it.
  const std::string store_path = on_postgres ? "postgres"
                                 : generation_.config.store_path.empty() ? ":memory:"
                                                                         : generation_.config.store_path;
  try {
    // PostgreSQL commits are durable when COMMIT returns: its Durability has nothing to flush.
    store_ = on_postgres ? adapters::open_pg_store(generation_.config.store_dsn)
                         : adapters::open_sqlite_store(store_path, true);
    durability_ = std::make_unique<adapters::Durability>(
        io_.get_executor(), on_postgres ? "" : store_path,
        [this](const char* operation) { metrics_.count_store_error(operation); });
    // The writer's own connection; an in-memory store has no second one to open.
    adapters::StoreWriter::Open open_writer;
    if (on_postgres) {
      open_writer = [dsn = generation_.config.store_dsn] { return adapters::open_pg_store(dsn); };
    } else if (store_path != ":memory:") {
      open_writer = [store_path] { return adapters::open_sqlite_writer(store_path); };
    }
    writer_ = std::make_unique<adapters::StoreWriter>(io_.get_executor(), *store_, open_writer);
    alerts_ = std::make_unique<AlertDispatcher>(
        io_, clock_, random_, metrics_, *store_, *store_, [this](const config::NotifierConfig& notifier) {
          return adapters::make_notifier(notifier, io_.get_executor(), clock_, random_);
        });
    suspensions_ = std::make_unique<RuleSuspensions>(
        clock_, metrics_, *store_,
        SuspensionNeighbours{
            [this](const std::string& name) { return runner_->find(name); },
            [this](const adapters::Notification& n, const std::vector<std::string>& to) {
              alerts_->enqueue(n, to);
              if (n.kind == core::DecisionKind::alert_firing) emit("rule.suspended", n);
            }});
    executor_ = std::make_unique<TopUpExecutor>(
        io_, clock_, metrics_, *store_, *durability_,
        ExecutorNeighbours{
            [this](const std::string& name) { return poller_->watch(name); },
            [this](const std::string& name) { return runner_->find(name); },
            [this](const adapters::Notification& n, const std::vector<std::string>& to) { alerts_->enqueue(n, to); },
            [this] { money_operation_finished(); },
            [this](const std::string& rule, const std::optional<std::string>& failure, const std::string& error) {
              suspensions_->outcome(rule, failure, error);
            },
            [this](const std::string& account) { poller_->wake(account); },
            [this](const std::string& type, const core::TopUpRecord& record, const std::string& reason) {
              emit_top_up(type, record, reason);
            },
            [this](const std::string& account) { return owns(account); }});
    runner_ = std::make_unique<RuleRunner>(
        metrics_, *store_, *executor_,
        RuleRunnerNeighbours{
            [this](const std::string& name) { return poller_->watch(name); },
            [this](const core::Decision& decision, const std::string& action, const std::string& key) {
              notify(decision, action, key);
            },
            [this](const std::string& rule) { return suspensions_->suspended(rule); },
            [this](const adapters::Notification& n, const std::vector<std::string>& to) { alerts_->enqueue(n, to); },
            [this](const std::string& account) { return demands_of(account); }});
    poller_ = std::make_unique<Poller>(io_, clock_, random_, metrics_, *executor_, *runner_);
    poller_->on_clock_step([this] {
      runner_->clamp_states(clock_.now());
      alerts_->wall_clock_stepped();
    });
    intake_ = std::make_unique<WebhookIntake>(
        io_, clock_, metrics_, *writer_,
        [this](const std::string& provider, const adapters::webhooks::Event& event) { apply_webhook(provider, event); });
    if (pinned_) {
      executor_->pin_destinations(pinned_->pins);
      const std::size_t listed =
          pinned_->pins.accounts.size() + pinned_->pins.bank_accounts.size() + pinned_->pins.virtual_accounts.size();
      metrics_.set_destinations(pinned_->path, pinned_->sha256, listed);
      spdlog::info("destinations pinned file={} sha256={} accounts={} bank_accounts={} virtual_accounts={}",
                   field(pinned_->path), pinned_->sha256, pinned_->pins.accounts.size(),
                   pinned_->pins.bank_accounts.size(), pinned_->pins.virtual_accounts.size());
      if (::geteuid() == 0) {
        spdlog::warn("topupd runs as root: the pinned destinations hold against edits of the config, not against "
                     "this process; run it as its own user (the systemd unit does)");
      }
    } else {
      spdlog::warn("destinations not pinned: no {} (see README, Destinations pinned outside the config)",
                   field(generation_.config.destinations_path));
    }
    // Leases first: the journal read next includes whatever the accounts' last owners wrote.
    if (on_postgres) start_leases();
    load_state();
    reload_demands();
  } catch (const adapters::StoreError& e) {
    spdlog::critical("cannot open the store: {} path={}", e.what(), field(store_path));
    return 1;
  }
  if (generation_.config.store_path.empty() && !on_postgres) {
    spdlog::warn("no store configured: the top-up journal and rule states live in memory and a restart "
                 "forgets them; set store.sqlite to a file");
  }
  try {
    install(first_generation(generation_.config, provider_factories()));
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {} webhooks.listen={}:{}", e.what(), generation_.config.webhooks.host,
                     generation_.config.webhooks.port);
    return 1;
  }
  announce_firing_to_alertmanagers();
  metrics_.set_config_reload(true, clock_.now());

  // Serializing /metrics reads only the metrics registry, which is safe from another thread.
  admin_ = std::make_unique<adapters::AdminServer>(io_, routes(), std::set<std::string>{"/metrics"});
  try {
    admin_address_ = admin_->listen(generation_.config.http_host, generation_.config.http_port);
  } catch (const std::exception& e) {
    spdlog::critical("cannot listen for the admin HTTP server: {} address={}:{}", e.what(),
                     generation_.config.http_host, generation_.config.http_port);
    return 1;
  }
  try {
    start_api();
  } catch (const std::exception& e) {
    spdlog::critical("cannot serve the API: {} address={}:{}", e.what(), generation_.config.api.host,
                     generation_.config.api.port);
    return 1;
  }
  try {
    start_console();
  } catch (const std::exception& e) {
    spdlog::critical("cannot serve the console: {} address={}:{}", e.what(), generation_.config.console.host,
                     generation_.config.console.port);
    return 1;
  }
  if (!generation_.config.control_socket.empty()) {
    control_ = std::make_unique<adapters::ControlServer>(io_, [this](const std::string& request) { return control(request); });
    try {
      control_->listen(generation_.config.control_socket);
    } catch (const std::exception& e) {
      spdlog::critical("cannot open the control socket: {} path={}", e.what(),
                       field(generation_.config.control_socket));
      return 1;
    }
  }
  spdlog::info("topupd {} started: serving /metrics, /healthz and /readyz address={} accounts={} "
               "rules={} dry_run={}",
               TOPUPD_VERSION, admin_address_, generation_.config.accounts.size(), generation_.config.rules.size(),
               generation_.config.dry_run);

  asio::co_spawn(io_, signal_loop(), adapters::log_failure("signal handling"));
  asio::co_spawn(io_, demands_loop(), adapters::log_failure("demands"));
  poller_->start_freshness_pass();
  if (auto interval = adapters::systemd::watchdog_interval()) {
    asio::co_spawn(io_, watchdog_loop(*interval), adapters::log_failure("systemd watchdog"));
  }
  adapters::systemd::notify("READY=1\nSTATUS=" + status_line());
  io_.run();
  if (leases_) leases_->leave();
  spdlog::info("topupd stopped");
  return 0;
}

ProviderFactories Daemon::provider_factories() {
  return {[this](const config::ProviderConfig& provider) {
            return adapters::make_http_provider(provider, io_.get_executor(), clock_, random_);
          },
          [this](const config::ProviderConfig& provider) {
            return std::make_shared<adapters::SandboxProvider>(provider, clock_);
          }};
}

void Daemon::install(Generation next) {
  // The receiver binds before anything else changes, so a bad address or TLS file
  // rejects the configuration and leaves the running one intact.
  intake_->configure(next.config);

  adapters::set_log_level(next.config.log_level);
  for (const auto& line : next.kept_until_restart) spdlog::warn("{}", line);
  for (const auto& warning : config::capacity_warnings(next.config)) spdlog::warn("{}", warning.to_string());

  poller_->configure(next.config, next.providers);

  std::set<std::string> account_names;
  for (const auto& account : next.config.accounts) account_names.insert(account.name);
  metrics_.retain_accounts(account_names);
  metrics_.set_rules(next.config.rules);

  generation_ = std::move(next);
  const config::Config& config = generation_.config;
  if (leases_) leases_->configure(config);
  else metrics_.set_ownership(1, config.accounts.size(), {}, 0);  // one instance owns everything
  executor_->configure(generation_.providers, config.dry_run, core::keep_top_ups_for(config.rules));
  alerts_->configure(config.notifiers);
  runner_->configure(config);
  suspensions_->configure(config.rules);
  if (console_) console_->configure(config.console);
  for (const auto& [name, state] : runner_->states()) metrics_.set_rule_state(name, state.phase);

  poller_->start(config);
}

void Daemon::load_state() {
  runner_->load_states(store_->load_rule_states(), clock_.now());
  const bool paused = store_->setting("paused") == "yes";
  executor_->set_paused(paused);
  alerts_->load_silences();
  metrics_.set_paused(paused);
  if (paused) spdlog::warn("paused (topupctl pause): no top-up will start until topupctl resume");
  // Open top-ups whatever their age, and those the rules may still look at (daily
  // limits, runway credits): what the executor keeps in memory as it runs.
  std::map<std::string, core::TopUpRecord> recent;
  const core::Timestamp since = clock_.now() - core::keep_top_ups_for(generation_.config.rules);
  for (auto& record : store_->top_ups_created_since(since)) {
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
  state_loaded_ = true;
  unread_.clear();  // accounts taken before it was read: read now
}

void Daemon::request_reload() {
  if (reloading_) {
    reload_again_ = true;
    return;
  }
  reloading_ = true;
  asio::co_spawn(io_, reload(), adapters::log_failure("config reload"));
}

asio::awaitable<void> Daemon::reload() {
  struct Done {  // on every way out, an exception's too: the next SIGHUP reloads again
    bool& reloading;
    ~Done() { reloading = false; }
  } done{reloading_};
  do {
    reload_again_ = false;
    adapters::systemd::notify("RELOADING=1");
    const std::string path = generation_.config.path;
    spdlog::info("reloading the configuration file={}", field(path));
    auto read = [path, secrets = config::SecretSources::from_process()]() -> asio::awaitable<config::LoadResult> {
      co_return config::load_file(path, secrets);
    };
    config::LoadResult result;
    try {
      result = co_await asio::co_spawn(*reading_, read, asio::use_awaitable);  // resumes on the event loop
    } catch (const std::exception& e) {
      result.diagnostics.push_back({path, {}, "", fmt::format("cannot read the configuration: {}", e.what())});
    }
    if (stopping_) break;
    apply_reload(std::move(result));
  } while (reload_again_ && !stopping_);
}

void Daemon::apply_reload(config::LoadResult result) {
  if (result.config && pinned_) {
    // The file read at start, not now: a reload cannot widen where money may go.
    result.diagnostics = config::check_destinations(*result.config, pinned_->pins, pinned_->path);
    if (!result.diagnostics.empty()) result.config.reset();
  }
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
    install(next_generation(generation_, std::move(*result.config), provider_factories()));
  } catch (const std::exception& e) {
    spdlog::error("config reload rejected; the previous configuration stays in force: {}", e.what());
    metrics_.set_config_reload(false, clock_.now());
    adapters::systemd::notify("READY=1\nSTATUS=config reload rejected; running the previous configuration");
    return;
  }
  metrics_.set_config_reload(true, clock_.now());
  spdlog::info("configuration reloaded accounts={} rules={}", generation_.config.accounts.size(),
               generation_.config.rules.size());
  adapters::systemd::notify("READY=1\nSTATUS=" + status_line());
}

std::string Daemon::status_line() const {
  return fmt::format("admin http on {}{}{}, watching {} accounts", admin_address_,
                     intake_ && !intake_->address().empty() ? ", webhooks on " + intake_->address() : "",
                     (api_address_.empty() ? "" : ", api on " + api_address_) +
                         (console_address_.empty() ? "" : ", console on " + console_address_),
                     generation_.config.accounts.size());
}

void Daemon::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  adapters::systemd::notify("STOPPING=1");
  spdlog::info("stopping: no new polls or top-ups");
  if (admin_) admin_->stop();
  if (control_) control_->stop();
  if (api_) api_->stop();
  if (console_) console_->stop();
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
      request_reload();
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
    return adapters::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                  metrics_.serialize() + adapters::process_metrics_text(adapters::read_process_figures())};
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
    for (const auto& [name, sandbox] : generation_.sandboxes) {
      body += (body.size() > 1 ? "," : "") + sandbox->ledger_json();
    }
    body += "]\n";
    return adapters::HttpResponse{200, "application/json", body};
  };
  return table;
}

}  // namespace topupd::app
