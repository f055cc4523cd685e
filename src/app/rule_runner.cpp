// The rule runner: see rule_runner.hpp.
#include "rule_runner.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "topupd/adapters/sys/logging.hpp"
#include "topupd/core/runway.hpp"

namespace topupd::app {

using adapters::field;

RuleRunner::RuleRunner(adapters::Metrics& metrics, adapters::RuleStateStore& store, TopUpExecutor& executor,
                       RuleRunnerNeighbours neighbours)
    : metrics_(metrics), store_(store), executor_(executor), neighbours_(std::move(neighbours)) {}

void RuleRunner::configure(const config::Config& config) {
  config_ = &config;
  by_name_.clear();
  by_account_.clear();
  deadlines_.clear();
  std::map<std::string, core::RuleState> states;
  for (const auto& rule : config.rules) {
    by_name_.emplace(rule.name, &rule);
    by_account_[rule.account].push_back(AccountRule{&rule});
    auto kept = states_.find(rule.name);
    states[rule.name] = kept == states_.end() ? core::RuleState{} : kept->second;
  }
  states_ = std::move(states);
  bind_states();
}

void RuleRunner::bind_states() {
  for (auto& [account, rules] : by_account_) {
    for (auto& own : rules) own.state = &states_[own.rule->name];
  }
}

const core::Rule* RuleRunner::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

core::RuleState RuleRunner::state(const std::string& rule) const {
  const auto it = states_.find(rule);
  return it == states_.end() ? core::RuleState{} : it->second;
}

core::RuleInputs RuleRunner::inputs_for(const core::Rule& rule, const config::AccountConfig& account,
                                        const core::AccountWatch& watch, core::Timestamp now,
                                        std::vector<core::Credit>& credits) const {
  core::RuleInputs in = core::gather_rule_inputs(rule, watch, neighbours_.watch,
                                                 executor_.records_of_account(rule.account),
                                                 executor_.records_of_rule(rule.name), account.currency,
                                                 config_->zone, now, credits);
  if (rule.top_up && neighbours_.suspended) in.suspended = neighbours_.suspended(rule.name);
  if (rule.when.kind == core::Condition::Kind::cover_demands && neighbours_.demands) {
    in.demands = neighbours_.demands(rule.account);
  }
  return in;
}

TopUpRoute RuleRunner::route_of(const core::Decision& decision, const config::AccountConfig& account) const {
  const core::TopUpSpec& spec = *decision.top_up;
  TopUpRoute route{spec.via.empty() ? account.provider : spec.via, account.id, spec.source};
  route.account_provider = account.provider;
  if (spec.method == core::TopUpMethod::sweep) {
    if (const config::AccountConfig* source = config_->find_account(spec.source)) route.source = source->id;
  }
  if (spec.method == core::TopUpMethod::deposit && spec.deposit) {
    if (spec.deposit->pay_with.kind == core::DepositPayment::Kind::payout) {
      // The paying gateway's account, by its id there (e.g. a Xendit sub-account).
      if (const config::AccountConfig* from = config_->find_account(spec.source)) route.source = from->id;
    }
    const core::DepositDestination& to = spec.deposit->to;
    if (to.kind != core::DepositDestination::Kind::static_account) {
      route.ticket_provider = to.via.empty() ? account.provider : to.via;
    } else {
      route.destination = core::DepositTicket{"", to.bank, to.account_no, to.name, std::nullopt};
    }
  }
  return route;
}

void RuleRunner::export_runway(const std::string& account, core::Timestamp now) {
  if (const auto own = by_account_.find(account); own != by_account_.end()) {
    for (const auto& [rule, state] : own->second) {
      if (rule->enabled && rule->when.kind == core::Condition::Kind::runway_below) return;  // the rule exports its own
    }
  }
  const auto estimate = runway(account, now);
  if (estimate && estimate->enough_data) metrics_.set_runway(account, estimate->runway);
}

std::optional<core::RunwayEstimate> RuleRunner::runway(const std::string& account, core::Timestamp now) const {
  const core::AccountWatch* watch = neighbours_.watch(account);
  if (!watch) return std::nullopt;
  std::vector<core::Credit> credits;
  core::append_credits(executor_.records_of_account(account), account, credits);
  return core::estimate_runway(watch->runway_samples, credits, now, core::kExportedRunwayWindow);
}

asio::awaitable<void> RuleRunner::evaluate(const config::AccountConfig& account, const core::AccountWatch& watch,
                                            core::Timestamp now, Trigger trigger, const std::string& only_rule) {
  std::vector<core::Decision> top_ups;
  std::vector<core::Decision> alerts;
  const auto own = by_account_.find(account.name);
  if (own == by_account_.end()) co_return;
  const auto& deadlines = deadlines_[account.name];
  const bool schedule_due = trigger == Trigger::schedule;
  for (const auto& [each, each_state] : own->second) {
    const core::Rule& rule = *each;
    if (!only_rule.empty() && rule.name != only_rule) continue;
    // Schedules keep to their own times — but a poll goes on with a scheduled need
    // whose rail failed — and a deadline looks only at the rules it is for.
    const bool is_schedule = rule.when.kind == core::Condition::Kind::schedule;
    if (!is_schedule && schedule_due) continue;
    if (is_schedule && !schedule_due &&
        (trigger != Trigger::poll ||
         !core::rail_continuation(rule, executor_.records_of_rule(rule.name), config_->zone, now))) {
      continue;
    }
    if (trigger == Trigger::deadline) {
      const auto deadline = deadlines.find(rule.name);
      if (deadline == deadlines.end() || deadline->second > now) continue;
    }
    std::vector<core::Credit> credits;
    core::RuleInputs inputs = inputs_for(rule, account, watch, now, credits);
    inputs.schedule_due = schedule_due;
    core::RuleState& state = *each_state;
    const auto previous = state.phase;
    auto evaluation = core::evaluate(rule, state, inputs);
    if (evaluation.runway_estimate) metrics_.set_runway(rule.account, evaluation.runway_estimate->runway);
    const bool changed = !(state == evaluation.next);
    state = evaluation.next;
    const bool tops_up = std::any_of(evaluation.decisions.begin(), evaluation.decisions.end(),
                                     [](const core::Decision& d) { return d.kind == core::DecisionKind::top_up; });
    // A rule that decided a top-up is stored together with it, in one transaction.
    if (changed && !tops_up) persist(rule.name);
    if (state.phase != previous) {
      metrics_.set_rule_state(rule.name, state.phase);
      spdlog::debug("rule state changed rule={} from={} to={}", field(rule.name), core::to_string(previous),
                    core::to_string(state.phase));
    }
    if (evaluation.top_up_held_back) {
      spdlog::log(schedule_due || evaluation.held_back_by_source ? spdlog::level::warn : spdlog::level::debug,
                  "top-up held back: {} rule={} account={}", *evaluation.top_up_held_back, field(rule.name),
                  field(rule.account));
    }
    watch_sources(rule, evaluation, now);
    for (auto& decision : evaluation.decisions) {
      (decision.kind == core::DecisionKind::top_up ? top_ups : alerts).push_back(std::move(decision));
    }
  }
  std::map<std::string, std::string> actions;  // rule → what was done
  std::map<std::string, std::string> keys;     // rule → the top-up it decided
  for (const auto& decision : top_ups) {
    // Named, not temporaries: GCC 12 destroys temporaries inside co_await expressions twice.
    const TopUpRoute route = route_of(decision, account);
    const core::RuleState& rule_state = states_[decision.rule];
    actions[decision.rule] = co_await executor_.execute(decision, route, rule_state);
    keys[decision.rule] = decision.idempotency_key;
  }
  for (const auto& decision : alerts) neighbours_.alert(decision, actions[decision.rule], keys[decision.rule]);
  // Found again after a top-up was sent: a reload meanwhile replaces the rules.
  const AccountRules* rules = &own->second;
  if (!top_ups.empty()) {
    const auto again = by_account_.find(account.name);
    rules = again == by_account_.end() ? nullptr : &again->second;
  }
  if (!schedule_due) recompute_deadlines(account.name, rules, watch);
  if (rules) {
    for (const auto& [rule, state] : *rules) export_caps(*rule, account.currency, now);
  }
}

void RuleRunner::adopt_states(const std::map<std::string, core::RuleState>& stored,
                              const std::set<std::string>& accounts, core::Timestamp now) {
  for (const auto& [account, rules] : by_account_) {
    if (!accounts.count(account)) continue;
    for (const auto& [rule, state] : rules) {
      const auto it = stored.find(rule->name);
      *state = it == stored.end() ? core::RuleState{} : core::clamped_to(it->second, now);
      metrics_.set_rule_state(rule->name, state->phase);
    }
  }
}

std::vector<core::CapLeft> RuleRunner::caps_left(const core::Rule& rule, const core::Currency& currency,
                                                 core::Timestamp now) const {
  if (!rule.top_up) return {};
  const auto& limits = rule.top_up->limits;
  if (core::cap_uses(limits, std::nullopt).empty()) return {};  // no journal scan for a rule without caps
  return core::caps_left(limits,
                         core::usage_now(executor_.records_of_rule(rule.name), rule, currency, config_->zone, now));
}

void RuleRunner::export_caps(const core::Rule& rule, const core::Currency& currency, core::Timestamp now) {
  for (const auto& left : caps_left(rule, currency, now)) metrics_.set_cap_remaining(rule.name, left.cap, left.remaining);
}

void RuleRunner::watch_sources(const core::Rule& rule, const core::Evaluation& evaluation, core::Timestamp now) {
  const bool short_now = evaluation.held_back_by_source;
  const bool planned = std::any_of(evaluation.decisions.begin(), evaluation.decisions.end(),
                                   [](const core::Decision& d) { return d.kind == core::DecisionKind::top_up; });
  const auto alerted = source_short_.find(rule.name);
  // Fires once while the top-up is held back for its sources; ends with a top-up
  // planned or the need gone (the rule no longer firing).
  const bool need_gone =
      rule.when.kind != core::Condition::Kind::schedule && evaluation.next.phase != core::RulePhase::firing;
  const bool ends = alerted != source_short_.end() && !short_now && (planned || need_gone);
  if (!(short_now && alerted == source_short_.end()) && !ends) return;
  adapters::Notification n;
  n.kind = short_now ? core::DecisionKind::alert_firing : core::DecisionKind::alert_resolved;
  n.rule = rule.name;
  n.alert = "TopUpSourceShort";
  n.account = rule.account;
  n.severity = "critical";
  n.reason = short_now ? fmt::format("TopUpSourceShort: no top-up of {}: {}; no request was sent", rule.account,
                                     evaluation.top_up_held_back.value_or(""))
                       : (planned ? "a rail's source covers the top-up again: planned"
                                  : "the rule no longer needs a top-up");
  n.at = now;
  n.fired_at = short_now ? now : alerted->second;
  if (short_now) {
    source_short_.emplace(rule.name, now);
    metrics_.count_alert(rule.name, "critical");
  } else {
    source_short_.erase(alerted);
  }
  if (rule.alert && neighbours_.notify) neighbours_.notify(n, rule.alert->notify);
}

void RuleRunner::recompute_deadlines(const std::string& account, const core::AccountWatch& watch) {
  const auto own = by_account_.find(account);
  recompute_deadlines(account, own == by_account_.end() ? nullptr : &own->second, watch);
}

void RuleRunner::recompute_deadlines(const std::string& account, const AccountRules* rules,
                                     const core::AccountWatch& watch) {
  auto& deadlines = deadlines_[account];
  deadlines.clear();
  if (!rules) return;
  for (const auto& [rule, state] : *rules) {
    if (const auto due = core::next_time_driven_evaluation(*rule, *state, watch)) deadlines[rule->name] = *due;
  }
}

std::optional<core::Timestamp> RuleRunner::next_deadline(const std::string& account) const {
  const auto it = deadlines_.find(account);
  if (it == deadlines_.end()) return std::nullopt;
  std::optional<core::Timestamp> earliest;
  for (const auto& [rule, at] : it->second) {
    if (!earliest || at < *earliest) earliest = at;
  }
  return earliest;
}

void RuleRunner::passed(const std::string& account, core::Timestamp due) {
  if (auto it = deadlines_.find(account); it != deadlines_.end()) {
    std::erase_if(it->second, [&](const auto& entry) { return entry.second <= due; });
  }
}

void RuleRunner::persist(const std::string& rule) {
  try {
    store_.save_rule_state(rule, states_[rule]);
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("rule_state");
    spdlog::error("cannot store the rule state: {} rule={}", e.what(), field(rule));
  }
}

}  // namespace topupd::app
