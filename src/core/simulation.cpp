#include "topupd/core/simulation.hpp"

#include <deque>

#include "topupd/core/cron.hpp"

namespace topupd::core {
namespace {

struct Movement {
  Timestamp settles_at;
  std::string account;
  Money amount;
};

struct AccountTrack {
  Currency currency;
  Money adjustment;                     // what topupd's settled movements changed so far
  std::optional<Observation> latest;    // simulated (adjusted) balance
  std::vector<Observation> history;     // for runway rules
  Duration history_window{0};
  std::vector<Credit> credits;          // settled movements into the account, dated by the row that showed them
  std::vector<Money> unseen;            // settled, but no row of the account has shown them yet
  std::size_t in_flight = 0;
};

class Simulator {
 public:
  Simulator(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts, const TimeZone& zone,
            Duration settle_delay)
      : rules_(rules),
        zone_(zone),
        settle_delay_(settle_delay),
        states_(rules.size()),
        // One per rule, by index; reset to the rule's currency on its first day.
        usage_(rules.size(), DailyUsage{{}, Money(0, *Currency::find("IDR")), 0}) {
    for (const auto& account : accounts) {
      const Money zero(0, account.currency);
      tracks_.emplace(account.name, AccountTrack{account.currency, zero, std::nullopt, {}, Duration(0), {}, {}, 0});
      result_.accounts.emplace(account.name, AccountSummary{0, 0, zero, zero, zero, std::nullopt, std::nullopt});
    }
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      const Rule& rule = rules_[i];
      auto track = tracks_.find(rule.account);
      if (track == tracks_.end() || !rule.enabled) continue;
      if (rule.when.kind == Condition::Kind::runway_below) {
        track->second.history_window = std::max(track->second.history_window, rule.when.window);
      }
    }
  }

  SimulationResult run(const std::vector<HistoryRow>& rows) {
    if (rows.empty()) return std::move(result_);
    monitoring_since_ = rows.front().at;
    // Schedules: each rule's next due time, from the first row on.
    std::vector<std::optional<Timestamp>> due(rules_.size());
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (rules_[i].enabled && rules_[i].when.kind == Condition::Kind::schedule) {
        due[i] = next_due(*rules_[i].when.schedule, zone_, rows.front().at - Duration(1));
      }
    }
    for (const auto& row : rows) {
      // Schedules due up to this row, in time order.
      while (true) {
        std::optional<std::size_t> earliest;
        for (std::size_t i = 0; i < due.size(); ++i) {
          if (due[i] && *due[i] <= row.at && (!earliest || *due[i] < *due[*earliest])) earliest = i;
        }
        if (!earliest) break;
        const Timestamp at = *due[*earliest];
        settle(at);
        evaluate(*earliest, at, true);
        due[*earliest] = next_due(*rules_[*earliest].when.schedule, zone_, at);
      }
      settle(row.at);
      observe(row);
      for (std::size_t i = 0; i < rules_.size(); ++i) {
        const Rule& rule = rules_[i];
        if (!rule.enabled) continue;
        const auto kind = rule.when.kind;
        if (kind == Condition::Kind::schedule) continue;
        if (kind == Condition::Kind::stale_for || rule.account == row.account) evaluate(i, row.at, false);
      }
    }
    return std::move(result_);
  }

 private:
  void settle(Timestamp now) {
    while (!pending_.empty() && pending_.front().settles_at <= now) {
      Movement movement = std::move(pending_.front());
      pending_.pop_front();
      AccountTrack& track = tracks_.at(movement.account);
      track.adjustment = track.adjustment.checked_add(movement.amount).value_or(track.adjustment);
      track.unseen.push_back(movement.amount);
      track.in_flight -= 1;
    }
  }

  void observe(const HistoryRow& row) {
    AccountTrack& track = tracks_.at(row.account);
    const Money simulated = row.balance.checked_add(track.adjustment).value_or(row.balance);
    track.latest = Observation{row.account, simulated, row.at};
    for (const Money& amount : track.unseen) track.credits.push_back({row.at, amount});
    track.unseen.clear();
    if (track.history_window.count() > 0) {
      track.history.push_back(*track.latest);
      const Timestamp horizon = row.at - track.history_window;
      std::size_t drop = 0;
      while (drop < track.history.size() && track.history[drop].at < horizon) ++drop;
      if (drop > 0) track.history.erase(track.history.begin(), track.history.begin() + static_cast<std::ptrdiff_t>(drop));
      while (!track.credits.empty() && track.credits.front().at < horizon) track.credits.erase(track.credits.begin());
    }
    AccountSummary& summary = result_.accounts.at(row.account);
    if (!summary.min_balance || simulated < *summary.min_balance) summary.min_balance = simulated;
    if (!summary.min_balance_without_topupd || row.balance < *summary.min_balance_without_topupd) {
      summary.min_balance_without_topupd = row.balance;
    }
  }

  void evaluate(std::size_t index, Timestamp now, bool schedule_due) {
    const Rule& rule = rules_[index];
    AccountTrack& track = tracks_.at(rule.account);
    RuleInputs in;
    in.now = now;
    in.latest = track.latest;
    in.monitoring_since = monitoring_since_;
    in.history = track.history;
    in.own_credits = track.credits;
    in.top_up_in_flight = track.in_flight > 0;
    in.schedule_due = schedule_due;
    if (rule.top_up && rule.top_up->method == TopUpMethod::sweep) {
      auto source = tracks_.find(rule.top_up->source);
      if (source != tracks_.end() && source->second.latest) in.source_balance = source->second.latest->balance;
    }
    DailyUsage& usage = usage_[index];
    const auto day = zone_.local_day(now);
    if (usage.day != day) usage = DailyUsage{day, Money(0, track.currency), 0};
    in.today = usage;

    Evaluation evaluation = core::evaluate(rule, states_[index], in);
    states_[index] = evaluation.next;
    for (auto& decision : evaluation.decisions) record(rule, decision, now, usage);
  }

  void record(const Rule& rule, const Decision& decision, Timestamp now, DailyUsage& usage) {
    AccountTrack& track = tracks_.at(rule.account);
    AccountSummary& summary = result_.accounts.at(rule.account);
    switch (decision.kind) {
      case DecisionKind::alert_firing:
        summary.alerts += 1;
        result_.events.push_back({now, rule.name, rule.account, "alert_firing", std::nullopt, track.currency, decision.reason});
        return;
      case DecisionKind::alert_resolved:
        result_.events.push_back({now, rule.name, rule.account, "alert_resolved", std::nullopt, track.currency, decision.reason});
        return;
      case DecisionKind::alert_repeat:
        return;  // a reminder, not a change
      case DecisionKind::top_up: break;
    }
    const Money amount = *decision.amount;
    usage.amount = usage.amount.checked_add(amount).value_or(usage.amount);
    usage.count += 1;
    const bool sweep = decision.top_up->method == TopUpMethod::sweep;
    std::string reason = decision.reason;
    if (decision.needs_approval) reason += " (assumed approved)";
    result_.events.push_back({now, rule.name, rule.account, sweep ? "sweep" : "top_up", amount, track.currency, reason});
    if (sweep) {
      AccountTrack& source = tracks_.at(decision.top_up->source);
      source.adjustment = source.adjustment.checked_sub(amount).value_or(source.adjustment);
      if (source.latest) source.latest->balance = source.latest->balance.checked_sub(amount).value_or(source.latest->balance);
      summary.sweeps_in_total = summary.sweeps_in_total.checked_add(amount).value_or(summary.sweeps_in_total);
      AccountSummary& out = result_.accounts.at(decision.top_up->source);
      out.sweeps_out_total = out.sweeps_out_total.checked_add(amount).value_or(out.sweeps_out_total);
    } else {
      summary.top_ups += 1;
      summary.top_up_total = summary.top_up_total.checked_add(amount).value_or(summary.top_up_total);
    }
    track.in_flight += 1;
    pending_.push_back({now + settle_delay_, rule.account, amount});
    settle(now);  // a zero delay settles at once
  }

  const std::vector<Rule>& rules_;
  const TimeZone& zone_;
  Duration settle_delay_;
  std::vector<RuleState> states_;
  std::vector<DailyUsage> usage_;
  std::map<std::string, AccountTrack> tracks_;
  std::deque<Movement> pending_;  // settle times are non-decreasing: decisions come in time order
  Timestamp monitoring_since_{};  // the first row: stale_for counts from there
  SimulationResult result_;
};

}  // namespace

SimulationResult simulate(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts,
                          const TimeZone& zone, const std::vector<HistoryRow>& rows, Duration settle_delay) {
  return Simulator(rules, accounts, zone, settle_delay).run(rows);
}

}  // namespace topupd::core
