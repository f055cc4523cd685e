// Rules that stop themselves: see rule_suspensions.hpp.
#include "rule_suspensions.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;

RuleSuspensions::RuleSuspensions(const core::Clock& clock, adapters::Metrics& metrics, adapters::SettingStore& store,
                                 SuspensionNeighbours neighbours)
    : clock_(clock), metrics_(metrics), store_(store), neighbours_(std::move(neighbours)) {}

void RuleSuspensions::configure(const std::vector<core::Rule>& rules) {
  suspended_.clear();
  for (const auto& rule : rules) {
    if (!rule.top_up) continue;
    std::optional<std::string> why;
    try {
      why = store_.setting(setting_name(rule.name));
    } catch (const adapters::StoreError& e) {
      metrics_.count_store_error("setting");
      spdlog::error("cannot read whether a rule is suspended: {} rule={}", e.what(), field(rule.name));
    }
    if (why && !why->empty()) {
      suspended_[rule.name] = *why;
      spdlog::warn("rule suspended: {}; no top-up until topupctl resume-rule {} rule={}", *why, rule.name,
                   field(rule.name));
    }
    metrics_.set_rule_suspended(rule.name, why && !why->empty());
  }
}

void RuleSuspensions::outcome(const std::string& rule_name, const std::optional<std::string>& failure,
                              const std::string& error) {
  const core::Rule* rule = neighbours_.rule(rule_name);
  if (!rule || !rule->top_up) return;
  core::FailureStreak& streak = streaks_[rule_name];
  if (core::record_outcome(streak, failure, error, rule->top_up->suspend_after) && !suspended_.count(rule_name)) {
    suspend(*rule, streak);
  }
}

std::optional<std::string> RuleSuspensions::suspended(const std::string& rule) const {
  const auto it = suspended_.find(rule);
  return it == suspended_.end() ? std::nullopt : std::optional(it->second);
}

void RuleSuspensions::suspend(const core::Rule& rule, const core::FailureStreak& streak) {
  const std::string why = fmt::format("{}: {} top-ups in a row failed, the last: {}", streak.code, streak.count,
                                      streak.last_error.empty() ? "-" : streak.last_error);
  suspended_[rule.name] = why;
  try {
    store_.set_setting(setting_name(rule.name), why);
  } catch (const adapters::StoreError& e) {
    // Suspended for this run all the same; a restart would let it try again.
    metrics_.count_store_error("setting");
    spdlog::error("cannot store a rule's suspension: {} rule={}", e.what(), field(rule.name));
  }
  metrics_.set_rule_suspended(rule.name, true);
  spdlog::error("RuleSuspended: {}; no top-up until topupctl resume-rule {} rule={} account={}", why, rule.name,
                field(rule.name), field(rule.account));
  fired_at_[rule.name] = clock_.now();
  announce(rule, core::DecisionKind::alert_firing,
           fmt::format("RuleSuspended: {}. Alerts about the balance go on; no top-up until topupctl resume-rule {}",
                       why, rule.name));
}

std::optional<std::string> RuleSuspensions::resume(const std::string& rule_name, const std::string& how) {
  const auto it = suspended_.find(rule_name);
  if (it == suspended_.end()) return fmt::format("rule {} is not suspended", rule_name);
  try {
    store_.set_setting(setting_name(rule_name), "");
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("setting");
    return fmt::format("cannot store the resumption: {}", e.what());
  }
  const std::string why = it->second;
  suspended_.erase(it);
  streaks_.erase(rule_name);
  metrics_.set_rule_suspended(rule_name, false);
  spdlog::warn("rule resumed {} (was suspended: {}) rule={}", how, why, field(rule_name));
  if (const core::Rule* rule = neighbours_.rule(rule_name)) {
    announce(*rule, core::DecisionKind::alert_resolved, fmt::format("resumed {}; it was suspended: {}", how, why));
  }
  fired_at_.erase(rule_name);
  return std::nullopt;
}

void RuleSuspensions::announce(const core::Rule& rule, core::DecisionKind kind, const std::string& reason) {
  adapters::Notification n;
  n.kind = kind;
  n.rule = rule.name;
  n.alert = "RuleSuspended";
  n.account = rule.account;
  n.severity = "critical";
  n.reason = reason;
  n.at = clock_.now();
  const auto fired = fired_at_.find(rule.name);
  n.fired_at = fired == fired_at_.end() ? n.at : fired->second;
  // Without an alert, people learn it from the log and topupd_rule_suspended; the
  // neighbour still hears it, for the backend's rule.suspended event.
  if (rule.alert && kind == core::DecisionKind::alert_firing) metrics_.count_alert(rule.name, n.severity);
  neighbours_.alert(n, rule.alert ? rule.alert->notify : std::vector<std::string>{});
}

}  // namespace topupd::app
