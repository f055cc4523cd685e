// What a rule sees: one builder for the daemon and for `simulate`.
//
// An `AccountWatch` is what topupd knows of one account's balance between polls: the
// latest and previous successful observations, a trailing history as long as the
// account's runway rules look back, when watching began and how many polls in a row
// have failed. `gather_rule_inputs` turns a watch, the rails' sources' watches and the
// top-up journal into the `RuleInputs` that `evaluate` judges. The daemon's rule
// runner and the backtest both call these functions and nothing else to build a
// rule's view, so a backtest sees exactly what production would have seen.
//
// Freshness: a balance is fresh while the last poll succeeded and the next one is not
// overdue (`2 × every + timeout` after the observation). Top-ups start only on fresh
// balances, and a sweep counts its source only when the source is fresh.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "topupd/core/journal_view.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/runway.hpp"
#include "topupd/core/timezone.hpp"
#include "topupd/core/topup.hpp"

namespace topupd::core {

struct AccountWatch {
  std::string name;
  Duration poll_every{std::chrono::seconds(30)};
  Duration poll_timeout{std::chrono::seconds(5)};
  std::optional<Observation> latest;    // the last successful poll
  std::optional<Observation> previous;  // the successful poll before it
  std::vector<Observation> history;     // oldest first: `history_window` and at most as much before it
  Duration history_window{0};           // the longest runway window of the account's rules
  // Running sums of `history` for runway estimates that do not read every row. A
  // backtest evaluates at every row and keeps them; the daemon evaluates once per poll
  // and reads the rows, which costs it no memory.
  std::optional<RunwayIndex> history_index;
  // A thin sample of the last kExportedRunwayWindow, one observation per
  // kRunwaySampleSpacing: the runway every account exports, whatever its rules.
  std::vector<Observation> runway_samples;
  Timestamp monitoring_since{};         // when watching began: stale_for counts from here before any success
  int consecutive_failures = 0;
};

inline constexpr Duration kExportedRunwayWindow = std::chrono::hours(1);
inline constexpr Duration kRunwaySampleSpacing = kExportedRunwayWindow / 30;

// A successful poll: becomes `latest`, joins the history, and older rows that no rule
// looks at any more are dropped. Returns whether it also joined `runway_samples`.
bool record_observation(AccountWatch& watch, const Observation& observation);
// A failed poll: the balance is no longer fresh until the next success.
void record_poll_failure(AccountWatch& watch);

// `latest` when it is fresh at `now`; nullopt otherwise.
std::optional<Observation> fresh_latest(const AccountWatch& watch, Timestamp now);

// Whether the rule looks at the account's burn rate (runway_below, cover_demands): it
// needs the history of its window and the credits topupd made within it.
bool uses_burn_rate(const Rule& rule);
// The longest burn-rate window among the enabled rules of each account: how much history
// to keep. Read once for all accounts (one pass over the rules, not one per account).
class HistoryWindows {
 public:
  explicit HistoryWindows(std::span<const Rule> rules);
  Duration of(std::string_view account) const;  // 0: no rule needs its history
 private:
  std::map<std::string, Duration, std::less<>> windows_;
};

// Whether a top-up of `account` is in flight (any journal record not in a terminal state).
bool top_up_in_flight(JournalView journal, std::string_view account);

// Whether a top-up of `account` ended after a balance asked for at `asked`
// (`TopUpRecord::balance_shows_from`): that balance may not show its outcome.
bool ended_after(JournalView journal, std::string_view account, Timestamp asked);

// `rule`'s top-ups in `now`'s calendar day, week and month in `zone`, from the journal,
// so no cap can drift from what was actually started, restarts included. Amounts in
// `currency`.
CapUsage usage_now(JournalView journal, const Rule& rule, const Currency& currency,
                       const TimeZone& zone, Timestamp now);

// What is left of each calendar cap of `limits` (per_day, per_week, per_month, in that
// order, only those set) after `usage`; never below zero.
struct CapLeft {
  const char* cap;
  Money remaining;
};
std::vector<CapLeft> caps_left(const Limits& limits, const CapUsage& usage);

// How long a finished top-up can still matter to `rules`: the daily limits look at the
// current calendar day only (never more than two days back), weekly and monthly caps at
// their calendar week and month, runway at its window.
Duration keep_top_ups_for(std::span<const Rule> rules);
// Whether no rule can look at `record` any more: it is finished, created before
// `horizon` (now − keep_top_ups_for) and, if it succeeded, shown by a poll before it.
// The store keeps it; memory need not.
bool forgettable(const TopUpRecord& record, Timestamp horizon);

// Money topupd added to `account`: every succeeded top-up with the poll that could first show it.
void append_credits(JournalView journal, std::string_view account, std::vector<Credit>& out);

// The watch of an account by name (null when unknown): how a rule's rails read their sources.
using WatchOf = std::function<const AccountWatch*(const std::string& account)>;

// Everything `rule` may look at, at `now`. `watch_of` finds the watches of the rails'
// sources (a sweep's, a direct debit's check_balance_of). `account_records` holds at
// least the journal's records of the rule's account, `rule_records` at least those of
// the rule (the whole journal will do for both). `credits` holds what
// `RuleInputs::own_credits` points at and must outlive the result, as must `account`.
// `currency` is the account's, for the daily usage.
RuleInputs gather_rule_inputs(const Rule& rule, const AccountWatch& account, const WatchOf& watch_of,
                              JournalView account_records, JournalView rule_records, const Currency& currency,
                              const TimeZone& zone, Timestamp now, std::vector<Credit>& credits);

// The need of `rule` whose rail failed at the gateway and that a later rail may still
// fund: the rule's latest top-up is `failed`, a rail follows it, and (schedule rules)
// no new due time has come since it was planned.
std::optional<RailContinuation> rail_continuation(const Rule& rule, JournalView journal,
                                                  const TimeZone& zone, Timestamp now);

// `next_time_driven_evaluation` (rules.hpp) of `rule` in `state`, watching `account`:
// it needs only the latest observation and when watching began, so this is cheap
// enough to ask after every poll.
std::optional<Timestamp> next_time_driven_evaluation(const Rule& rule, const RuleState& state,
                                                     const AccountWatch& account);

}  // namespace topupd::core
