#include "topupd/core/rule_inputs.hpp"

#include <algorithm>

namespace topupd::core {

namespace {

// Appends `observation` and drops rows older than `window` before it — in batches,
// once the oldest is a whole window past it, so a row costs O(1) on average rather
// than moving the whole window. Readers look only within their window.
void keep_window(std::vector<Observation>& rows, const Observation& observation, Duration window,
                 RunwayIndex* index = nullptr) {
  rows.push_back(observation);
  const Timestamp horizon = observation.at - window;
  if (rows.front().at >= horizon - window) {
    if (index) index->append(rows);
    return;
  }
  const auto keep = std::find_if(rows.begin(), rows.end(), [&](const Observation& o) { return o.at >= horizon; });
  rows.erase(rows.begin(), keep);
  if (index) index->rebuild(rows);
}

}  // namespace

bool record_observation(AccountWatch& watch, const Observation& observation) {
  watch.consecutive_failures = 0;
  watch.previous = std::move(watch.latest);
  watch.latest = observation;
  if (watch.history_window.count() > 0) {
    keep_window(watch.history, observation, watch.history_window,
                watch.history_index ? &*watch.history_index : nullptr);
  }
  const bool sampled =
      watch.runway_samples.empty() || observation.at - watch.runway_samples.back().at >= kRunwaySampleSpacing;
  if (sampled) keep_window(watch.runway_samples, observation, kExportedRunwayWindow);
  return sampled;
}

void record_poll_failure(AccountWatch& watch) { watch.consecutive_failures += 1; }

std::optional<Observation> fresh_latest(const AccountWatch& watch, Timestamp now) {
  if (!watch.latest || watch.consecutive_failures > 0) return std::nullopt;
  if (now - watch.latest->at > 2 * watch.poll_every + watch.poll_timeout) return std::nullopt;
  return watch.latest;
}

bool uses_burn_rate(const Rule& rule) {
  return rule.when.kind == Condition::Kind::runway_below || rule.when.kind == Condition::Kind::cover_demands;
}

HistoryWindows::HistoryWindows(std::span<const Rule> rules) {
  for (const auto& rule : rules) {
    if (!rule.enabled || !uses_burn_rate(rule)) continue;
    Duration& window = windows_.try_emplace(rule.account, Duration{0}).first->second;
    window = std::max(window, rule.when.window);
  }
}

Duration HistoryWindows::of(std::string_view account) const {
  const auto it = windows_.find(account);
  return it == windows_.end() ? Duration{0} : it->second;
}

bool top_up_in_flight(JournalView journal, std::string_view account) {
  return std::any_of(journal.begin(), journal.end(),
                     [&](const TopUpRecord& r) { return r.account == account && !is_terminal(r.state); });
}

bool ended_after(JournalView journal, std::string_view account, Timestamp asked) {
  return std::any_of(journal.begin(), journal.end(), [&](const TopUpRecord& r) {
    return r.account == account && r.balance_shows_from && asked < *r.balance_shows_from;
  });
}

CapUsage usage_now(JournalView journal, const Rule& rule, const Currency& currency,
                   const TimeZone& zone, Timestamp now) {
  using namespace std::chrono;
  const sys_days day = zone.local_day(now);
  const sys_days monday = day - days((weekday(day).iso_encoding() + 6) % 7);
  const year_month month = year_month_day(day).year() / year_month_day(day).month();
  CapUsage usage{day, Money(0, currency), 0};
  const auto add = [](std::optional<Money>& total, const Money& amount) {
    if (!total) total = Money(0, amount.currency());
    if (auto sum = total->checked_add(amount)) total = *sum;
  };
  for (const auto& record : journal) {
    if (record.rule != rule.name || !counts_toward_limits(record.state)) continue;
    const sys_days created = zone.local_day(record.created_at);
    if (created == day) {
      if (auto total = usage.amount.checked_add(record.amount)) usage.amount = *total;
      usage.count += 1;
    }
    if (created >= monday && created < monday + days(7)) add(usage.week_amount, record.amount);
    const year_month_day created_date(created);
    if (created_date.year() / created_date.month() == month) add(usage.month_amount, record.amount);
  }
  return usage;
}

std::vector<CapLeft> caps_left(const Limits& limits, const CapUsage& usage) {
  std::vector<CapLeft> out;
  for (const auto& c : cap_uses(limits, usage)) {
    const Money zero(0, c.cap.currency());
    const auto left = c.cap.checked_sub(c.used);
    out.push_back({c.name, left && left->is_positive() ? *left : zero});
  }
  return out;
}

Duration keep_top_ups_for(std::span<const Rule> rules) {
  using namespace std::chrono;
  Duration keep{hours(48)};
  for (const auto& rule : rules) {
    if (uses_burn_rate(rule)) keep = std::max(keep, rule.when.window);
    // A calendar period began at most its length ago, plus a day for the time zone.
    if (rule.top_up && rule.top_up->limits.per_week) keep = std::max<Duration>(keep, days(8));
    if (rule.top_up && rule.top_up->limits.per_month) keep = std::max<Duration>(keep, days(32));
  }
  return keep;
}

bool forgettable(const TopUpRecord& record, Timestamp horizon) {
  if (!is_terminal(record.state) || record.created_at >= horizon) return false;
  // A credit counts from the poll that first shows it: until it has one, runway needs it.
  if (record.state == TopUpState::succeeded) return record.settled_at && *record.settled_at < horizon;
  return true;
}

void append_credits(JournalView journal, std::string_view account, std::vector<Credit>& out) {
  for (const auto& record : journal) {
    if (record.account == account && record.state == TopUpState::succeeded && record.settled_at) {
      out.push_back({*record.settled_at, record.amount});
    }
  }
}

std::optional<RailContinuation> rail_continuation(const Rule& rule, JournalView journal,
                                                  const TimeZone& zone, Timestamp now) {
  // One rail: nothing to go on to, and no need to read the journal for it.
  if (!rule.top_up || rail_count(*rule.top_up) < 2) return std::nullopt;
  const auto latest = std::find_if(journal.rbegin(), journal.rend(),
                                   [&](const TopUpRecord& r) { return r.rule == rule.name; });
  if (latest == journal.rend() || latest->state != TopUpState::failed) return std::nullopt;
  if (latest->rail + 1 >= rail_count(*rule.top_up)) return std::nullopt;
  const std::string& need = latest->need.empty() ? latest->key : latest->need;
  // The need began with its first rail: the record of that key, or this one.
  Timestamp since = latest->created_at;
  for (const auto& r : journal) {
    if (r.key == need) {
      since = r.created_at;
      break;
    }
  }
  if (rule.when.kind == Condition::Kind::schedule) {
    const auto due = next_due(*rule.when.schedule, zone, since);
    if (!due || *due <= now) return std::nullopt;
  }
  return RailContinuation{need, latest->rail + 1, latest->last_error.empty() ? "failed" : latest->last_error, since};
}

RuleInputs gather_rule_inputs(const Rule& rule, const AccountWatch& account, const WatchOf& watch_of,
                              JournalView account_records, JournalView rule_records, const Currency& currency,
                              const TimeZone& zone, Timestamp now, std::vector<Credit>& credits) {
  RuleInputs in;
  in.now = now;
  in.latest = account.latest;
  in.latest_is_fresh = fresh_latest(account, now).has_value();
  in.monitoring_since = account.monitoring_since;
  in.history = account.history;
  if (account.history_index) in.history_index = &*account.history_index;
  if (uses_burn_rate(rule)) append_credits(account_records, rule.account, credits);
  in.own_credits = credits;
  if (!rule.top_up) return in;  // the rest reads the journal; only a top-up needs it
  const std::size_t rails = std::min(rail_count(*rule.top_up), kMaxRails);
  for (std::size_t i = 0; i < rails; ++i) {
    const std::string& source = source_account(*rule.top_up, i);
    if (source.empty()) continue;
    if (const AccountWatch* watch = watch_of(source)) {
      if (auto balance = fresh_latest(*watch, now)) in.source_balances[i] = balance->balance;
    }
  }
  // One pass over the journal for what the account's top-ups say now: one in flight, or
  // one that ended after the latest balance was asked for (top_up_in_flight, ended_after).
  for (const auto& r : account_records) {
    if (r.account != rule.account) continue;
    if (!is_terminal(r.state)) in.top_up_in_flight = true;
    else if (in.latest && r.balance_shows_from && in.latest->at < *r.balance_shows_from) {
      in.balance_predates_last_outcome = true;
    }
  }
  if (!in.top_up_in_flight) in.continues = rail_continuation(rule, rule_records, zone, now);
  in.usage = usage_now(rule_records, rule, currency, zone, now);
  return in;
}

std::optional<Timestamp> next_time_driven_evaluation(const Rule& rule, const RuleState& state,
                                                     const AccountWatch& account) {
  RuleInputs in;
  in.latest = account.latest;
  in.monitoring_since = account.monitoring_since;
  return next_time_driven_evaluation(rule, state, in);
}

}  // namespace topupd::core
