#include "topupd/adapters/metrics/metrics.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>

#include "topupd/adapters/metrics/registry.hpp"
#include "topupd/adapters/webhooks/receiver.hpp"

namespace topupd::adapters {
namespace {

using metrics::Family;
using metrics::Value;

// Prometheus samples are floating point by definition of the format; amounts are
// converted only here, at the edge (exact below 2^53 minor units).
double as_sample(std::int64_t value) { return static_cast<double>(value); }

double seconds_of(core::Duration duration) { return as_sample(duration.count()) / 1000.0; }

const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// The final outcomes a top-up is counted under: its terminal states, and what stops
// it before it is journalled.
constexpr std::string_view kTopUpOutcomes[] = {"succeeded", "failed", "rejected", "expired",
                                               "paused", "dry_run", "store_error", "unpinned"};
constexpr std::string_view kNotificationOutcomes[] = {"delivered", "rejected", "retry", "silenced"};

// A set of counters made present for what the config names; a new config keeps the
// counts of those it names again and drops the rest.
class PresentSeries {
 public:
  void replace(std::vector<std::pair<Family*, Value*>> wanted) {
    std::sort(wanted.begin(), wanted.end());
    for (const auto& old : current_) {
      if (!std::binary_search(wanted.begin(), wanted.end(), old)) old.first->remove(*old.second);
    }
    current_ = std::move(wanted);
  }

 private:
  std::vector<std::pair<Family*, Value*>> current_;
};

}  // namespace

struct Metrics::Families {
  metrics::Registry registry;
  Family& balance = registry.gauge(
      "topupd_balance", "Latest polled balance, in minor units of the currency label (aggregate only by currency)",
      {"account", "currency"});
  Family& threshold = registry.gauge(
      "topupd_threshold", "Balance below (or above) which a rule fires, in minor units of the currency label",
      {"rule", "account", "currency"});
  Family& rule_suspended = registry.gauge(
      "topupd_rule_suspended",
      "1 while a rule is suspended after consecutive failed top-ups (topupctl resume-rule lets it top up again)",
      {"rule"});
  Family& cap_remaining = registry.gauge(
      "topupd_top_up_cap_remaining",
      "What is left of a rule's calendar cap (per_day, per_week, per_month) in its current period, in minor "
      "units of the currency label",
      {"rule", "cap", "currency"});
  Family& runway = registry.gauge(
      "topupd_runway_seconds",
      "Estimated time until the balance runs out at the observed burn rate (over a runway rule's window, else "
      "the last hour); +Inf when not falling",
      {"account"});
  Family& last_successful_poll = registry.gauge("topupd_last_successful_poll_timestamp_seconds",
                                                "Unix time of the last successful balance poll", {"account"});
  Family& balance_stale = registry.gauge(
      "topupd_balance_stale",
      "1 while the account's balance is stale (its last poll failed or is overdue); no top-up acts on it",
      {"account"});
  Family& poll_duration = registry.histogram(
      "topupd_poll_duration_seconds", "Time taken by balance polls, successful or not, by provider", {"provider"},
      kLatencyBuckets);
  Family& poll_lateness = registry.histogram(
      "topupd_poll_lateness_seconds",
      "How long after its scheduled time each poll started; high when topupd is overloaded", {},
      {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  Family& poll_errors =
      registry.counter("topupd_poll_errors_total", "Failed balance polls by reason", {"account", "reason"});
  Family& rule_state = registry.gauge(
      "topupd_rule_state",
      "Always 1; one series per rule, labelled with the state it is in (inactive, pending, firing)",
      {"rule", "state"});
  Family& alerts = registry.counter("topupd_alerts_total", "Alerts that started firing", {"rule", "severity"});
  Family& not_reflected = registry.counter(
      "topupd_topups_not_reflected_total",
      "Top-ups reported succeeded whose amount did not show in the balance within verify.within", {"rule"});
  Family& notifications = registry.counter("topupd_notifications_total",
                                           "Notifications handed to notifiers, by outcome", {"notifier", "outcome"});
  Family& webhooks = registry.counter(
      "topupd_webhooks_total",
      "Webhook deliveries by provider and outcome (accepted, duplicate, bad_signature, stale, forbidden_ip, "
      "too_large, malformed, not_found)",
      {"provider", "outcome"});
  Family& api_requests = registry.counter(
      "topupd_api_requests_total",
      "Calls of the backend's API by endpoint and outcome (ok, unauthorized, forbidden, refused, unavailable)",
      {"endpoint", "outcome"});
  Family& console_logins = registry.counter(
      "topupd_console_logins_total",
      "Sign-ins to the console by outcome (ok, failed, locked: tried while locked, and each lockout)", {"outcome"});
  Family& notifications_pending = registry.gauge(
      "topupd_notifications_pending", "Messages in the outbox not yet delivered, by notifier", {"notifier"});
  Family& top_ups = registry.counter("topupd_topups_total", "Top-ups and sweeps by rule, method and final outcome",
                                     {"rule", "method", "outcome"});
  Family& top_up_amount = registry.counter(
      "topupd_topup_amount_minor_total", "Money moved by settled top-ups and sweeps, in minor units",
      {"account", "method"});
  Family& top_ups_in_state = registry.gauge("topupd_topups_in_state", "Top-ups in the journal by state", {"state"});
  Family& reload_successful = registry.gauge(
      "topupd_config_last_reload_successful", "1 if the last configuration load or reload succeeded, 0 if it was rejected");
  Family& reload_timestamp = registry.gauge("topupd_config_last_reload_success_timestamp_seconds",
                                            "Unix time of the last successful configuration load");
  Family& build_info =
      registry.gauge("topupd_build_info", "Always 1; labels carry the version and git revision", {"version", "revision"});
  Family& store_errors = registry.counter(
      "topupd_store_errors_total", "Failed reads or writes of the store; while writes fail no money is moved",
      {"operation"});
  Family& instances = registry.gauge(
      "topupd_instances", "Instances alive on the shared PostgreSQL store, as this one sees them (1 on SQLite)");
  Family& owned_accounts = registry.gauge(
      "topupd_owned_accounts", "Accounts whose lease this instance holds: it polls them and moves their money");
  Family& without_owner = registry.gauge(
      "topupd_accounts_without_owner",
      "Configured accounts no live instance holds the lease of, as this instance saw at its last lease round: nobody "
      "polls them or moves their money");
  Family& lease_epoch = registry.gauge(
      "topupd_lease_epoch", "The epoch of each account's lease this instance holds (grows with every change of owner)",
      {"account"});
  Family& lease_failures = registry.counter(
      "topupd_lease_renewal_failures_total",
      "Lease renewals that failed; an instance that cannot renew stops moving money before its leases run out");
  std::map<std::string, Value*> epoch_series;  // by account
  Family& clock_jumps = registry.counter(
      "topupd_clock_jumps_total",
      "Steps of the wall clock against the monotonic clock, by direction (forwards, backwards): calendars follow "
      "the new time, intervals do not",
      {"direction"});
  Family& paused = registry.gauge(
      "topupd_paused", "Whether top-ups are paused with topupctl pause, the kill switch (1) or allowed (0)");
  Family& destinations = registry.gauge(
      "topupd_destinations_info",
      "1 with the pinned destinations file read at start (path, sha256 of its bytes, and how many accounts it "
      "lists); absent when nothing is pinned",
      {"path", "sha256", "accounts"});

  // Series created per account, looked up by name once and then kept: a poll updates
  // them without building label sets; a reload removes those of retired accounts.
  struct AccountSeries {
    Value* balance = nullptr;
    std::string balance_currency;
    Value* last_poll = nullptr;
    Value* stale = nullptr;
    Value* runway = nullptr;
  };
  std::unordered_map<std::string, AccountSeries> accounts;
  std::unordered_map<std::string, metrics::Histogram*> poll_durations;  // by provider
  std::vector<Value*> threshold_series;
  std::map<std::pair<std::string, std::string>, Value*> cap_series;  // (rule, cap)
  std::map<std::string, Value*> suspended_series;                      // by rule
  std::map<std::string, core::RulePhase> rule_states;  // by rule: the state its one series names
  PresentSeries rule_counters;
  PresentSeries notifier_counters;
  PresentSeries webhook_counters;
  metrics::Histogram& lateness = poll_lateness.histogram({});

  AccountSeries& series(const std::string& account) { return accounts[account]; }

  static Value& once(Value*& slot, Family& family, const std::string& account) {
    if (!slot) slot = &family.value({account});
    return *slot;
  }

  void remove(const AccountSeries& s) {
    if (s.balance) balance.remove(*s.balance);
    if (s.last_poll) last_successful_poll.remove(*s.last_poll);
    if (s.stale) balance_stale.remove(*s.stale);
    if (s.runway) runway.remove(*s.runway);
  }
};

Metrics::Metrics(const std::string& version, const std::string& revision) : families_(std::make_unique<Families>()) {
  families_->build_info.value({version, revision}).set(1);
  for (auto state : core::kAllTopUpStates) set_top_ups_in_state(state, 0);
  families_->reload_successful.value({}).set(0);
  set_paused(false);
  families_->lease_failures.value({});
  families_->clock_jumps.value({"forwards"});
  families_->clock_jumps.value({"backwards"});
  // Present from the start, so rate() and increase() see the first error.
  for (const char* operation : {"plan", "transition", "rule_state", "webhook", "outbox", "silence", "control", "demands", "api", "approval", "console", "audit", "history", "flush", "checkpoint"}) {
    families_->store_errors.value({operation});
  }
}

Metrics::~Metrics() = default;

std::string Metrics::serialize() const { return families_->registry.serialize(); }

void Metrics::set_polled(const std::string& account, const core::Money& balance, core::Timestamp at) {
  auto& s = families_->series(account);
  const std::string_view currency = balance.currency().code();
  if (!s.balance || s.balance_currency != currency) {
    if (s.balance) families_->balance.remove(*s.balance);  // the account's currency changed
    s.balance_currency = std::string(currency);
    s.balance = &families_->balance.value({account, s.balance_currency});
  }
  s.balance->set(as_sample(balance.minor()));
  Families::once(s.last_poll, families_->last_successful_poll, account).set(seconds_of(at.time_since_epoch()));
  Families::once(s.stale, families_->balance_stale, account).set(0);
}

void Metrics::set_balance_stale(const std::string& account, bool stale) {
  auto& s = families_->series(account);
  Families::once(s.stale, families_->balance_stale, account).set(stale ? 1 : 0);
}

void Metrics::observe_poll_duration(const std::string& provider, std::chrono::nanoseconds duration) {
  auto& slot = families_->poll_durations[provider];
  if (!slot) slot = &families_->poll_duration.histogram({provider});
  slot->observe(std::chrono::duration<double>(duration).count());
}

void Metrics::observe_poll_lateness(std::chrono::nanoseconds lateness) {
  families_->lateness.observe(std::chrono::duration<double>(std::max(lateness, std::chrono::nanoseconds(0))).count());
}

void Metrics::count_poll_error(const std::string& account, std::string_view reason) {
  families_->poll_errors.value({account, reason}).add(1);
}

void Metrics::retain_accounts(const std::set<std::string>& keep) {
  std::erase_if(families_->accounts, [&](const auto& entry) {
    if (keep.count(entry.first)) return false;
    families_->remove(entry.second);
    return true;
  });
}

void Metrics::set_rules(const std::vector<core::Rule>& rules) {
  auto& f = *families_;
  for (auto* gauge : f.threshold_series) f.threshold.remove(*gauge);
  for (const auto& [rule, phase] : f.rule_states) f.rule_state.remove({rule, core::to_string(phase)});
  for (auto& [key, gauge] : f.cap_series) f.cap_remaining.remove(*gauge);
  f.cap_series.clear();
  for (auto& [rule, gauge] : f.suspended_series) f.rule_suspended.remove(*gauge);
  f.suspended_series.clear();
  f.threshold_series.clear();
  f.rule_states.clear();
  std::vector<std::pair<Family*, Value*>> counters;
  for (const auto& rule : rules) {
    if (rule.when.kind == core::Condition::Kind::below || rule.when.kind == core::Condition::Kind::above) {
      auto& threshold = f.threshold.value({rule.name, rule.account, rule.when.threshold.currency().code()});
      threshold.set(as_sample(rule.when.threshold.minor()));
      f.threshold_series.push_back(&threshold);
    }
    f.rule_state.value({rule.name, core::to_string(core::RulePhase::inactive)}).set(1);
    f.rule_states[rule.name] = core::RulePhase::inactive;
    if (rule.alert) counters.emplace_back(&f.alerts, &f.alerts.value({rule.name, rule.alert->severity}));
    if (rule.top_up) {
      auto& suspended = f.rule_suspended.value({rule.name});
      suspended.set(0);
      f.suspended_series[rule.name] = &suspended;
      // Whole until the rule's first evaluation says what is used.
      for (const auto& cap : core::cap_uses(rule.top_up->limits, std::nullopt)) {
        auto& gauge = f.cap_remaining.value({rule.name, cap.name, cap.cap.currency().code()});
        gauge.set(as_sample(cap.cap.minor()));
        f.cap_series[{rule.name, cap.name}] = &gauge;
      }
      const std::string_view method = core::to_string(rule.top_up->method);
      for (const auto outcome : kTopUpOutcomes) {
        counters.emplace_back(&f.top_ups, &f.top_ups.value({rule.name, method, outcome}));
      }
      counters.emplace_back(&f.top_up_amount, &f.top_up_amount.value({rule.account, method}));
      counters.emplace_back(&f.not_reflected, &f.not_reflected.value({rule.name}));
    }
  }
  f.rule_counters.replace(std::move(counters));
}

void Metrics::set_cap_remaining(const std::string& rule, std::string_view cap, const core::Money& remaining) {
  const auto it = families_->cap_series.find({rule, std::string(cap)});
  if (it != families_->cap_series.end()) it->second->set(as_sample(remaining.minor()));
}

void Metrics::set_rule_suspended(const std::string& rule, bool suspended) {
  const auto it = families_->suspended_series.find(rule);
  if (it != families_->suspended_series.end()) it->second->set(suspended ? 1 : 0);
}

void Metrics::set_notifiers(const std::vector<std::string>& notifiers) {
  auto& f = *families_;
  std::vector<std::pair<Family*, Value*>> counters;
  for (const auto& notifier : notifiers) {
    for (const auto outcome : kNotificationOutcomes) {
      counters.emplace_back(&f.notifications, &f.notifications.value({notifier, outcome}));
    }
    counters.emplace_back(&f.notifications_pending, &f.notifications_pending.value({notifier}));
  }
  f.notifier_counters.replace(std::move(counters));
}

void Metrics::set_webhook_providers(bool receiving, const std::vector<std::string>& providers) {
  auto& f = *families_;
  std::vector<std::pair<Family*, Value*>> counters;
  // A path no endpoint serves.
  if (receiving) {
    counters.emplace_back(&f.webhooks, &f.webhooks.value({"-", webhooks::to_string(webhooks::Outcome::not_found)}));
  }
  for (const auto& provider : providers) {
    for (const auto outcome : {webhooks::Outcome::accepted, webhooks::Outcome::duplicate,
                               webhooks::Outcome::bad_signature, webhooks::Outcome::stale,
                               webhooks::Outcome::forbidden_ip, webhooks::Outcome::too_large,
                               webhooks::Outcome::malformed}) {
      counters.emplace_back(&f.webhooks, &f.webhooks.value({provider, webhooks::to_string(outcome)}));
    }
  }
  f.webhook_counters.replace(std::move(counters));
}

void Metrics::set_runway(const std::string& account, std::optional<core::Duration> runway) {
  auto& s = families_->series(account);
  Families::once(s.runway, families_->runway, account)
      .set(runway ? seconds_of(*runway) : std::numeric_limits<double>::infinity());
}

// One series per rule rather than one per state with 0 for the others: a third of the
// lines, which at thousands of rules is much of the scrape. A query for a state
// (`topupd_rule_state{state="firing"}`) finds the rules in it, as before.
void Metrics::set_rule_state(const std::string& rule, core::RulePhase phase) {
  auto& f = *families_;
  const auto it = f.rule_states.find(rule);
  if (it == f.rule_states.end() || it->second == phase) return;  // not a configured rule, or no change
  f.rule_state.remove({rule, core::to_string(it->second)});
  f.rule_state.value({rule, core::to_string(phase)}).set(1);
  it->second = phase;
}

void Metrics::count_not_reflected(const std::string& rule) { families_->not_reflected.value({rule}).add(1); }

void Metrics::count_alert(const std::string& rule, const std::string& severity) {
  families_->alerts.value({rule, severity}).add(1);
}

void Metrics::set_notifications_pending(const std::string& notifier, std::int64_t count) {
  families_->notifications_pending.value({notifier}).set(as_sample(count));
}

void Metrics::count_webhook(const std::string& provider, std::string_view outcome) {
  families_->webhooks.value({provider, outcome}).add(1);
}

void Metrics::api_serving() {
  for (const char* endpoint : {"accounts", "top_ups", "top_up", "demands", "demand", "other"}) {
    for (const char* outcome : {"ok", "unauthorized", "forbidden", "refused", "unavailable"}) {
      families_->api_requests.value({endpoint, outcome});
    }
  }
}

void Metrics::console_serving() {
  for (const char* outcome : {"ok", "failed", "locked"}) families_->console_logins.value({outcome});
}

void Metrics::count_console_login(std::string_view outcome) { families_->console_logins.value({outcome}).add(1); }

void Metrics::count_api_request(std::string_view endpoint, std::string_view outcome) {
  families_->api_requests.value({endpoint, outcome}).add(1);
}

void Metrics::count_notification(const std::string& notifier, std::string_view outcome) {
  families_->notifications.value({notifier, outcome}).add(1);
}

void Metrics::count_top_up(const std::string& rule, core::TopUpMethod method, std::string_view outcome) {
  families_->top_ups.value({rule, core::to_string(method), outcome}).add(1);
}

void Metrics::add_top_up_amount(const std::string& account, core::TopUpMethod method, const core::Money& amount) {
  families_->top_up_amount.value({account, core::to_string(method)}).add(as_sample(amount.minor()));
}

void Metrics::set_top_ups_in_state(core::TopUpState state, std::int64_t count) {
  families_->top_ups_in_state.value({core::to_string(state)}).set(as_sample(count));
}

void Metrics::count_store_error(std::string_view operation) { families_->store_errors.value({operation}).add(1); }

void Metrics::set_ownership(std::size_t instances, std::size_t owned,
                            const std::map<std::string, std::int64_t>& epochs, std::size_t without_owner) {
  families_->instances.value({}).set(as_sample(static_cast<std::int64_t>(instances)));
  families_->without_owner.value({}).set(as_sample(static_cast<std::int64_t>(without_owner)));
  families_->owned_accounts.value({}).set(as_sample(static_cast<std::int64_t>(owned)));
  auto& series = families_->epoch_series;
  std::erase_if(series, [&](const auto& entry) {
    if (epochs.count(entry.first)) return false;
    families_->lease_epoch.remove(*entry.second);
    return true;
  });
  for (const auto& [account, epoch] : epochs) {
    Value*& slot = series[account];
    if (!slot) slot = &families_->lease_epoch.value({account});
    slot->set(as_sample(epoch));
  }
}

void Metrics::count_lease_renewal_failure() { families_->lease_failures.value({}).add(1); }

void Metrics::count_clock_jump(bool forwards) {
  families_->clock_jumps.value({forwards ? "forwards" : "backwards"}).add(1);
}

void Metrics::set_paused(bool paused) { families_->paused.value({}).set(paused ? 1 : 0); }

void Metrics::set_destinations(const std::string& path, const std::string& sha256, std::size_t accounts) {
  families_->destinations.value({path, sha256, std::to_string(accounts)}).set(1);
}

void Metrics::set_config_reload(bool successful, core::Timestamp at) {
  families_->reload_successful.value({}).set(successful ? 1 : 0);
  if (successful) families_->reload_timestamp.value({}).set(seconds_of(at.time_since_epoch()));
}

}  // namespace topupd::adapters
