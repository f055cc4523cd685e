#include "topupd/core/simulation.hpp"

#include <algorithm>
#include <deque>

#include "topupd/core/cron.hpp"
#include "topupd/core/rule_inputs.hpp"
#include "topupd/core/topup.hpp"

namespace topupd::core {
namespace {

// Money on its way to an account: journal record `record` (a sequence number, see
// Simulator::journal_) settles at `settles_at`.
struct Movement {
  Timestamp settles_at;
  std::size_t record;
};

struct SimulatedAccount {
  Currency currency;
  AccountWatch watch;
  Money adjustment;                  // what topupd's settled movements changed so far
  std::vector<std::size_t> unseen;   // journal records (sequence numbers) settled, not yet shown by a row
  std::vector<DueDemand> demands{};  // by due time
  std::vector<std::size_t> outcomes{};  // demands[i]'s outcome in the result
  std::size_t next_due = 0;          // the first demand not yet due at the rows seen
  std::optional<Money> last_balance{};  // the latest row's balance with topupd's movements
  std::vector<std::size_t> row_rules{};  // the enabled rules a row of this account evaluates (not schedules)
  AccountSummary* summary = nullptr;     // its entry in the result
};

}  // namespace

class Simulator {
 public:
  Simulator(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts, const TimeZone& zone,
            Duration settle_delay, const std::map<std::string, std::vector<DueDemand>>& demands)
      : rules_(rules), zone_(zone), settle_delay_(settle_delay), keep_top_ups_(keep_top_ups_for(rules)),
        states_(rules.size()), due_(rules.size()), account_of_(rules.size()) {
    const HistoryWindows windows(rules_);
    for (const auto& account : accounts) {
      const Money zero(0, account.currency);
      AccountWatch watch;
      watch.name = account.name;
      watch.poll_every = account.poll_every;
      watch.poll_timeout = account.poll_timeout;
      watch.history_window = windows.of(account.name);
      if (watch.history_window.count() > 0) watch.history_index.emplace();
      auto& summary = result_.accounts
                          .emplace(account.name, AccountSummary{0, 0, zero, zero, zero, std::nullopt, std::nullopt})
                          .first->second;
      auto& simulated = accounts_.emplace(account.name, SimulatedAccount{account.currency, std::move(watch), zero, {}})
                            .first->second;
      simulated.summary = &summary;
    }
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      const auto it = accounts_.find(rules_[i].account);
      if (it == accounts_.end()) continue;
      account_of_[i] = &it->second;
      if (rules_[i].enabled && rules_[i].when.kind != Condition::Kind::schedule) it->second.row_rules.push_back(i);
    }
    for (const auto& [name, due] : demands) {
      const auto it = accounts_.find(name);
      if (it == accounts_.end()) continue;
      SimulatedAccount& account = it->second;
      account.demands = due;
      std::stable_sort(account.demands.begin(), account.demands.end(),
                       [](const DueDemand& a, const DueDemand& b) { return a.due_at < b.due_at; });
      for (const auto& demand : account.demands) {
        account.outcomes.push_back(result_.demands.size());
        result_.demands.push_back(DemandOutcome{name, demand});
      }
    }
  }

  // The next row, in time order: first every evaluation due before it, then its
  // account's rules at it (rows come first at one instant).
  void add(const HistoryRow& row) {
    if (!started_) start(row.at);
    for (std::optional<std::size_t> rule = earliest_due(); rule && *due_[*rule] < row.at; rule = earliest_due()) {
      const Timestamp at = *due_[*rule];
      settle(at);
      evaluate(*rule, at);
    }
    settle(row.at);
    for (const std::size_t i : observe(row).row_rules) evaluate(i, row.at);
  }

  // The history ends at its last row: a backtest says nothing of the time after it.
  SimulationResult finish() {
    if (!started_) return std::move(result_);
    // Demands due after the last row: judged on the last balance there is.
    for (auto& [name, account] : accounts_) {
      for (std::size_t i = account.next_due; i < account.demands.size(); ++i) {
        judge(account, i);
        result_.demands[account.outcomes[i]].after_history = true;
      }
    }
    return std::move(result_);
  }

 private:
  // The first row's time: monitoring starts there, and each rule's first evaluation is reckoned from it.
  void start(Timestamp first) {
    started_ = true;
    for (auto& [name, account] : accounts_) account.watch.monitoring_since = first;
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      const Rule& rule = rules_[i];
      if (!rule.enabled || !account_of_[i]) continue;
      if (rule.when.kind == Condition::Kind::schedule) {
        due_[i] = next_due(*rule.when.schedule, zone_, first - Duration(1));
      } else {
        due_[i] = next_time_driven_evaluation(rule, states_[i], account_of_[i]->watch);
      }
    }
  }

  std::optional<std::size_t> earliest_due() const {
    std::optional<std::size_t> earliest;
    for (std::size_t i = 0; i < due_.size(); ++i) {
      if (due_[i] && (!earliest || *due_[i] < *due_[*earliest])) earliest = i;
    }
    return earliest;
  }

  RuleInputs inputs(std::size_t index, Timestamp now, std::vector<Credit>& credits) const {
    const Rule& rule = rules_[index];
    const SimulatedAccount& account = *account_of_[index];
    const WatchOf watch_of = [this](const std::string& name) -> const AccountWatch* {
      const auto it = accounts_.find(name);
      return it == accounts_.end() ? nullptr : &it->second.watch;
    };
    RuleInputs in =
        gather_rule_inputs(rule, account.watch, watch_of, journal_, journal_, account.currency, zone_, now, credits);
    if (rule.when.kind == Condition::Kind::cover_demands) in.demands = account.demands;
    return in;
  }

  // Demand i of the account was due before the row now seen: the balance it met is
  // the last one before this row.
  void judge(SimulatedAccount& account, std::size_t i) {
    DemandOutcome& outcome = result_.demands[account.outcomes[i]];
    outcome.balance_at_due = account.last_balance;
    outcome.covered = account.last_balance && account.last_balance->currency() == outcome.demand.amount.currency() &&
                      *account.last_balance >= outcome.demand.amount;
  }

  void settle(Timestamp now) {
    while (!pending_.empty() && pending_.front().settles_at <= now) {
      const std::size_t index = pending_.front().record;
      const Timestamp settles_at = pending_.front().settles_at;
      pending_.pop_front();
      TopUpRecord& record = journal_[index - forgotten_];
      record.state = TopUpState::succeeded;
      record.balance_shows_from = settles_at;  // every row from then on includes it
      SimulatedAccount& account = accounts_.at(record.account);
      account.adjustment = account.adjustment.checked_add(record.amount).value_or(account.adjustment);
      account.unseen.push_back(index);
    }
  }

  // The row's account, having seen it.
  const SimulatedAccount& observe(const HistoryRow& row) {
    SimulatedAccount& account = accounts_.at(row.account);
    const Money simulated = row.balance.checked_add(account.adjustment).value_or(row.balance);
    // A row after a demand's due time: the row before it was the balance the payout met
    // (a row at the due time itself still counts as before it).
    while (account.next_due < account.demands.size() && account.demands[account.next_due].due_at < row.at) {
      judge(account, account.next_due++);
    }
    account.last_balance = simulated;
    record_observation(account.watch, Observation{row.account, simulated, row.at});
    // A credit is dated by the first poll whose balance can include it, as in the daemon.
    for (const std::size_t index : account.unseen) journal_[index - forgotten_].settled_at = row.at;
    account.unseen.clear();
    if (++rows_seen_ % 4096 == 0) forget_old_top_ups(row.at);
    AccountSummary& summary = *account.summary;
    if (!summary.min_balance || simulated < *summary.min_balance) summary.min_balance = simulated;
    if (!summary.min_balance_without_topupd || row.balance < *summary.min_balance_without_topupd) {
      summary.min_balance_without_topupd = row.balance;
    }
    return account;
  }

  void evaluate(std::size_t index, Timestamp now) {
    const Rule& rule = rules_[index];
    std::vector<Credit> credits;
    RuleInputs in = inputs(index, now, credits);
    const bool scheduled = rule.when.kind == Condition::Kind::schedule;
    in.schedule_due = scheduled;
    Evaluation evaluation = core::evaluate(rule, states_[index], in);
    states_[index] = evaluation.next;
    for (auto& decision : evaluation.decisions) record(rule, decision, now);
    if (scheduled) {
      due_[index] = next_due(*rule.when.schedule, zone_, now);
      return;
    }
    due_[index] = next_time_driven_evaluation(rule, states_[index], account_of_[index]->watch);
    // Nothing left to decide at this instant: never step to it twice.
    if (due_[index] && *due_[index] <= now) due_[index].reset();
  }

  // Drops the oldest journal records that no rule can look at any more, so that a long
  // backtest does not scan its whole past at every row. Only settled ones go, oldest
  // first; sequence numbers stay valid through `forgotten_`.
  void forget_old_top_ups(Timestamp now) {
    const Timestamp horizon = now - keep_top_ups_;
    std::size_t drop = 0;
    while (drop < journal_.size()) {
      if (!forgettable(journal_[drop], horizon)) break;
      ++drop;
    }
    journal_.erase(journal_.begin(), journal_.begin() + static_cast<std::ptrdiff_t>(drop));
    forgotten_ += drop;
  }

  void record(const Rule& rule, const Decision& decision, Timestamp now) {
    SimulatedAccount& account = accounts_.at(rule.account);
    AccountSummary& summary = result_.accounts.at(rule.account);
    switch (decision.kind) {
      case DecisionKind::alert_firing:
        summary.alerts += 1;
        result_.events.push_back({now, rule.name, rule.account, "alert_firing", std::nullopt, account.currency, decision.reason});
        return;
      case DecisionKind::alert_resolved:
        result_.events.push_back({now, rule.name, rule.account, "alert_resolved", std::nullopt, account.currency, decision.reason});
        return;
      case DecisionKind::alert_repeat:
        return;  // a reminder, not a change
      case DecisionKind::top_up: break;
    }
    const Money amount = *decision.amount;
    const TopUpSpec& spec = *decision.top_up;
    const bool sweep = spec.method == TopUpMethod::sweep;
    std::string reason = decision.reason;
    if (decision.needs_approval) reason += " (assumed approved)";
    result_.events.push_back({now, rule.name, rule.account, sweep ? "sweep" : "top_up", amount, account.currency, reason,
                              decision.idempotency_key});
    if (rule.when.kind == Condition::Kind::cover_demands) {
      // The demands this top-up counted: those due within the rule's window.
      for (std::size_t i = account.next_due; i < account.demands.size(); ++i) {
        const DueDemand& demand = account.demands[i];
        if (demand.due_at <= now || demand.due_at > now + rule.when.duration) continue;
        DemandOutcome& outcome = result_.demands[account.outcomes[i]];
        if (outcome.funded_at) continue;
        outcome.funded_at = now;
        outcome.funded_by = decision.idempotency_key;
      }
    }
    if (sweep) {
      SimulatedAccount& source = accounts_.at(spec.source);
      // Later rows of the source show it; until then topupd knows only what it last read, as in the daemon.
      source.adjustment = source.adjustment.checked_sub(amount).value_or(source.adjustment);
      summary.sweeps_in_total = summary.sweeps_in_total.checked_add(amount).value_or(summary.sweeps_in_total);
      AccountSummary& out = result_.accounts.at(spec.source);
      out.sweeps_out_total = out.sweeps_out_total.checked_add(amount).value_or(out.sweeps_out_total);
    } else {
      summary.top_ups += 1;
      summary.top_up_total = summary.top_up_total.checked_add(amount).value_or(summary.top_up_total);
    }
    journal_.push_back(TopUpRecord{decision.idempotency_key, rule.name, rule.account, "", spec.method, "",
                                   spec.source, amount, TopUpState::pending, "", "", now, std::nullopt,
                                   decision.rail, decision.need});
    pending_.push_back({now + settle_delay_, forgotten_ + journal_.size() - 1});
    settle(now);  // a zero delay settles at once
  }

  const std::vector<Rule>& rules_;
  const TimeZone& zone_;
  Duration settle_delay_;
  Duration keep_top_ups_;  // settled top-ups older than this can no longer matter
  std::vector<RuleState> states_;
  std::vector<std::optional<Timestamp>> due_;  // per rule: the next scheduled or time-driven evaluation
  std::map<std::string, SimulatedAccount> accounts_;
  std::vector<SimulatedAccount*> account_of_;  // per rule: its account's entry, null when not configured
  // The simulated top-ups that can still matter, as the daemon's journal would hold
  // them; record number n (counted from the first top-up) is journal_[n - forgotten_].
  std::vector<TopUpRecord> journal_;
  std::size_t forgotten_ = 0;
  std::size_t rows_seen_ = 0;
  bool started_ = false;
  std::deque<Movement> pending_;      // settle times are non-decreasing: decisions come in time order
  SimulationResult result_;
};

Backtest::Backtest(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts,
                   const TimeZone& zone, Duration settle_delay,
                   const std::map<std::string, std::vector<DueDemand>>& demands)
    : simulator_(std::make_unique<Simulator>(rules, accounts, zone, settle_delay, demands)) {}

Backtest::~Backtest() = default;

void Backtest::add(const HistoryRow& row) { simulator_->add(row); }

SimulationResult Backtest::finish() { return simulator_->finish(); }

SimulationResult simulate(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts,
                          const TimeZone& zone, const std::vector<HistoryRow>& rows, Duration settle_delay,
                          const std::map<std::string, std::vector<DueDemand>>& demands) {
  Backtest backtest(rules, accounts, zone, settle_delay, demands);
  for (const HistoryRow& row : rows) backtest.add(row);
  return backtest.finish();
}

}  // namespace topupd::core
