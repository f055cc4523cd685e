// From decisions to notifications: the daemon turns a rule's alert decision (and what
// its top-up did) into a Notification for the alert dispatcher, and announces again,
// after a start, what still fires.
#include "daemon.hpp"

#include <algorithm>

namespace topupd::app {

void Daemon::notify(const core::Decision& decision, const std::string& action, const std::string& top_up_key) {
  const core::Rule* rule = runner_->find(decision.rule);
  if (!rule || !rule->alert) return;
  if (decision.kind == core::DecisionKind::alert_firing) metrics_.count_alert(rule->name, rule->alert->severity);
  adapters::Notification n;
  n.kind = decision.kind;
  n.rule = decision.rule;
  n.account = decision.account;
  n.severity = rule->alert->severity;
  n.reason = decision.reason;
  n.balance = decision.balance;
  n.threshold = decision.threshold;
  n.runway = decision.runway;
  n.action = action;
  n.at = clock_.now();
  const core::RuleState state = runner_->state(rule->name);
  n.fired_at = state.fired_at.value_or(n.at);
  for (const auto& record : executor_->journal()) {
    if (top_up_key.empty() || record.key != top_up_key) continue;
    const bool waiting = record.state == core::TopUpState::awaiting_approval;
    const std::string& console = generation_.config.console.url;
    n.top_up = adapters::TopUpSummary{record.key, record.amount, std::string(core::to_string(record.method)),
                                      std::string(core::to_string(record.state)), waiting, "",
                                      waiting && !console.empty() ? console + "/top-ups/" + record.key : ""};
  }
  const bool people_hear_it = n.kind != core::DecisionKind::alert_resolved || rule->alert->send_resolved;
  alerts_->enqueue(n, rule->alert->notify, !people_hear_it);
  // A balance running low (below a threshold, or out of runway) and its recovery.
  const auto kind = rule->when.kind;
  if (kind == core::Condition::Kind::below || kind == core::Condition::Kind::runway_below) {
    if (n.kind == core::DecisionKind::alert_firing) emit("balance.low", n);
    if (n.kind == core::DecisionKind::alert_resolved) emit("balance.recovered", n);
  }
}

void Daemon::emit(const std::string& type, adapters::Notification event) {
  std::vector<std::string> subscribers;
  for (const auto& notifier : generation_.config.notifiers) {
    if (notifier.type != config::NotifierType::events) continue;
    const auto& wanted = notifier.event_types;
    if (std::find(wanted.begin(), wanted.end(), type) != wanted.end()) subscribers.push_back(notifier.name);
  }
  if (subscribers.empty()) return;
  event.event = type;
  event.kind = core::DecisionKind::alert_firing;
  alerts_->enqueue(event, subscribers, true);
}

void Daemon::emit_top_up(const std::string& type, const core::TopUpRecord& record, const std::string& reason) {
  adapters::Notification n;
  n.rule = record.rule;
  n.account = record.account;
  n.severity = type == "top_up.failed" || type == "top_up.needs_attention" ? "critical" : "info";
  n.reason = reason;
  n.top_up = adapters::TopUpSummary{record.key, record.amount, std::string(core::to_string(record.method)),
                                    std::string(core::to_string(record.state)),
                                    record.state == core::TopUpState::awaiting_approval, record.reference};
  if (const core::AccountWatch* watch = poller_->watch(record.account); watch && watch->latest) {
    n.balance = watch->latest->balance;
  }
  n.at = n.fired_at = clock_.now();
  emit(type, std::move(n));
}

void Daemon::announce_firing_to_alertmanagers() {
  // Alertmanager forgets alerts that are not re-sent: tell it again what is firing.
  for (const auto& rule : generation_.config.rules) {
    const auto state = runner_->states().find(rule.name);
    if (!rule.alert || state == runner_->states().end() || state->second.phase != core::RulePhase::firing) continue;
    adapters::Notification n;
    n.kind = core::DecisionKind::alert_repeat;
    n.rule = rule.name;
    n.account = rule.account;
    n.severity = rule.alert->severity;
    n.reason = "still firing (announced again after topupd started)";
    n.at = clock_.now();
    n.fired_at = state->second.fired_at.value_or(n.at);
    if (const core::AccountWatch* watch = poller_->watch(rule.account); watch && watch->latest) {
      n.balance = watch->latest->balance;
    }
    alerts_->enqueue(n, rule.alert->notify, true);
  }
}

}  // namespace topupd::app
