// topupd's Prometheus metrics: one registry (registry.hpp), serialized for GET /metrics.
//
// Names follow Prometheus conventions: `topupd_` prefix, base units, `_total` on
// counters, HELP on every family, and only low-cardinality labels (account, rule,
// provider, notifier names from the config; never ids or amounts). What grows with
// the number of accounts is one gauge each (balance, runway, staleness, last poll)
// and a threshold per rule; latency histograms are per provider. Every counter whose
// label values the config names is present at 0 from the start, so rate() and
// increase() answer 0 rather than nothing.
// Amounts are exported in minor units of their currency (label `currency`):
// aggregate them only by currency.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/topup.hpp"

namespace topupd::adapters {

class Metrics {
 public:
  Metrics(const std::string& version, const std::string& revision);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The Prometheus text exposition format (version 0.0.4).
  // Safe to call from another thread while the event loop updates the series.
  std::string serialize() const;

  // A successful poll: the account's balance, the time of the poll, and not stale (one
  // look-up of the account's series for the three).
  void set_polled(const std::string& account, const core::Money& balance, core::Timestamp at);
  void set_balance_stale(const std::string& account, bool stale);
  void observe_poll_duration(const std::string& provider, std::chrono::nanoseconds duration);
  // How long after its scheduled time a poll started (all accounts together).
  void observe_poll_lateness(std::chrono::nanoseconds lateness);
  void count_poll_error(const std::string& account, std::string_view reason);
  // The runway a runway rule estimated for `account`; nullopt: not falling (+Inf).
  void set_runway(const std::string& account, std::optional<core::Duration> runway);
  // Drops every per-account series of accounts not in `keep` (after a reload).
  void retain_accounts(const std::set<std::string>& keep);

  // Replaces the threshold and rule-state series with those of `rules`, and makes
  // each rule's alert and top-up counters present (keeping the counts of rules that
  // stay; dropping those of rules that went).
  void set_rules(const std::vector<core::Rule>& rules);
  // The notifiers, and the providers whose webhooks are received (`receiving`: the
  // receiver runs): their counters at 0.
  void set_notifiers(const std::vector<std::string>& notifiers);
  void set_webhook_providers(bool receiving, const std::vector<std::string>& providers);
  void set_rule_state(const std::string& rule, core::RulePhase phase);
  void set_rule_suspended(const std::string& rule, bool suspended);
  // What is left of `rule`'s calendar cap `cap` (per_day, per_week, per_month).
  void set_cap_remaining(const std::string& rule, std::string_view cap, const core::Money& remaining);

  void count_alert(const std::string& rule, const std::string& severity);
  void count_not_reflected(const std::string& rule);
  void count_notification(const std::string& notifier, std::string_view outcome);
  void set_notifications_pending(const std::string& notifier, std::int64_t count);
  // A webhook delivery; `provider` is "-" when the path matched no endpoint.
  void count_webhook(const std::string& provider, std::string_view outcome);
  // The backend's API: calls by endpoint (accounts, top_ups, top_up, demands, demand,
  // other) and outcome (ok, unauthorized, forbidden, refused, unavailable); every pair
  // present at 0 once the API serves.
  void api_serving();
  void count_api_request(std::string_view endpoint, std::string_view outcome);
  // The console's sign-ins by outcome (ok, failed, locked: refused while locked, and each
  // lockout); every outcome present at 0 once the console serves.
  void console_serving();
  void count_console_login(std::string_view outcome);
  void count_top_up(const std::string& rule, core::TopUpMethod method, std::string_view outcome);
  void add_top_up_amount(const std::string& account, core::TopUpMethod method, const core::Money& amount);
  void set_top_ups_in_state(core::TopUpState state, std::int64_t count);

  void set_config_reload(bool successful, core::Timestamp at);
  // A store read or write failed; `operation` is "plan", "transition", "rule_state" or "load".
  void count_store_error(std::string_view operation);
  void set_paused(bool paused);
  // How many instances are alive, how many accounts this one owns, the epochs of the
  // leases it holds (several instances on PostgreSQL; series of accounts no longer held
  // are dropped), and how many accounts no live instance holds. On SQLite: 1, every
  // account, no epochs, 0.
  void set_ownership(std::size_t instances, std::size_t owned, const std::map<std::string, std::int64_t>& epochs,
                     std::size_t without_owner);
  void count_lease_renewal_failure();
  void count_clock_jump(bool forwards);
  // The pinned destinations file read at start (app/destinations.hpp).
  void set_destinations(const std::string& path, const std::string& sha256, std::size_t accounts);

 private:
  struct Families;
  std::unique_ptr<Families> families_;
};

}  // namespace topupd::adapters
