// The configuration: the user's contract, as plain structs.
//
// `load_file` reads one YAML file, expands `${env:NAME}`, `${file:PATH}` and
// `${cred:NAME}` (systemd credentials under $CREDENTIALS_DIRECTORY), converts every
// field to its type and then runs `validate`. It never stops at the first problem:
// every diagnostic names `FILE:LINE:COL`, the field path (`rules[0].when.below`) and
// what is wrong. A value that came from a secret reference is never printed.
//
// `validate` is pure: it checks references between sections, currencies and ranges on
// an already typed `Config`, reporting locations through the config's `SourceMap`.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/timezone.hpp"

namespace topupd::config {

struct SourceLocation {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

struct Diagnostic {
  std::string file;
  SourceLocation at;
  std::string field;    // e.g. "rules[0].when.below"; empty for file-level problems
  std::string message;
  // "FILE:LINE:COL: FIELD: MESSAGE"
  std::string to_string() const;
};

// Field path → where it was written.
class SourceMap {
 public:
  void record(const std::string& field, SourceLocation at) { locations_[field] = at; }
  // The location of `field`, or of its nearest recorded parent.
  SourceLocation find(const std::string& field) const;

 private:
  std::map<std::string, SourceLocation> locations_;
};

struct PollConfig {
  core::Duration every{std::chrono::seconds(30)};
  core::Duration timeout{std::chrono::seconds(5)};
  int jitter_percent = 10;
  core::Duration max_backoff{std::chrono::minutes(5)};
};

struct AccountConfig {
  std::string name;
  std::string provider;
  std::string id;                  // the account's id at the provider; defaults to `name`
  std::string balance = "available";
  core::Currency currency = *core::Currency::find("IDR");
  PollConfig poll;
};

// One simulated account of an embedded sandbox provider.
struct SandboxAccountConfig {
  std::string id;
  core::Money opening_balance;
  core::Money drain_per_minute;    // simulated payouts
  core::Money inflow_per_minute;   // simulated customer payments
  int noise_percent = 0;           // each period's movement varies by ± this
  int fail_percent = 0;            // share of balance reads that fail (simulated outage)
};

struct ProviderConfig {
  std::string name;
  std::string type;  // "sandbox"
  // sandbox:
  core::Duration settle_after{std::chrono::seconds(5)};
  std::uint64_t seed = 1;
  std::vector<SandboxAccountConfig> accounts;
  // Faults on top-up requests, to see how topupd handles unknown outcomes:
  int lose_answers_percent = 0;       // the movement is applied, then the answer is lost
  int fail_before_apply_percent = 0;  // a server error before anything is applied

  const SandboxAccountConfig* find_sandbox_account(const std::string& id) const;
  // Two configs that would build the same provider (so a reload can keep its state).
  bool same_settings(const ProviderConfig& other) const;
};

struct NotifierConfig {
  std::string name;
  std::string type;  // "log"
};

struct Config {
  std::string path;
  std::string timezone = "UTC";
  core::TimeZone zone = core::TimeZone::utc();  // `timezone`, loaded from the tz database
  bool dry_run = false;
  std::string log_level = "info";
  std::string control_socket;  // topupctl's Unix socket; empty: none
  std::string store_path;  // SQLite file; empty: kept in memory only (nothing survives a restart)
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 9464;
  std::vector<ProviderConfig> providers;
  std::vector<AccountConfig> accounts;
  std::vector<NotifierConfig> notifiers;
  std::vector<core::Rule> rules;
  std::vector<std::string> rule_paths;  // rule_paths[i]: where rules[i] was written ("rules[2]")
  SourceMap locations;

  const ProviderConfig* find_provider(const std::string& name) const;
  const AccountConfig* find_account(const std::string& name) const;
  const NotifierConfig* find_notifier(const std::string& name) const;
};

// Where `${env:…}`, `${file:…}` and `${cred:…}` come from; tests inject their own.
struct SecretSources {
  std::function<std::optional<std::string>(const std::string&)> env;
  std::function<std::optional<std::string>(const std::string&)> read_file;
  static SecretSources from_process();
};

struct LoadResult {
  std::optional<Config> config;          // set only when there are no diagnostics
  std::vector<Diagnostic> diagnostics;   // in file order
};

LoadResult load_file(const std::string& path, const SecretSources& secrets);
LoadResult load_string(const std::string& text, const std::string& path,
                       const SecretSources& secrets);

// Semantic checks on a typed config; pure.
std::vector<Diagnostic> validate(const Config& config);

extern const char* const kLogLevels[];

}  // namespace topupd::config
