#include "topupd/core/rules.hpp"

#include <fmt/format.h>

#include "topupd/core/demands.hpp"
#include "topupd/core/runway.hpp"

namespace topupd::core {

std::string_view to_string(TopUpMethod method) {
  switch (method) {
    case TopUpMethod::direct_debit: return "direct_debit";
    case TopUpMethod::sweep: return "sweep";
    case TopUpMethod::deposit: return "deposit";
  }
  return "unknown";
}

std::optional<TopUpMethod> top_up_method_from(std::string_view text) {
  for (TopUpMethod m : {TopUpMethod::direct_debit, TopUpMethod::sweep, TopUpMethod::deposit}) {
    if (to_string(m) == text) return m;
  }
  return std::nullopt;
}

std::string_view to_string(Condition::Kind kind) {
  switch (kind) {
    case Condition::Kind::below: return "below";
    case Condition::Kind::above: return "above";
    case Condition::Kind::runway_below: return "runway_below";
    case Condition::Kind::stale_for: return "stale_for";
    case Condition::Kind::schedule: return "schedule";
    case Condition::Kind::cover_demands: return "cover_demands";
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

namespace {

struct ConditionCheck {
  bool known = false;  // false: nothing to judge by yet (no observation); state stays as it is
  bool holds = false;
  std::optional<Duration> runway;
  RunwayEstimate estimate;  // runway_below, cover_demands
  std::optional<DemandCover> cover;  // cover_demands
};

// Judging is cheap and happens at every poll; the words come only with a decision.
ConditionCheck check_condition(const Rule& rule, const RuleInputs& in) {
  ConditionCheck out;
  const Condition& c = rule.when;
  switch (c.kind) {
    case Condition::Kind::below:
    case Condition::Kind::above: {
      if (!in.latest) return out;
      const Money& balance = in.latest->balance;
      out.known = true;
      out.holds = c.kind == Condition::Kind::below ? balance < c.threshold : balance > c.threshold;
      return out;
    }
    case Condition::Kind::runway_below: {
      if (!in.latest) return out;
      out.known = true;
      out.estimate = estimate_runway(in.history, in.own_credits, in.now, c.window, in.history_index);
      out.runway = out.estimate.runway;
      out.holds = out.estimate.enough_data && out.runway && *out.runway < c.duration;
      return out;
    }
    case Condition::Kind::stale_for: {
      const std::optional<Timestamp> since = in.latest ? std::optional(in.latest->at) : in.monitoring_since;
      if (!since) return out;
      out.known = true;
      out.holds = in.now - *since >= c.duration;
      return out;
    }
    case Condition::Kind::cover_demands: {
      if (!in.latest) return out;
      out.known = true;
      if (in.demands.empty()) return out;
      out.estimate = estimate_runway(in.history, in.own_credits, in.now, c.window, in.history_index);
      out.cover = cover_needed(c, in.demands, in.latest->balance, out.estimate, in.now);
      out.holds = out.cover->count > 0 && !out.cover->overflow && in.latest->balance < out.cover->target;
      return out;
    }
    case Condition::Kind::schedule:
      return out;
  }
  return out;
}

// "balance IDR 9.00 < IDR 10.00", "runway 1h < 2h (…)", …: what `check` found, in words.
std::string condition_text(const Rule& rule, const RuleInputs& in, const ConditionCheck& check) {
  const Condition& c = rule.when;
  switch (c.kind) {
    case Condition::Kind::below:
    case Condition::Kind::above: {
      if (!in.latest) return "";
      const bool below = c.kind == Condition::Kind::below;
      return fmt::format("balance {} {} {}", format_human(in.latest->balance),
                         check.holds ? (below ? "<" : ">") : (below ? ">=" : "<="), format_human(c.threshold));
    }
    case Condition::Kind::runway_below: {
      if (!in.latest) return "";
      const RunwayEstimate& estimate = check.estimate;
      if (!estimate.enough_data) {
        return fmt::format("not enough observations in the last {} to estimate a runway", format_duration(c.window));
      }
      if (!estimate.runway) return fmt::format("balance {} is not falling", format_human(in.latest->balance));
      return fmt::format("runway {} {} {} (balance {}, burning {} an hour over the last {})",
                         format_duration(std::chrono::floor<std::chrono::seconds>(*estimate.runway)),
                         check.holds ? "<" : ">=", format_duration(c.duration), format_human(in.latest->balance),
                         format_human(Money(estimate.burn_per_hour_minor, in.latest->balance.currency())),
                         format_duration(c.window));
    }
    case Condition::Kind::stale_for: {
      const std::optional<Timestamp> since = in.latest ? std::optional(in.latest->at) : in.monitoring_since;
      if (!since) return "";
      const std::string age_text = format_duration(std::chrono::floor<std::chrono::seconds>(in.now - *since));
      if (!check.holds) return fmt::format("last successful poll {} ago", age_text);
      if (in.latest) return fmt::format("no successful poll for {} (since {})", age_text, format_rfc3339(*since));
      return fmt::format("no successful poll since monitoring began {} ago", age_text);
    }
    case Condition::Kind::cover_demands: {
      if (!in.latest) return "";
      if (!check.cover || check.cover->count == 0) {
        return fmt::format("no demand due within {}", format_duration(c.duration));
      }
      const DemandCover& d = *check.cover;
      if (d.overflow) return "the demands due do not add up within int64: nothing decided from them";
      std::string text = fmt::format(
          "{} demand{} of {} due from {} within {}, burn {} until the last, keep {}: balance {} {} {}", d.count,
          d.count == 1 ? "" : "s", format_human(d.due), format_rfc3339(*d.first_due), format_duration(c.duration),
          format_human(d.burn), format_human(c.threshold), format_human(in.latest->balance),
          check.holds ? "<" : ">=", format_human(d.target));
      // Decided later than the lead before the first demand: the money may come late.
      if (check.holds && in.now > *d.first_due - c.lead) {
        text += fmt::format("; late: less than the lead {} before the first", format_duration(c.lead));
      }
      return text;
    }
    case Condition::Kind::schedule:
      return "";
  }
  return "";
}

Decision make_decision(DecisionKind kind, const Rule& rule, const RuleInputs& in, std::string reason,
                       const ConditionCheck& check) {
  Decision d{kind, rule.name, rule.account, std::move(reason), std::nullopt, std::nullopt, check.runway,
             std::nullopt, {}, std::nullopt, {}, false};
  if (in.latest) d.balance = in.latest->balance;
  if (rule.when.kind == Condition::Kind::below || rule.when.kind == Condition::Kind::above) {
    d.threshold = rule.when.threshold;
  }
  return d;
}

// Adds a top-up decision when every guard allows one; otherwise says why not. A need
// goes to the first rail that can take it; a continuation (a rail failed at the
// gateway) goes on from the rail after it, under its own key, before any cooldown.
void try_top_up(const Rule& rule, const RuleInputs& in, Timestamp window_start, const ConditionCheck& check,
                Evaluation& out) {
  // Covering demands: to the balance that covers them, then the rule's rounding and limits.
  std::optional<TopUpSpec> covering;
  if (check.cover) {
    covering = *rule.top_up;
    covering->amount.kind = AmountSpec::Kind::to_target;
    covering->amount.value = check.cover->target;
  }
  const TopUpSpec& spec = covering ? *covering : *rule.top_up;
  RuleState& next = out.next;
  // A condition rule's need is its firing episode: a failure from an earlier one is past.
  std::optional<RailContinuation> continues = in.continues;
  if (continues && rule.when.kind != Condition::Kind::schedule && next.fired_at && continues->since < *next.fired_at) {
    continues.reset();
  }
  if (in.schedule_due) continues.reset();  // a new due time is a new need
  if (in.suspended) {
    out.top_up_held_back = fmt::format("the rule is suspended ({}); topupctl resume-rule {} lets it top up again",
                                       *in.suspended, rule.name);
    return;
  }
  if (in.top_up_in_flight) {
    out.top_up_held_back = "a top-up for this account is in flight";
    return;
  }
  if (in.balance_predates_last_outcome) {
    // Read before the last top-up ended, the balance may lack its credit: a need seen in
    // it may be gone already. The next poll decides.
    out.top_up_held_back = fmt::format("the balance of {} was read before its last top-up ended", rule.account);
    return;
  }
  if (!in.latest_is_fresh) {
    // Never on a stale balance: what it would top up to, or whether it is needed at
    // all, is not known.
    out.top_up_held_back = fmt::format("no fresh balance of {}", rule.account);
    return;
  }
  if (!continues && next.last_top_up_at && in.now - *next.last_top_up_at < spec.limits.cooldown) {
    out.top_up_held_back = fmt::format("cooldown {} since the last top-up has not elapsed",
                                       format_duration(spec.limits.cooldown));
    return;
  }
  if (!continues && spec.limits.max_per_day && in.usage && in.usage->count >= *spec.limits.max_per_day) {
    out.top_up_held_back = fmt::format("max_per_day {} reached", *spec.limits.max_per_day);
    return;
  }
  // The rails passed over, in words: every decision names them.
  std::string passed_over;
  const auto pass_over = [&](std::size_t index, const std::string& why) {
    passed_over += fmt::format("{}rail {} ({}) skipped: {}", passed_over.empty() ? "" : "; ", index + 1,
                               describe(rail_at(spec, index)), why);
  };
  std::size_t index = continues ? continues->rail : 0;
  if (continues && index > 0) pass_over(index - 1, "failed: " + continues->failed);
  AmountResult amount;
  bool all_short = true;
  for (; index < rail_count(spec); ++index) {
    amount = amount_on_rail(spec, index, in);
    if (amount.amount) break;
    all_short = all_short && amount.source_short;
    pass_over(index, amount.why);
  }
  if (!amount.amount) {
    // One rail: its own words, as before there were several.
    out.top_up_held_back = rail_count(spec) == 1 && !continues ? amount.why : passed_over;
    out.held_back_by_source = all_short;
    return;
  }
  const TopUpSpec rail = on_rail(spec, index);
  std::string strategy;
  switch (spec.amount.kind) {
    case AmountSpec::Kind::fixed: strategy = "fixed " + format_human(spec.amount.value); break;
    case AmountSpec::Kind::to_target: strategy = "to target " + format_human(spec.amount.value); break;
    case AmountSpec::Kind::percent_of_source:
      strategy = fmt::format("{}.{:02}% of {}", spec.amount.percent_basis_points / 100,
                             spec.amount.percent_basis_points % 100, rail.source);
      break;
  }
  std::string shaped;
  for (const auto& limit : amount.shaped_by) shaped += (shaped.empty() ? "" : ", ") + limit;
  Decision decision = make_decision(
      DecisionKind::top_up, rule, in,
      fmt::format("{}; {} {} {}{}{}",
                  rule.when.kind == Condition::Kind::schedule ? fmt::format("schedule \"{}\" due", rule.when.schedule->text)
                                                              : condition_text(rule, in, check),
                  to_string(rail.method), format_human(*amount.amount), strategy,
                  shaped.empty() ? "" : " (shaped by " + shaped + ")",
                  passed_over.empty() ? "" : fmt::format(" on rail {}; {}", index + 1, passed_over)),
      check);
  decision.amount = amount.amount;
  decision.shaped_by = std::move(amount.shaped_by);
  decision.needs_approval = spec.limits.approval_above && *amount.amount > *spec.limits.approval_above;
  if (decision.needs_approval) {
    decision.reason += fmt::format("; above approval_above {}: waits for approval",
                                   format_human(*spec.limits.approval_above));
  }
  decision.rail = static_cast<std::uint32_t>(index);
  if (continues) {
    // The same need: its key names it and the rail, and the episode's count stays.
    decision.need = continues->need;
    decision.idempotency_key = fmt::format("{}-rail{}", continues->need, index + 1);
  } else {
    decision.idempotency_key = idempotency_key(rule.name, rule.account, window_start, next.top_ups_in_episode);
    if (index > 0) {
      decision.need = decision.idempotency_key;
      decision.idempotency_key += fmt::format("-rail{}", index + 1);
    }
    next.top_ups_in_episode += 1;
  }
  decision.top_up = rail;
  next.last_top_up_at = in.now;
  out.decisions.push_back(std::move(decision));
}

}  // namespace

std::string idempotency_key(std::string_view rule, std::string_view account, Timestamp window_start,
                            std::uint32_t sequence) {
  return fmt::format("topupd-{}-{}-{}-{}", rule, account, window_start.time_since_epoch().count(), sequence);
}

RuleState clamped_to(RuleState state, Timestamp now) {
  for (std::optional<Timestamp>* at : {&state.condition_since, &state.fired_at, &state.last_alert_at, &state.last_top_up_at}) {
    if (*at && **at > now) *at = now;
  }
  return state;
}

Evaluation evaluate(const Rule& rule, const RuleState& state, const RuleInputs& in) {
  Evaluation out{state, {}, std::nullopt};
  if (!rule.enabled) return out;
  RuleState& next = out.next;

  if (rule.when.kind == Condition::Kind::schedule) {
    // Between due times only a need whose rail failed goes on (gather_rule_inputs keeps
    // it to its own due time).
    if (!rule.top_up || (!in.schedule_due && !in.continues)) return out;
    if (in.schedule_due) next.top_ups_in_episode = 0;  // each due time is its own window
    try_top_up(rule, in, in.now, ConditionCheck{}, out);
    return out;
  }

  const ConditionCheck check = check_condition(rule, in);
  if (!check.known) return out;
  if (rule.when.kind == Condition::Kind::runway_below) out.runway_estimate = check.estimate;

  switch (state.phase) {
    case RulePhase::inactive:
    case RulePhase::pending: {
      if (!check.holds) {
        next.phase = RulePhase::inactive;
        next.condition_since.reset();
        break;
      }
      if (!next.condition_since) next.condition_since = in.now;
      if (in.now - *next.condition_since < rule.hold_for) {
        next.phase = RulePhase::pending;
        break;
      }
      next.phase = RulePhase::firing;
      next.fired_at = in.now;
      next.top_ups_in_episode = 0;
      if (rule.alert) {
        next.last_alert_at = in.now;
        out.decisions.push_back(make_decision(
            DecisionKind::alert_firing, rule, in,
            rule.hold_for.count() > 0
                ? fmt::format("{} for {}", condition_text(rule, in, check),
                              format_duration(in.now - *next.condition_since))
                : condition_text(rule, in, check),
            check));
      }
      break;
    }
    case RulePhase::firing: {
      bool cleared = !check.holds;
      if (rule.clear) {
        if (!in.latest) break;
        const Money& balance = in.latest->balance;
        cleared = rule.clear->above ? balance > rule.clear->value : balance < rule.clear->value;
      }
      if (cleared) {
        const std::string why =
            rule.clear ? fmt::format("balance {} {} clear {}", format_human(in.latest->balance),
                                     rule.clear->above ? ">" : "<", format_human(rule.clear->value))
                       : condition_text(rule, in, check);
        next.phase = RulePhase::inactive;
        next.condition_since.reset();
        next.fired_at.reset();
        if (rule.alert) out.decisions.push_back(make_decision(DecisionKind::alert_resolved, rule, in, why, check));
        return out;
      }
      if (rule.alert && rule.alert->repeat.count() > 0 && next.last_alert_at &&
          in.now - *next.last_alert_at >= rule.alert->repeat) {
        next.last_alert_at = in.now;
        out.decisions.push_back(make_decision(DecisionKind::alert_repeat, rule, in,
                                              fmt::format("{}; firing since {}", condition_text(rule, in, check),
                                                          format_rfc3339(*next.fired_at)),
                                              check));
      }
      break;
    }
  }
  if (next.phase == RulePhase::firing && rule.top_up) try_top_up(rule, in, *next.fired_at, check, out);
  return out;
}

std::optional<Timestamp> next_time_driven_evaluation(const Rule& rule, const RuleState& state,
                                                     const RuleInputs& in) {
  if (!rule.enabled || rule.when.kind == Condition::Kind::schedule) return std::nullopt;
  std::optional<Timestamp> due;
  auto consider = [&](Timestamp at) {
    if (!due || at < *due) due = at;
  };
  switch (state.phase) {
    case RulePhase::inactive:
      // Only the age of the last success grows by itself; balances and runways need a poll.
      if (rule.when.kind == Condition::Kind::stale_for) {
        const std::optional<Timestamp> since = in.latest ? std::optional(in.latest->at) : in.monitoring_since;
        if (since) consider(*since + rule.when.duration);
      }
      break;
    case RulePhase::pending:
      if (state.condition_since) consider(*state.condition_since + rule.hold_for);
      break;
    case RulePhase::firing:
      // With `clear` and nothing observed yet, `evaluate` cannot tell whether it cleared
      // and so repeats nothing.
      if (rule.clear && !in.latest) break;
      if (rule.alert && rule.alert->repeat.count() > 0 && state.last_alert_at) {
        consider(*state.last_alert_at + rule.alert->repeat);
      }
      break;
  }
  return due;
}

}  // namespace topupd::core
