// The top-up executor's watch over sent top-ups (top_up_executor.hpp): after a top-up
// succeeded at the gateway, the balance must show the money within the rule's
// verify.within, or TopUpNotReflected fires; a top-up without a final outcome for the
// rule's stuck_after raises TopUpStuck, resolved when it ends.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "top_up_executor.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using core::TopUpRecord;

void TopUpExecutor::start_verification(const TopUpRecord& record) {
  const core::AccountWatch* watch = neighbours_.watch(record.account);
  const core::Rule* rule = neighbours_.rule(record.rule);
  if (!watch || !rule || !rule->top_up || !record.settled_at) return;
  // The last poll that cannot include the credit: the latest if it came before the
  // settlement, otherwise the one before it.
  std::optional<core::Observation> before = watch->latest;
  if (before && before->at >= *record.settled_at) before = watch->previous;
  if (const auto floor = deposit_floors_.find(record.key); floor != deposit_floors_.end()) {
    const std::optional<core::Money> lowest = floor->second.lowest;
    if (before && lowest && lowest->currency() == before->balance.currency() && *lowest < before->balance) {
      before->balance = *lowest;
    }
    deposit_floors_.erase(floor);
  }
  if (!before || !(before->balance.currency() == record.amount.currency())) return;
  const auto& verify = rule->top_up->verify;
  // A QRIS payment arrives less the gateway's fee: that is what the balance must show.
  core::Money expected = record.amount;
  if (record.rail < core::rail_count(*rule->top_up)) {
    const core::Rail rail = core::rail_at(*rule->top_up, record.rail);
    if (rail.deposit) expected = core::expected_credit(rail.deposit->to, record.amount);
  }
  verifications_[record.account].push_back({record.key, record.rule, record.account, expected, before->balance,
                                            *record.settled_at, *record.settled_at + verify.within,
                                            verify.tolerance_percent});
}

void TopUpExecutor::observed(const std::string& account, const core::Observation& observation) {
  for (auto& [key, floor] : deposit_floors_) {
    if (floor.account != account) continue;
    if (!floor.lowest || (floor.lowest->currency() == observation.balance.currency() && observation.balance < *floor.lowest)) {
      floor.lowest = observation.balance;
    }
  }
  const auto pending = verifications_.find(account);
  if (pending == verifications_.end()) return;
  std::erase_if(pending->second, [&](const PendingVerification& v) {
    if (observation.at < v.settled_at) return false;
    if (!core::reflects_top_up(v.before, observation.balance, v.amount, v.tolerance_percent)) return false;
    // A deposit's money lands after its payment settled: its credit counts (for runway)
    // from the first poll that shows it, not from the payment's settlement.
    if (const auto seq = index_.of_key(v.key); seq && at(*seq).method == core::TopUpMethod::deposit) {
      at(*seq).settled_at = observation.at;
    }
    spdlog::info("top-up reflected in the balance topup={} account={} before={} now={}", field(v.key), field(v.account),
                 field(core::format_human(v.before)), field(core::format_human(observation.balance)));
    return true;
  });
  if (pending->second.empty()) verifications_.erase(pending);
}

void TopUpExecutor::expire_verifications(core::Timestamp now) {
  for (auto& [account, pending] : verifications_) expire_verifications(pending, now);
  std::erase_if(verifications_, [](const auto& pending) { return pending.second.empty(); });
}

void TopUpExecutor::expire_verifications(std::vector<PendingVerification>& pending, core::Timestamp now) {
  std::erase_if(pending, [&](const PendingVerification& v) {
    if (now <= v.deadline) return false;
    metrics_.count_not_reflected(v.rule);
    const core::AccountWatch* watch = neighbours_.watch(v.account);
    const std::optional<core::Money> balance =
        watch && watch->latest ? std::optional(watch->latest->balance) : std::nullopt;
    const std::string reason = fmt::format(
        "TopUpNotReflected: the gateway reported {} succeeded, but within {} the balance did not rise by it "
        "(was {} before it settled{})",
        core::format_human(v.amount), core::format_duration(v.deadline - v.settled_at), core::format_human(v.before),
        balance ? ", now " + core::format_human(*balance) : "");
    spdlog::error("{} topup={} rule={} account={}", reason, field(v.key), field(v.rule), field(v.account));
    if (neighbours_.outcome) neighbours_.outcome(v.rule, "not_reflected", reason);
    if (neighbours_.top_up_event) {
      if (const auto seq = index_.of_key(v.key)) neighbours_.top_up_event("top_up.needs_attention", at(*seq), reason);
    }
    const core::Rule* rule = neighbours_.rule(v.rule);
    if (rule && rule->alert) {
      adapters::Notification n;
      n.kind = core::DecisionKind::alert_firing;
      n.rule = v.rule;
      n.account = v.account;
      n.severity = "critical";
      n.reason = reason;
      n.balance = balance;
      n.action = fmt::format("top-up {} of {} succeeded at the gateway", v.key, core::format_human(v.amount));
      n.at = n.fired_at = clock_.now();
      metrics_.count_alert(v.rule, "critical");
      neighbours_.alert(n, rule->alert->notify);
    }
    return true;
  });
}

adapters::Notification TopUpExecutor::notification_about(const TopUpRecord& r, const std::string& alert,
                                                        const std::string& severity, bool firing) const {
  adapters::Notification n;
  n.kind = firing ? core::DecisionKind::alert_firing : core::DecisionKind::alert_resolved;
  n.rule = r.rule;
  n.alert = alert;
  n.account = r.account;
  n.severity = severity;
  n.top_up = adapters::TopUpSummary{r.key, r.amount, std::string(core::to_string(r.method)),
                                    std::string(core::to_string(r.state)), false};
  if (const core::AccountWatch* watch = neighbours_.watch(r.account); watch && watch->latest) {
    n.balance = watch->latest->balance;
  }
  n.at = clock_.now();
  return n;
}

void TopUpExecutor::watch_stuck(core::Timestamp now) {
  const core::StuckWatch::StuckAfter stuck_after = [this](const TopUpRecord& record) {
    const core::Rule* rule = neighbours_.rule(record.rule);
    return rule && rule->top_up ? rule->top_up->stuck_after : core::kDefaultStuckAfter;
  };
  for (const auto& change : stuck_.step(journal_, stuck_after, now)) {
    const TopUpRecord& r = change.record;
    if (!owned(r.account)) continue;  // its owner watches it
    const bool started = change.kind == core::StuckChange::Kind::started;
    const std::string age = core::format_duration(std::chrono::floor<std::chrono::seconds>(change.age));
    const std::string reference = r.reference.empty() ? "none yet" : r.reference;
    adapters::Notification n = notification_about(r, "TopUpStuck", "warning", started);
    n.reason = started ? fmt::format("TopUpStuck: top-up {} has been {} for {} (gateway reference: {}); topupd keeps "
                                     "looking it up and never sends it again",
                                     r.key, core::to_string(r.state), age, reference)
                       : fmt::format("top-up {} ended {} after {} (gateway reference: {})", r.key,
                                     core::to_string(r.state), age, reference);
    n.at = now;
    n.fired_at = change.stuck_at;
    if (started) {
      spdlog::warn("{} topup={} rule={} account={}", n.reason, field(r.key), field(r.rule), field(r.account));
      metrics_.count_alert(r.rule, n.severity);
      if (neighbours_.top_up_event) neighbours_.top_up_event("top_up.needs_attention", r, n.reason);
    } else {
      spdlog::info("TopUpStuck resolved: {} topup={} rule={} account={}", n.reason, field(r.key), field(r.rule),
                   field(r.account));
    }
    const core::Rule* rule = neighbours_.rule(r.rule);
    if (rule && rule->alert) neighbours_.alert(n, rule->alert->notify);
  }
}

}  // namespace topupd::app
