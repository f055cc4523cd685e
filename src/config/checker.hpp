// The checks of a typed Config (validate.cpp: servers, providers, webhooks, accounts,
// notifiers; validate_rules.cpp: rules, conditions, alerts, top-ups). Pure: no I/O;
// locations come from the config's SourceMap.
//
// Private to src/config.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "topupd/config/config.hpp"

namespace topupd::config {

// Collects every problem of one config; run() returns them.
class Checker {
 public:
  explicit Checker(const Config& config) : config_(config) {}

  void problem(const std::string& field, std::string message);
  void currency_matches(const std::string& field, const std::optional<core::Money>& money,
                        const AccountConfig& account);
  std::vector<Diagnostic> run();

 private:
  // One per section, in the order of the file.
  void check_log_level();
  void check_store();
  void check_providers();
  void check_http_provider(const std::string& path, const ProviderConfig& provider);
  void check_webhooks();
  // A server that carries secrets (`section`.listen, .tls): TLS beyond loopback.
  void check_secret_listener(const std::string& section, const std::string& host, const std::string& cert,
                             const std::string& key, const std::string& what_crosses);
  void check_api();
  void check_console();
  void check_accounts();
  void check_notifiers();
  void check_rules();
  void check_condition(const std::string& path, const core::Rule& rule, const AccountConfig& account);
  void check_alert(const std::string& path, const core::AlertSpec& alert);
  void check_deposit(const std::string& path, const core::Rail& rail, const core::TopUpSpec& top_up,
                     const AccountConfig& account);
  void check_payout_source(const std::string& path, const core::DepositSpec& deposit, const ProviderConfig& gateway,
                           const AccountConfig& account);
  void check_rail(const std::string& path, const core::Rail& rail, const AccountConfig& account);
  void check_top_up(const std::string& path, const core::TopUpSpec& top_up,
                    const AccountConfig& account);
  void positive_amount(const std::string& field, const std::optional<core::Money>& money, const AccountConfig& account);
  // Rules that failed to load are not in config_.rules, so their list index is kept
  // beside them rather than recomputed.
  std::string rule_path(std::size_t loaded_index) const;
  // "; configured: a, b" for messages about an unknown name.
  std::string known_providers() const;
  std::string known_accounts() const;
  std::string known_notifiers() const;

  const Config& config_;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace topupd::config
