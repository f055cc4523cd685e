// The rule runner: builds each rule's inputs with core's one builder, evaluates the
// rules of an account (on a poll, at a deadline, or at a schedule's due time), keeps
// the rule states, and hands decisions to the executor and the alert dispatcher.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/sys/logging.hpp"
#include "topupd/core/runway.hpp"

namespace topupd::app {

using adapters::field;
using core::TopUpState;

core::RuleInputs Daemon::inputs_for(const core::Rule& rule, const AccountRuntime& account, core::Timestamp now,
                                    std::vector<core::Credit>& credits) const {
  const core::AccountWatch* source = nullptr;
  if (rule.top_up && rule.top_up->method == core::TopUpMethod::sweep) {
    if (auto it = accounts_.find(rule.top_up->source); it != accounts_.end()) source = &it->second->watch;
  }
  return core::gather_rule_inputs(rule, account.watch, source, journal_, account.config.currency, config_.zone, now,
                                  credits);
}

asio::awaitable<void> Daemon::evaluate_rules(AccountRuntime& account, core::Timestamp now, Trigger trigger,
                                             const std::string& only_rule) {
  std::vector<core::Decision> top_ups;
  std::vector<core::Decision> alerts;
  const auto own = rules_by_account_.find(account.config.name);
  if (own == rules_by_account_.end()) co_return;
  const bool schedule_due = trigger == Trigger::schedule;
  for (const core::Rule* each : own->second) {
    const core::Rule& rule = *each;
    if (!only_rule.empty() && rule.name != only_rule) continue;
    // Schedules keep to their own times; a deadline looks only at the rules it is for.
    if ((rule.when.kind == core::Condition::Kind::schedule) != schedule_due) continue;
    if (trigger == Trigger::deadline) {
      const auto deadline = account.rule_deadlines.find(rule.name);
      if (deadline == account.rule_deadlines.end() || deadline->second > now) continue;
    }
    std::vector<core::Credit> credits;
    core::RuleInputs inputs = inputs_for(rule, account, now, credits);
    inputs.schedule_due = schedule_due;
    if (rule.when.kind == core::Condition::Kind::runway_below) {
      metrics_.set_runway(rule.account, core::estimate_runway(inputs.history, inputs.own_credits, now, rule.when.window).runway);
    }
    core::RuleState& state = rule_states_[rule.name];
    const auto previous = state.phase;
    auto evaluation = core::evaluate(rule, state, inputs);
    const bool changed = !(state == evaluation.next);
    state = evaluation.next;
    const bool tops_up = std::any_of(evaluation.decisions.begin(), evaluation.decisions.end(),
                                     [](const core::Decision& d) { return d.kind == core::DecisionKind::top_up; });
    // A rule that decided a top-up is stored together with it, in one transaction.
    if (changed && !tops_up) persist_rule_state(rule.name);
    if (state.phase != previous) {
      metrics_.set_rule_state(rule.name, state.phase);
      spdlog::debug("rule state changed rule={} from={} to={}", field(rule.name), core::to_string(previous),
                    core::to_string(state.phase));
    }
    if (evaluation.top_up_held_back) {
      spdlog::log(schedule_due ? spdlog::level::warn : spdlog::level::debug, "top-up held back: {} rule={} account={}",
                  *evaluation.top_up_held_back, field(rule.name), field(rule.account));
    }
    for (auto& decision : evaluation.decisions) {
      (decision.kind == core::DecisionKind::top_up ? top_ups : alerts).push_back(std::move(decision));
    }
  }
  std::map<std::string, std::string> actions;  // rule → what was done
  std::map<std::string, std::string> keys;     // rule → the top-up it decided
  for (const auto& decision : top_ups) {
    actions[decision.rule] = co_await execute(decision, account);
    keys[decision.rule] = decision.idempotency_key;
  }
  for (const auto& decision : alerts) notify(decision, actions[decision.rule], keys[decision.rule]);
  if (!schedule_due && !account.stopped) arm_deadlines(account);
}

asio::awaitable<void> Daemon::schedule_loop(std::shared_ptr<ScheduleRuntime> schedule) {
  while (!schedule->stopped) {
    const core::Rule* rule = find_rule(schedule->rule);
    if (!rule || !rule->when.schedule) co_return;
    const core::Timestamp now = clock_.now();
    const auto due = core::next_due(*rule->when.schedule, config_.zone, now);
    if (!due) {
      spdlog::warn("schedule never comes due rule={} schedule={}", field(rule->name), field(rule->when.schedule->text));
      co_return;
    }
    spdlog::debug("next scheduled run rule={} at={}", field(rule->name), core::format_rfc3339(*due));
    schedule->timer.expires_after(*due - now);
    auto [error] = co_await schedule->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (error || schedule->stopped) co_return;
    if (clock_.now() < *due) continue;  // woke early (the wall clock was set back): sleep again
    const std::string rule_name = schedule->rule;
    const std::string account_name = rule->account;
    auto account = accounts_.find(account_name);
    if (account == accounts_.end()) continue;
    const std::shared_ptr<AccountRuntime> keep = account->second;
    // Whether the balances are fresh enough is the rule's to judge (it says why not).
    co_await evaluate_rules(*keep, *due, Trigger::schedule, rule_name);
  }
}

void Daemon::persist_rule_state(const std::string& rule) {
  try {
    store_->save_rule_state(rule, rule_states_[rule]);
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("rule_state");
    spdlog::error("cannot store the rule state: {} rule={}", e.what(), field(rule));
  }
}

void Daemon::notify(const core::Decision& decision, const std::string& action, const std::string& top_up_key) {
  const core::Rule* rule = find_rule(decision.rule);
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
  auto state = rule_states_.find(rule->name);
  n.fired_at = state != rule_states_.end() && state->second.fired_at ? *state->second.fired_at : n.at;
  for (const auto& record : journal_) {
    if (top_up_key.empty() || record.key != top_up_key) continue;
    n.top_up = adapters::TopUpSummary{record.key, record.amount, std::string(core::to_string(record.method)),
                                      std::string(core::to_string(record.state)),
                                      record.state == TopUpState::awaiting_approval};
  }
  const bool people_hear_it = n.kind != core::DecisionKind::alert_resolved || rule->alert->send_resolved;
  enqueue_notification(n, rule->alert->notify, !people_hear_it);
}

const core::Rule* Daemon::find_rule(const std::string& name) const {
  const auto it = rules_by_name_.find(name);
  return it == rules_by_name_.end() ? nullptr : it->second;
}

void Daemon::index_rules() {
  rules_by_name_.clear();
  rules_by_account_.clear();
  for (const auto& rule : config_.rules) {
    rules_by_name_.emplace(rule.name, &rule);
    rules_by_account_[rule.account].push_back(&rule);
  }
}

}  // namespace topupd::app
