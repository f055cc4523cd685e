// Backtesting rules against a recorded balance history, purely.
//
// The history records balances as they were without topupd. The simulation runs the
// same engine as the daemon on a simulated clock: each account's balance rules at each
// of its rows, stale_for rules at every row, and schedules at their due times. Every
// simulated top-up and sweep changes later rows of the accounts involved: a sweep
// takes its amount out of the source at once, and the destination receives money
// `settle_delay` after the decision (0: at once). A top-up counts as in flight until
// then. Top-ups that would need approval are assumed approved (and say so).
#pragma once

#include <map>
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
};

struct SimulatedEvent {
  Timestamp at;
  std::string rule;
  std::string account;
  std::string type;  // alert_firing, alert_resolved, top_up, sweep
  std::optional<Money> amount;
  Currency currency;
  std::string reason;
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

struct SimulationResult {
  std::vector<SimulatedEvent> events;               // in time order
  std::map<std::string, AccountSummary> accounts;   // every configured account
};

// `rows` must be in non-decreasing time order and name only known accounts.
SimulationResult simulate(const std::vector<Rule>& rules, const std::vector<SimulationAccount>& accounts,
                          const TimeZone& zone, const std::vector<HistoryRow>& rows, Duration settle_delay);

}  // namespace topupd::core
