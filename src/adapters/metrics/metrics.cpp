#include "topupd/adapters/metrics/metrics.hpp"

#include <algorithm>
#include <limits>
#include <sstream>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace topupd::adapters {
namespace {

// Prometheus samples are floating point by definition of the format; amounts are
// converted only here, at the edge (exact below 2^53 minor units).
double as_sample(std::int64_t value) { return static_cast<double>(value); }

double seconds_of(core::Duration duration) { return as_sample(duration.count()) / 1000.0; }

}  // namespace

struct Metrics::Families {
  prometheus::Family<prometheus::Gauge>& balance;
  prometheus::Family<prometheus::Gauge>& threshold;
  prometheus::Family<prometheus::Gauge>& runway;
  prometheus::Family<prometheus::Gauge>& last_successful_poll;
  prometheus::Family<prometheus::Gauge>& balance_stale;
  prometheus::Family<prometheus::Histogram>& poll_duration;
  prometheus::Family<prometheus::Histogram>& poll_lateness;
  prometheus::Family<prometheus::Counter>& poll_errors;
  prometheus::Family<prometheus::Gauge>& rule_state;
  prometheus::Family<prometheus::Counter>& alerts;
  prometheus::Family<prometheus::Counter>& not_reflected;
  prometheus::Family<prometheus::Counter>& notifications;
  prometheus::Family<prometheus::Counter>& webhooks;
  prometheus::Family<prometheus::Gauge>& notifications_pending;
  prometheus::Family<prometheus::Counter>& top_ups;
  prometheus::Family<prometheus::Counter>& top_up_amount;
  prometheus::Family<prometheus::Gauge>& top_ups_in_state;
  prometheus::Family<prometheus::Gauge>& reload_successful;
  prometheus::Family<prometheus::Gauge>& reload_timestamp;
  prometheus::Family<prometheus::Gauge>& build_info;
  prometheus::Family<prometheus::Counter>& store_errors;
  prometheus::Family<prometheus::Gauge>& paused;
  // Series created per account, looked up by name once and then kept: a poll updates
  // them without building label sets; a reload removes those of retired accounts.
  struct AccountSeries {
    prometheus::Gauge* balance = nullptr;
    std::string balance_currency;
    prometheus::Gauge* last_poll = nullptr;
    prometheus::Gauge* stale = nullptr;
    prometheus::Gauge* runway = nullptr;
    prometheus::Histogram* poll_duration = nullptr;
  };
  std::unordered_map<std::string, AccountSeries> accounts;
  std::vector<prometheus::Gauge*> threshold_series;
  std::vector<prometheus::Gauge*> rule_state_series;
  prometheus::Histogram* lateness;

  AccountSeries& series(const std::string& account) { return accounts[account]; }

  static prometheus::Gauge& once(prometheus::Gauge*& slot, prometheus::Family<prometheus::Gauge>& family,
                                 const std::string& account) {
    if (!slot) slot = &family.Add({{"account", account}});
    return *slot;
  }

  void remove(const AccountSeries& s) {
    if (s.balance) balance.Remove(s.balance);
    if (s.last_poll) last_successful_poll.Remove(s.last_poll);
    if (s.stale) balance_stale.Remove(s.stale);
    if (s.runway) runway.Remove(s.runway);
    if (s.poll_duration) poll_duration.Remove(s.poll_duration);
  }
};

Metrics::Metrics(const std::string& version, const std::string& revision)
    : registry_(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry_;
  families_ = std::unique_ptr<Families>(new Families{
      prometheus::BuildGauge().Name("topupd_balance")
          .Help("Latest polled balance, in minor units of the currency label (aggregate only by currency)")
          .Register(r),
      prometheus::BuildGauge().Name("topupd_threshold")
          .Help("Balance below (or above) which a rule fires, in minor units of the currency label")
          .Register(r),
      prometheus::BuildGauge().Name("topupd_runway_seconds")
          .Help("Estimated time until the balance runs out at the observed burn rate (runway rules); +Inf when not falling")
          .Register(r),
      prometheus::BuildGauge().Name("topupd_last_successful_poll_timestamp_seconds")
          .Help("Unix time of the last successful balance poll").Register(r),
      prometheus::BuildGauge().Name("topupd_balance_stale")
          .Help("1 while the account's balance is stale (its last poll failed or is overdue); no top-up acts on it")
          .Register(r),
      prometheus::BuildHistogram().Name("topupd_poll_duration_seconds")
          .Help("Time taken by balance polls, successful or not").Register(r),
      prometheus::BuildHistogram().Name("topupd_poll_lateness_seconds")
          .Help("How long after its scheduled time each poll started; high when topupd is overloaded").Register(r),
      prometheus::BuildCounter().Name("topupd_poll_errors_total")
          .Help("Failed balance polls by reason").Register(r),
      prometheus::BuildGauge().Name("topupd_rule_state")
          .Help("1 for the state each rule is in (inactive, pending, firing), 0 otherwise").Register(r),
      prometheus::BuildCounter().Name("topupd_alerts_total")
          .Help("Alerts that started firing").Register(r),
      prometheus::BuildCounter().Name("topupd_topups_not_reflected_total")
          .Help("Top-ups reported succeeded whose amount did not show in the balance within verify.within")
          .Register(r),
      prometheus::BuildCounter().Name("topupd_notifications_total")
          .Help("Notifications handed to notifiers, by outcome").Register(r),
      prometheus::BuildCounter().Name("topupd_webhooks_total")
          .Help("Webhook deliveries by provider and outcome (accepted, duplicate, bad_signature, stale, "
                "forbidden_ip, too_large, malformed, not_found)").Register(r),
      prometheus::BuildGauge().Name("topupd_notifications_pending")
          .Help("Messages in the outbox not yet delivered, by notifier").Register(r),
      prometheus::BuildCounter().Name("topupd_topups_total")
          .Help("Top-ups and sweeps by rule, method and final outcome").Register(r),
      prometheus::BuildCounter().Name("topupd_topup_amount_minor_total")
          .Help("Money moved by settled top-ups and sweeps, in minor units").Register(r),
      prometheus::BuildGauge().Name("topupd_topups_in_state")
          .Help("Top-ups in the journal by state").Register(r),
      prometheus::BuildGauge().Name("topupd_config_last_reload_successful")
          .Help("1 if the last configuration load or reload succeeded, 0 if it was rejected").Register(r),
      prometheus::BuildGauge().Name("topupd_config_last_reload_success_timestamp_seconds")
          .Help("Unix time of the last successful configuration load").Register(r),
      prometheus::BuildGauge().Name("topupd_build_info")
          .Help("Always 1; labels carry the version and git revision").Register(r),
      prometheus::BuildCounter().Name("topupd_store_errors_total")
          .Help("Failed reads or writes of the store; while writes fail no money is moved").Register(r),
      prometheus::BuildGauge().Name("topupd_paused")
          .Help("Whether top-ups are paused with topupctl pause, the kill switch (1) or allowed (0)").Register(r),
      {}, {}, {}, nullptr});
  families_->lateness = &families_->poll_lateness.Add(
      {}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  families_->build_info.Add({{"version", version}, {"revision", revision}}).Set(1);
  for (auto state : core::kAllTopUpStates) set_top_ups_in_state(state, 0);
  families_->reload_successful.Add({}).Set(0);
  set_paused(false);
  // Present from the start, so rate() and increase() see the first error.
  for (const char* operation : {"plan", "transition", "rule_state", "webhook", "outbox", "silence", "control"}) {
    families_->store_errors.Add({{"operation", operation}});
  }
}

Metrics::~Metrics() = default;

std::string Metrics::serialize() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

void Metrics::set_balance(const std::string& account, const core::Money& balance) {
  auto& s = families_->series(account);
  const std::string_view currency = balance.currency().code();
  if (!s.balance || s.balance_currency != currency) {
    if (s.balance) families_->balance.Remove(s.balance);  // the account's currency changed
    s.balance_currency = std::string(currency);
    s.balance = &families_->balance.Add({{"account", account}, {"currency", s.balance_currency}});
  }
  s.balance->Set(as_sample(balance.minor()));
}

void Metrics::set_last_successful_poll(const std::string& account, core::Timestamp at) {
  auto& s = families_->series(account);
  Families::once(s.last_poll, families_->last_successful_poll, account).Set(seconds_of(at.time_since_epoch()));
}

void Metrics::set_balance_stale(const std::string& account, bool stale) {
  auto& s = families_->series(account);
  Families::once(s.stale, families_->balance_stale, account).Set(stale ? 1 : 0);
}

void Metrics::observe_poll_duration(const std::string& account, std::chrono::nanoseconds duration) {
  auto& s = families_->series(account);
  if (!s.poll_duration) {
    s.poll_duration = &families_->poll_duration.Add(
        {{"account", account}},
        prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  }
  s.poll_duration->Observe(std::chrono::duration<double>(duration).count());
}

void Metrics::observe_poll_lateness(std::chrono::nanoseconds lateness) {
  families_->lateness->Observe(std::chrono::duration<double>(std::max(lateness, std::chrono::nanoseconds(0))).count());
}

void Metrics::count_poll_error(const std::string& account, std::string_view reason) {
  families_->poll_errors.Add({{"account", account}, {"reason", std::string(reason)}}).Increment();
}

void Metrics::retain_accounts(const std::set<std::string>& keep) {
  std::erase_if(families_->accounts, [&](const auto& entry) {
    if (keep.count(entry.first)) return false;
    families_->remove(entry.second);
    return true;
  });
}

void Metrics::set_rules(const std::vector<core::Rule>& rules) {
  for (auto* gauge : families_->threshold_series) families_->threshold.Remove(gauge);
  for (auto* gauge : families_->rule_state_series) families_->rule_state.Remove(gauge);
  families_->threshold_series.clear();
  families_->rule_state_series.clear();
  for (const auto& rule : rules) {
    if (rule.when.kind == core::Condition::Kind::below || rule.when.kind == core::Condition::Kind::above) {
      auto& threshold = families_->threshold.Add({{"rule", rule.name},
                                                  {"account", rule.account},
                                                  {"currency", std::string(rule.when.threshold.currency().code())}});
      threshold.Set(as_sample(rule.when.threshold.minor()));
      families_->threshold_series.push_back(&threshold);
    }
    for (auto phase : {core::RulePhase::inactive, core::RulePhase::pending, core::RulePhase::firing}) {
      auto& state = families_->rule_state.Add({{"rule", rule.name}, {"state", std::string(core::to_string(phase))}});
      state.Set(phase == core::RulePhase::inactive ? 1 : 0);
      families_->rule_state_series.push_back(&state);
    }
  }
}

void Metrics::set_runway(const std::string& account, std::optional<core::Duration> runway) {
  auto& s = families_->series(account);
  Families::once(s.runway, families_->runway, account)
      .Set(runway ? seconds_of(*runway) : std::numeric_limits<double>::infinity());
}

void Metrics::set_rule_state(const std::string& rule, core::RulePhase phase) {
  for (auto candidate : {core::RulePhase::inactive, core::RulePhase::pending, core::RulePhase::firing}) {
    families_->rule_state.Add({{"rule", rule}, {"state", std::string(core::to_string(candidate))}})
        .Set(candidate == phase ? 1 : 0);
  }
}

void Metrics::count_not_reflected(const std::string& rule) {
  families_->not_reflected.Add({{"rule", rule}}).Increment();
}

void Metrics::count_alert(const std::string& rule, const std::string& severity) {
  families_->alerts.Add({{"rule", rule}, {"severity", severity}}).Increment();
}

void Metrics::set_notifications_pending(const std::string& notifier, std::int64_t count) {
  families_->notifications_pending.Add({{"notifier", notifier}}).Set(static_cast<double>(count));
}

void Metrics::count_webhook(const std::string& provider, std::string_view outcome) {
  families_->webhooks.Add({{"provider", provider}, {"outcome", std::string(outcome)}}).Increment();
}

void Metrics::count_notification(const std::string& notifier, std::string_view outcome) {
  families_->notifications.Add({{"notifier", notifier}, {"outcome", std::string(outcome)}}).Increment();
}

void Metrics::count_top_up(const std::string& rule, core::TopUpMethod method, std::string_view outcome) {
  families_->top_ups
      .Add({{"rule", rule}, {"method", std::string(core::to_string(method))}, {"outcome", std::string(outcome)}})
      .Increment();
}

void Metrics::add_top_up_amount(const std::string& account, core::TopUpMethod method,
                                const core::Money& amount) {
  families_->top_up_amount.Add({{"account", account}, {"method", std::string(core::to_string(method))}})
      .Increment(as_sample(amount.minor()));
}

void Metrics::set_top_ups_in_state(core::TopUpState state, std::int64_t count) {
  families_->top_ups_in_state.Add({{"state", std::string(core::to_string(state))}}).Set(as_sample(count));
}

void Metrics::count_store_error(std::string_view operation) {
  families_->store_errors.Add({{"operation", std::string(operation)}}).Increment();
}

void Metrics::set_paused(bool paused) { families_->paused.Add({}).Set(paused ? 1 : 0); }

void Metrics::set_config_reload(bool successful, core::Timestamp at) {
  families_->reload_successful.Add({}).Set(successful ? 1 : 0);
  if (successful) families_->reload_timestamp.Add({}).Set(seconds_of(at.time_since_epoch()));
}

}  // namespace topupd::adapters
