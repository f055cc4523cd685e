// Backtesting rules against a recorded balance history, purely.
//
// The history records balances as they were without topupd; each row is a successful
// poll of its account. The simulation runs the daemon's own decisions on a simulated
// clock: a rule sees what `gather_rule_inputs` (rule_inputs.hpp) builds from the
// simulated watches and journal, exactly as in the daemon. Each account's rules are
// evaluated at each of its rows; between rows the simulation steps to every instant at
// which time alone can change a decision (`next_time_driven_evaluation`: stale_for
// ages, `for` deadlines, repeats) and to every schedule's due time. At one instant,
// rows come first, then the time-driven evaluations due at it.
//
// Every simulated top-up and sweep changes later rows of the accounts involved: a sweep
// takes its amount out of the source at once (later rows of the source show it, as the
// daemon learns it only at its next poll), and the destination receives money
// `settle_delay` after the decision (0: at once). A top-up is in flight until then.
// Top-ups that would need approval are assumed approved (and say so). A balance is
// fresh for `2 × every + timeout` after its row (a history holds no failed polls).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "topupd/core/rules.hpp"
#include "topupd/core/timezone.hpp"

namespace topupd::core {

struct HistoryRow {
  Timestamp at;
  std::string account;
  Money balance;  // as recorded, without topupd
};

struct SimulationAccount {
  std::string name;
  Currency currency;
  Duration poll_every{std::chrono::seconds(30)};  // the account's poll settings, for freshness
  Duration poll_timeout{std::chrono::seconds(5)};
};

struct SimulatedEvent {
  Timestamp at;
  std::string rule;
  std::string account;
  std::string type;  // alert_firing, alert_resolved, top_up, sweep
  std::optional<Money> amount;
  Currency currency;
  std::string reason;
  std::string key{};  // top_up and sweep: the idempotency key the daemon would send
};

struct AccountSummary {
  std::int64_t alerts = 0;
  std::int64_t top_ups = 0;              // direct debits into the account
  Money top_up_total;                    // their total
  Money sweeps_in_total;
  Money sweeps_out_total;
  std::optional<Money> min_balance;      // lowest balance with topupd's movements applied
  std::optional<Money> min_balance_without_topupd;
};

// A demand the backtest was given (the API's, as cover_demands rules see them) and
// what became of it: the balance with topupd's movements at the last row at or before
// it was due, whether that covered it, and the first top-up decided for it.
struct DemandOutcome {
  std::string account;
  DueDemand demand;
  std::optional<Money> balance_at_due{};  // nullopt: no row before it was due
  bool covered = false;                   // balance_at_due ≥ the demand's amount
  bool after_history = false;             // due after the last row: judged on the last balance
  std::optional<Timestamp> funded_at{};   // the first top-up of a cover_demands rule that counted it
  std::string funded_by{};                // that top-up's key
};

struct SimulationResult {
  std::vector<SimulatedEvent> events;               // in time order
  std::map<std::string, AccountSummary> accounts;   // every configured account
  std::vector<DemandOutcome> demands{};             // by account, then due time
};

class Simulator;  // simulation.cpp

// A backtest fed one row at a time, so that a history of any length is read and
// judged without being held in memory. Rows must come in non-decreasing time order
// and name only known accounts; `demands` (by account) need not be sorted and may
// name accounts without rows. `rules` and `zone` must outlive it.
class Backtest {
 public:
  Backtest(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts, const TimeZone& zone,
           Duration settle_delay, const std::map<std::string, std::vector<DueDemand>>& demands = {});
  ~Backtest();
  Backtest(const Backtest&) = delete;
  Backtest& operator=(const Backtest&) = delete;

  void add(const HistoryRow& row);
  SimulationResult finish();  // once, after the last row

 private:
  std::unique_ptr<Simulator> simulator_;
};

// The same for a history already in memory.
SimulationResult simulate(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts,
                          const TimeZone& zone, const std::vector<HistoryRow>& rows, Duration settle_delay,
                          const std::map<std::string, std::vector<DueDemand>>& demands = {});

}  // namespace topupd::core
