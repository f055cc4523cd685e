// Shared pieces of the integration tests: a running topupd, its metrics, topupctl,
// and the one-account scenario most tests start from.
#pragma once

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "integration/process.hpp"

namespace topupd::testing {

// The values of every sample of `name` whose labels include every `labels` pair, in
// order. Only sample lines count (a line starting with the name), never # HELP or # TYPE.
inline std::vector<double> samples(const std::string& metrics, const std::string& name,
                                   const std::vector<std::string>& labels = {}) {
  std::vector<double> out;
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != '{' && next != ' ') continue;
    bool all = true;
    for (const auto& label : labels) all = all && line.find(label) != std::string::npos;
    if (all) out.push_back(std::stod(line.substr(line.rfind(' ') + 1)));
  }
  return out;
}

// The first of them, if any.
inline std::optional<double> sample(const std::string& metrics, const std::string& name,
                                    const std::vector<std::string>& labels = {}) {
  const auto all = samples(metrics, name, labels);
  if (all.empty()) return std::nullopt;
  return all.front();
}

// Their sum (0 without any).
inline double sum_of(const std::string& metrics, const std::string& name, const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (double value : samples(metrics, name, labels)) sum += value;
  return sum;
}

// The first capture group of every match of `pattern` in `text`.
inline std::vector<std::string> all_matches(const std::string& text, const std::regex& pattern) {
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), pattern); it != std::sregex_iterator(); ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

// How often `what` occurs in `text` (a log line said once, or more).
inline std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

inline std::vector<std::string> ledger_keys(const std::string& ledger) {
  return all_matches(ledger, std::regex(R"#("idempotency_key":"([^"]+)")#"));
}

// Runs topupctl against `socket`.
inline CommandResult topupctl(const std::string& socket, std::vector<std::string> args) {
  args.insert(args.begin(), {TOPUPCTL_BINARY, "--socket", socket});
  return run_command(args);
}

// An integer from the environment (a campaign's length, its seed), or `fallback`.
inline int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::atoi(value) : fallback;
}

// The environment that puts a child's wall clock under libfaketime's control file:
// `control_file` holds an offset ("+0", "-1h", "+3h"), read again every second; the
// monotonic clock is left alone. libfaketime comes before the sanitizer runtime in
// the library list, which ASan is told to accept.
inline std::map<std::string, std::string> faketime_env(const std::string& library, const std::string& control_file) {
  const char* asan = std::getenv("ASAN_OPTIONS");
  return {{"LD_PRELOAD", library},
          {"FAKETIME_TIMESTAMP_FILE", control_file},
          {"FAKETIME_CACHE_DURATION", "1"},
          {"DONT_FAKE_MONOTONIC", "1"},
          {"ASAN_OPTIONS", std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "verify_asan_link_order=0"}};
}

// A running topupd with its own directory (config, log, notify socket) and admin port.
// Killed when it goes out of scope unless the test stopped it.
class Daemon {
 public:
  explicit Daemon(const std::string& config, std::map<std::string, std::string> env = {},
                  std::optional<unsigned long> max_file_bytes = std::nullopt)
      : notify_(dir_.file("notify.sock")) {
    dir_.write("topupd.yaml", config);
    env["NOTIFY_SOCKET"] = notify_.path();
    process_ = std::make_unique<Process>(std::vector<std::string>{TOPUPD_BINARY, "--config", config_path()}, env,
                                         log_path(), "/dev/null", max_file_bytes);
  }

  // Waits for READY=1 and reads the admin port from STATUS.
  bool wait_ready() {
    auto ready = notify_.wait_for("READY=1", std::chrono::seconds(15));
    if (!ready) return false;
    std::smatch match;
    if (!std::regex_search(*ready, match, std::regex(R"(admin http on 127\.0\.0\.1:(\d+))"))) return false;
    port_ = std::stoi(match[1]);
    if (std::regex_search(*ready, match, std::regex(R"(webhooks on 127\.0\.0\.1:(\d+))"))) {
      webhook_port_ = std::stoi(match[1]);
    }
    if (std::regex_search(*ready, match, std::regex(R"(api on 127\.0\.0\.1:(\d+))"))) api_port_ = std::stoi(match[1]);
    if (std::regex_search(*ready, match, std::regex(R"(console on 127\.0\.0\.1:(\d+))"))) {
      console_port_ = std::stoi(match[1]);
    }
    return true;
  }

  // The webhook receiver's port (after wait_ready; 0 without a receiver).
  int webhook_port() const { return webhook_port_; }
  int admin_port() const { return port_; }
  // The backend API's port (after wait_ready; 0 without `api:`).
  int api_port() const { return api_port_; }
  // The console's port (after wait_ready; 0 without `console:`).
  int console_port() const { return console_port_; }

  HttpResult get(const std::string& path) const { return http_get("127.0.0.1", port_, path); }
  std::string metrics() const { return get("/metrics").body; }
  std::optional<double> metric(const std::string& name, const std::vector<std::string>& labels = {}) const {
    return sample(metrics(), name, labels);
  }
  std::string config_path() const { return dir_.file("topupd.yaml"); }
  std::string log_path() const { return dir_.file("topupd.log"); }
  std::string log() const { return read_file(log_path()); }
  void rewrite_config(const std::string& config) const { dir_.write("topupd.yaml", config); }
  Process& process() { return *process_; }
  NotifySocket& notify() { return notify_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  NotifySocket notify_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
  int webhook_port_ = 0;
  int api_port_ = 0;
  int console_port_ = 0;
};

// One sandbox payout account that starts below its IDR 95,000 threshold, and a rule
// that tops it up; the fields vary what the tests need.
struct PayoutScenario {
  std::string store;          // SQLite file, or empty for none
  std::string control;        // control socket, or empty for none
  std::string settle_after = "100ms";
  std::string drain_per_minute = "IDR 6_000";
  std::string poll_every = "100ms";
  std::vector<std::string> sandbox_fields;  // more sandbox fields, e.g. "seed: 11"
  std::string log_level = "debug";
  std::string top_up = R"({method: direct_debit, from_account: "1234567890", amount: {fixed: IDR 50_000}})";
};

inline std::string payout_config(const PayoutScenario& s) {
  std::string out = fmt::format("http: {{listen: 127.0.0.1:0}}\nlog: {{level: {}}}\n", s.log_level);
  if (!s.store.empty()) out += fmt::format("store: {{sqlite: \"{}\"}}\n", s.store);
  if (!s.control.empty()) out += fmt::format("control: {{socket: \"{}\"}}\n", s.control);
  std::string fields;
  for (const auto& field : s.sandbox_fields) fields += "    " + field + "\n";
  out += fmt::format(R"(providers:
  sim:
    type: sandbox
    settle_after: {}
{}    accounts:
      payout: {{balance: IDR 90_000, drain_per_minute: {}}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: {}, timeout: 1s, jitter: 0%}}}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    top_up: {}
)",
                     s.settle_after, fields,
                     s.drain_per_minute, s.poll_every, s.top_up);
  return out;
}

}  // namespace topupd::testing
