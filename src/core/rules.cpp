#include "topupd/core/rules.hpp"

#include <fmt/format.h>

namespace topupd::core {

std::string_view to_string(TopUpMethod method) {
  switch (method) {
    case TopUpMethod::direct_debit: return "direct_debit";
    case TopUpMethod::sweep: return "sweep";
  }
  return "unknown";
}

std::string_view to_string(RulePhase phase) {
  switch (phase) {
    case RulePhase::inactive: return "inactive";
    case RulePhase::pending: return "pending";
    case RulePhase::firing: return "firing";
  }
  return "unknown";
}

std::string_view to_string(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::alert_firing: return "alert_firing";
    case DecisionKind::alert_repeat: return "alert_repeat";
    case DecisionKind::alert_resolved: return "alert_resolved";
    case DecisionKind::top_up: return "top_up";
  }
  return "unknown";
}

AmountResult compute_amount(const AmountSpec& spec, const Money& balance) {
  std::optional<Money> amount;
  if (spec.kind == AmountSpec::Kind::fixed) {
    amount = spec.value;
  } else {
    amount = spec.value.checked_sub(balance);
    if (!amount) return {std::nullopt, "target minus balance overflows"};
  }
  if (spec.round_up_to && spec.round_up_to->is_positive() && amount->is_positive()) {
    const std::int64_t step = spec.round_up_to->minor();
    const std::int64_t remainder = amount->minor() % step;
    if (remainder != 0) {
      amount = amount->checked_add(Money(step - remainder, amount->currency()));
      if (!amount) return {std::nullopt, "rounding up overflows"};
    }
  }
  if (spec.min && *amount < *spec.min) amount = *spec.min;
  if (spec.max && *amount > *spec.max) amount = *spec.max;
  if (!amount->is_positive()) {
    return {std::nullopt, fmt::format("amount {} is not positive", format_human(*amount))};
  }
  return {amount, {}};
}

std::string idempotency_key(std::string_view rule, std::string_view account,
                            Timestamp episode_start, std::uint32_t sequence) {
  return fmt::format("topupd-{}-{}-{}-{}", rule, account,
                     episode_start.time_since_epoch().count(), sequence);
}

Evaluation evaluate(const Rule& rule, const RuleState& state, const Observation& observation,
                    const TopUpGuard& guard) {
  Evaluation out{state, {}, std::nullopt};
  RuleState& next = out.next;
  if (!rule.enabled) return out;

  const Money& balance = observation.balance;
  const Timestamp now = observation.at;
  const bool condition = balance < rule.below;

  auto decision = [&](DecisionKind kind, std::string reason) {
    return Decision{kind, rule.name, rule.account, std::move(reason), balance, rule.below,
                    std::nullopt, {}, std::nullopt};
  };
  const std::string comparison =
      fmt::format("balance {} < {}", format_human(balance), format_human(rule.below));

  switch (state.phase) {
    case RulePhase::inactive:
    case RulePhase::pending: {
      if (!condition) {
        next.phase = RulePhase::inactive;
        next.condition_since.reset();
        break;
      }
      if (!next.condition_since) next.condition_since = now;
      if (now - *next.condition_since >= rule.hold_for) {
        next.phase = RulePhase::firing;
        next.fired_at = now;
        next.top_ups_in_episode = 0;
        if (rule.alert) {
          next.last_alert_at = now;
          out.decisions.push_back(decision(
              DecisionKind::alert_firing,
              fmt::format("{} for {}", comparison, format_duration(now - *next.condition_since))));
        }
      } else {
        next.phase = RulePhase::pending;
      }
      break;
    }
    case RulePhase::firing: {
      const bool cleared = rule.clear_above ? balance > *rule.clear_above : !condition;
      if (cleared) {
        next.phase = RulePhase::inactive;
        next.condition_since.reset();
        next.fired_at.reset();
        if (rule.alert) {
          out.decisions.push_back(decision(
              DecisionKind::alert_resolved,
              rule.clear_above ? fmt::format("balance {} > {}", format_human(balance),
                                             format_human(*rule.clear_above))
                               : fmt::format("balance {} >= {}", format_human(balance),
                                             format_human(rule.below))));
        }
        return out;
      }
      if (rule.alert && rule.alert->repeat.count() > 0 && next.last_alert_at &&
          now - *next.last_alert_at >= rule.alert->repeat) {
        next.last_alert_at = now;
        out.decisions.push_back(decision(
            DecisionKind::alert_repeat,
            fmt::format("{} since {}", comparison, format_rfc3339(*next.fired_at))));
      }
      break;
    }
  }

  if (next.phase != RulePhase::firing || !rule.top_up) return out;
  const TopUpSpec& spec = *rule.top_up;
  if (guard.in_flight) {
    out.top_up_held_back = "a top-up for this account is in flight";
    return out;
  }
  if (next.last_top_up_at && now - *next.last_top_up_at < spec.cooldown) {
    out.top_up_held_back = fmt::format("cooldown {} since the last top-up has not elapsed",
                                       format_duration(spec.cooldown));
    return out;
  }
  AmountResult amount = compute_amount(spec.amount, balance);
  if (!amount.amount) {
    out.top_up_held_back = amount.why;
    return out;
  }
  Decision top_up = decision(
      DecisionKind::top_up,
      fmt::format("{}; {} {}", comparison,
                  spec.amount.kind == AmountSpec::Kind::to_target
                      ? "to target " + format_human(spec.amount.value)
                      : "fixed " + format_human(spec.amount.value),
                  spec.amount.min || spec.amount.max || spec.amount.round_up_to
                      ? "(rounded and clamped)"
                      : ""));
  top_up.amount = amount.amount;
  top_up.idempotency_key =
      idempotency_key(rule.name, rule.account, *next.fired_at, next.top_ups_in_episode);
  top_up.top_up = spec;
  next.top_ups_in_episode += 1;
  next.last_top_up_at = now;
  out.decisions.push_back(std::move(top_up));
  return out;
}

}  // namespace topupd::core
