// Command-line entry: parses arguments and dispatches to the commands.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "notify_test.hpp"
#include "sandbox.hpp"
#include "simulate.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "topupd/adapters/store/migrate.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/app/app.hpp"
#include "topupd/config/config.hpp"

namespace topupd::app {
namespace {

constexpr const char* kUsage =
    "topupd keeps payment-gateway and bank balances funded.\n"
    "\n"
    "Usage:\n"
    "  topupd [run] --config FILE   run the daemon (SIGHUP reloads, SIGTERM stops)\n"
    "  topupd check --config FILE   validate FILE; print every problem as FILE:LINE:COL\n"
    "  topupd simulate --config FILE --history CSV [--demands CSV] [--json] [--settle-delay DURATION]\n"
    "                               replay a balance history through the rules\n"
    "  topupd sandbox [--listen HOST:PORT] [--config FILE] [--tls-cert C --tls-key K] [--webhooks URL]\n"
    "                 [--log-requests]\n"
    "                               serve the stand-alone gateway sandbox\n"
    "  topupd notify-test --config FILE --notifier NAME\n"
    "                               send a test message through one notifier\n"
    "  topupd migrate --from sqlite:PATH --to postgres:DSN\n"
    "                               copy a SQLite store into an empty PostgreSQL one\n"
    "  topupd --version             print the version and git revision\n"
    "  topupd --help                print this help; COMMAND --help for one command\n";

constexpr const char* kRunHelp =
    "Usage: topupd [run] --config FILE\n"
    "\n"
    "Runs the daemon: polls every account, evaluates the rules, raises alerts and\n"
    "executes top-ups. Serves /metrics, /healthz and /readyz on http.listen.\n"
    "Signals: SIGHUP reloads FILE (a broken file is rejected and the running\n"
    "configuration kept), SIGTERM or SIGINT stop. Speaks sd_notify under systemd.\n"
    "Exit status: 0 after a clean stop, 1 when FILE is invalid or the daemon cannot start.\n";

constexpr const char* kCheckHelp =
    "Usage: topupd check --config FILE\n"
    "\n"
    "Validates FILE without starting anything. Every problem is printed on its own\n"
    "line as FILE:LINE:COL: FIELD: MESSAGE. Values that come from ${env:…}, ${file:…}\n"
    "or ${cred:…} references are never printed.\n"
    "Exit status: 0 when FILE is valid, 1 when it is not, 2 on a usage error.\n";

constexpr const char* kSimulateHelp =
    "Usage: topupd simulate --config FILE --history CSV [--demands CSV] [--json] [--settle-delay DURATION]\n"
    "\n"
    "Backtests the rules in FILE against a balance history recorded without topupd.\n"
    "CSV has the header timestamp,account,balance: RFC 3339 times with an offset, in\n"
    "non-decreasing order, and balances in major units of the account's currency\n"
    "(10000000 or 12.50). Each simulated top-up and sweep changes the later rows of the\n"
    "accounts involved after DURATION (default 0s). Prints a timeline and a summary per\n"
    "account, or with --json one JSON object {events, accounts, demands}.\n"
    "--demands CSV gives payouts announced ahead, as the API's demands, for cover_demands\n"
    "rules: the header account,reference,amount,due_at; the output says whether each was\n"
    "covered (the balance with topupd's movements at its due time) and when it was funded.\n"
    "Exit status: 0 on success, 1 when FILE or CSV is invalid (CSV errors name the line).\n";

constexpr const char* kNotifyTestHelp =
    "Usage: topupd notify-test --config FILE --notifier NAME\n"
    "\n"
    "Sends one test alert (rule topupd-notify-test, severity info) through the notifier\n"
    "NAME of FILE right away, without the outbox, and prints whether it was delivered,\n"
    "refused (a 4xx: fix the configuration) or failed (a timeout or 5xx: the daemon\n"
    "would retry). Exit status: 0 when delivered, 1 otherwise, 2 on a usage error.\n";

constexpr const char* kSandboxHelp =
    "Usage: topupd sandbox [--listen HOST:PORT] [--config FILE] [--tls-cert CERT --tls-key KEY]\n"
    "                      [--webhooks URL] [--log-requests]\n"
    "\n"
    "Serves simulated gateways at the same paths and in the same wire formats as\n"
    "Stripe, Xendit, Bank Indonesia SNAP, Midtrans Iris and Flip, plus a generic JSON\n"
    "API, over accounts whose balances drain. Point a provider's base_url at it.\n"
    "Without --config the built-in gateways and test credentials are used (see the\n"
    "README). /_sandbox/ledger lists every movement of money; POST /_sandbox/faults\n"
    "injects latency, errors, malformed bodies, resets and hangs; POST\n"
    "/_sandbox/accounts/ID changes an account. Default listen: 127.0.0.1:12111.\n"
    "--webhooks URL announces settled movements of every gateway that has no\n"
    "webhook_url of its own to URL/TYPE (e.g. http://127.0.0.1:9465/webhooks/stripe),\n"
    "signed as that gateway signs them; for Stripe also a balance.available naming the\n"
    "account whenever POST /_sandbox/accounts/ID sets its balance.\n"
    "--log-requests prints one line per request to stdout: its arrival time in\n"
    "microseconds since the epoch, method, path and Stripe-Account.\n"
    "Exit status: 0 after SIGTERM/SIGINT, 1 when FILE is invalid or the address cannot\n"
    "be bound, 2 on a usage error.\n";

constexpr const char* kMigrateHelp =
    "Usage: topupd migrate --from sqlite:PATH --to postgres:DSN\n"
    "\n"
    "Copies the SQLite store at PATH into the PostgreSQL database DSN (a libpq connection\n"
    "string or URI; empty, as in postgres:, takes PGHOST, PGUSER, PGPASSWORD and the rest\n"
    "from the environment, which keeps a password off the command line): the journal with\n"
    "every transition, rule states, settings, silences, the outbox and the webhook event\n"
    "ids already seen, in one transaction. Both are brought to this topupd's schema first.\n"
    "A target that holds anything is refused. Stop the daemon first; point its store at\n"
    "the target afterwards.\n"
    "Exit status: 0 when copied, 1 when refused or failed (nothing copied), 2 on a usage error.\n";

struct Arguments {
  std::string command = "run";
  std::string config_path;
  std::string history_path;
  std::string demands_path;
  bool json = false;
  bool log_requests = false;
  std::string settle_delay;
  std::string listen;
  std::string tls_cert;
  std::string tls_key;
  std::string webhooks;
  std::string notifier;
  std::string from;
  std::string to;
  bool help = false;
  std::string error;
};

Arguments parse(int argc, char** argv) {
  Arguments args;
  std::vector<std::string> words(argv + 1, argv + argc);
  std::size_t i = 0;
  if (i < words.size() && !words[i].empty() && words[i][0] != '-') args.command = words[i++];
  for (; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--help" || word == "-h") {
      args.help = true;
    } else if (word == "--version") {
      args.command = "version";
    } else if (word == "--config" || word == "-c") {
      if (i + 1 >= words.size()) {
        args.error = "--config needs a file name";
        return args;
      }
      args.config_path = words[++i];
    } else if (word == "--history" || word == "--demands" || word == "--settle-delay" || word == "--listen" ||
               word == "--tls-cert" ||
               word == "--tls-key" || word == "--webhooks" || word == "--notifier" || word == "--from" ||
               word == "--to") {
      if (i + 1 >= words.size()) {
        args.error = fmt::format("{} needs a value", word);
        return args;
      }
      std::string& target = word == "--history"        ? args.history_path
                            : word == "--demands"      ? args.demands_path
                            : word == "--settle-delay" ? args.settle_delay
                            : word == "--listen"       ? args.listen
                            : word == "--tls-cert"     ? args.tls_cert
                            : word == "--webhooks"     ? args.webhooks
                            : word == "--notifier"     ? args.notifier
                            : word == "--from"         ? args.from
                            : word == "--to"           ? args.to
                                                       : args.tls_key;
      target = words[++i];
    } else if (word == "--json") {
      args.json = true;
    } else if (word == "--log-requests") {
      args.log_requests = true;
    } else if (word.rfind("--config=", 0) == 0) {
      args.config_path = word.substr(std::strlen("--config="));
    } else {
      args.error = fmt::format("unknown argument '{}'", word);
      return args;
    }
  }
  return args;
}

void print_diagnostics(const std::vector<config::Diagnostic>& diagnostics) {
  for (const auto& diagnostic : diagnostics) std::fprintf(stderr, "%s\n", diagnostic.to_string().c_str());
  std::fprintf(stderr, "%zu problem%s found\n", diagnostics.size(), diagnostics.size() == 1 ? "" : "s");
}

int check(const std::string& path) {
  auto result = config::load_file(path, config::SecretSources::from_process());
  if (!result.config) {
    print_diagnostics(result.diagnostics);
    return 1;
  }
  const PinnedRead pinned = pin_and_check(*result.config);
  if (!pinned.diagnostics.empty()) {
    print_diagnostics(pinned.diagnostics);
    return 1;
  }
  for (const auto& warning : config::capacity_warnings(*result.config)) {
    std::fprintf(stderr, "warning: %s\n", warning.to_string().c_str());
  }
  std::printf("%s: ok (%zu providers, %zu accounts, %zu rules)\n", path.c_str(),
              result.config->providers.size(), result.config->accounts.size(),
              result.config->rules.size());
  if (pinned.pinned) {
    const config::Pins& pins = pinned.pinned->pins;
    std::printf("destinations pinned by %s (sha256 %s, %zu accounts, %zu bank accounts, %zu virtual-account "
                "prefixes)\n",
                pinned.pinned->path.c_str(), pinned.pinned->sha256.c_str(), pins.accounts.size(),
                pins.bank_accounts.size(), pins.virtual_accounts.size());
  }
  return 0;
}

int run(const std::string& path) {
  adapters::init_logging();
  auto result = config::load_file(path, config::SecretSources::from_process());
  if (!result.config) {
    print_diagnostics(result.diagnostics);
    spdlog::critical("cannot start: the configuration is invalid file={}", adapters::field(path));
    return 1;
  }
  PinnedRead pinned = pin_and_check(*result.config);
  if (!pinned.diagnostics.empty()) {
    print_diagnostics(pinned.diagnostics);
    spdlog::critical("cannot start: the pinned destinations refuse the configuration file={}", adapters::field(path));
    return 1;
  }
  try {
    Daemon daemon(std::move(*result.config), std::move(pinned.pinned));
    return daemon.run();
  } catch (const std::exception& e) {
    spdlog::critical("topupd failed: {}", e.what());
    return 1;
  }
}

int migrate_command(const Arguments& args) {
  if (args.from.rfind("sqlite:", 0) != 0 || args.from.size() == 7 || args.to.rfind("postgres:", 0) != 0) {
    std::fprintf(stderr, "topupd migrate: --from sqlite:PATH and --to postgres:DSN are required\n\n%s", kMigrateHelp);
    return 2;
  }
  try {
    const auto report = adapters::copy_sqlite_to_postgres(args.from.substr(7), args.to.substr(9));
    std::printf("copied %s into PostgreSQL:\n", args.from.substr(7).c_str());
    for (const auto& [table, rows] : report) std::printf("  %-20s %lld rows\n", table.c_str(), static_cast<long long>(rows));
    return 0;
  } catch (const adapters::StoreError& e) {
    std::fprintf(stderr, "topupd migrate: %s\n", e.what());
    return 1;
  }
}

int simulate_command(const Arguments& args) {
  if (args.history_path.empty()) {
    std::fprintf(stderr, "topupd simulate: --history CSV is required\n\n%s", kSimulateHelp);
    return 2;
  }
  SimulateOptions options{args.history_path, args.json, core::Duration(0), args.demands_path};
  if (!args.settle_delay.empty()) {
    auto delay = core::parse_duration(args.settle_delay);
    if (!delay.value) {
      std::fprintf(stderr, "topupd simulate: --settle-delay: %s\n", delay.error.c_str());
      return 2;
    }
    options.settle_delay = *delay.value;
  }
  auto result = config::load_file(args.config_path, config::SecretSources::from_process());
  if (!result.config) {
    print_diagnostics(result.diagnostics);
    return 1;
  }
  return simulate(*result.config, options);
}

}  // namespace

int main_with_args(int argc, char** argv) {
  // A file that may not grow (LimitFSIZE=, ulimit -f) must fail the write that would
  // grow it, as a full disk does — which the store and the log survive — rather than
  // kill the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  const Arguments args = parse(argc, argv);
  if (!args.error.empty()) {
    std::fprintf(stderr, "topupd: %s\n\n%s", args.error.c_str(), kUsage);
    return 2;
  }
  if (args.command == "version") {
    std::printf("topupd %s (git %s)\n", TOPUPD_VERSION, TOPUPD_GIT_REVISION);
    return 0;
  }
  if (args.command == "help") {
    std::printf("%s", kUsage);
    return 0;
  }
  if (args.command != "run" && args.command != "check" && args.command != "simulate" && args.command != "sandbox" &&
      args.command != "notify-test" && args.command != "migrate") {
    std::fprintf(stderr, "topupd: unknown command '%s'\n\n%s", args.command.c_str(), kUsage);
    return 2;
  }
  if (args.help) {
    std::printf("%s", args.command == "check"      ? kCheckHelp
                      : args.command == "simulate" ? kSimulateHelp
                      : args.command == "sandbox"  ? kSandboxHelp
                      : args.command == "notify-test" ? kNotifyTestHelp
                      : args.command == "migrate"  ? kMigrateHelp
                      : argc == 2                  ? kUsage
                                                   : kRunHelp);
    return 0;
  }
  if (args.command == "sandbox") {
    if (args.tls_cert.empty() != args.tls_key.empty()) {
      std::fprintf(stderr, "topupd sandbox: --tls-cert and --tls-key go together\n");
      return 2;
    }
    SandboxOptions options{args.listen.empty() ? "127.0.0.1:12111" : args.listen, args.config_path, args.tls_cert,
                           args.tls_key, args.webhooks, args.log_requests};
    return sandbox(options);
  }
  if (args.command == "migrate") return migrate_command(args);
  if (args.config_path.empty()) {
    std::fprintf(stderr, "topupd: --config FILE is required\n\n%s", kUsage);
    return 2;
  }
  if (args.command == "simulate") return simulate_command(args);
  if (args.command == "notify-test") {
    if (args.notifier.empty()) {
      std::fprintf(stderr, "topupd notify-test: --notifier NAME is required\n\n%s", kNotifyTestHelp);
      return 2;
    }
    auto result = config::load_file(args.config_path, config::SecretSources::from_process());
    if (!result.config) {
      print_diagnostics(result.diagnostics);
      return 1;
    }
    return notify_test(*result.config, args.notifier);
  }
  return args.command == "check" ? check(args.config_path) : run(args.config_path);
}

}  // namespace topupd::app
