// Rules: from observations to decisions (alerts and top-up intents), purely.
//
// A rule watches one account. Its condition is one of
//   below / above MONEY        the latest balance is strictly below / above it;
//   runway_below DURATION      the balance runs out sooner than this at the burn rate
//                              observed over `window` (see runway.hpp);
//   stale_for DURATION         no successful observation for this long;
//   schedule CRON              due at the schedule's times in the config's time zone;
//   cover_demands              the payouts the backend announced (demands) due within
//                              `within`, and the burn until the last of them at the
//                              rate seen over `window`, would leave less than `keep`:
//                              the top-up brings the balance to keep + demands + burn.
// Condition rules go `inactive` → `pending` (condition true) → `firing` (held for
// `hold_for`) → `inactive` (resolved: `clear` holds, or without `clear` the condition
// stops holding). A firing rule re-arms only after resolving. Schedule rules have no
// firing state: each due time asks for one top-up.
//
// A top-up starts while a rule is firing (or when its schedule is due) if no top-up
// of the account is in flight, the cooldown has elapsed, and the amount after every
// limit is positive. Each decision carries a reason and names the limits that shaped
// it. `evaluate` does no I/O and reads no clock.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "topupd/core/cron.hpp"
#include "topupd/core/deposit.hpp"
#include "topupd/core/money.hpp"
#include "topupd/core/suspension.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/timezone.hpp"

namespace topupd::core {

struct RunwayIndex;  // runway.hpp

// A successful balance reading of one account.
struct Observation {
  std::string account;
  Money balance;
  Timestamp at;
};

enum class TopUpMethod { direct_debit, sweep, deposit };
std::string_view to_string(TopUpMethod method);
std::optional<TopUpMethod> top_up_method_from(std::string_view text);

// One way to fund a need: a method through a provider from a source. A rule may list
// several, tried in order (`TopUpSpec::more_rails`).
struct Rail {
  TopUpMethod method;
  std::string via;                      // provider that executes it
  std::string source;                   // sweep: source account; direct debit: bank account number
  std::optional<Money> keep_in_source;  // what a rail that reads its source leaves there
  std::string check_balance_of{};       // direct debit: the watched account the debit takes from
  std::optional<DepositSpec> deposit{};  // deposit: destination and payment leg (core/deposit.hpp)
};
inline constexpr std::size_t kMaxRails = 4;

// How much to ask for, before limits.
struct AmountSpec {
  enum class Kind { fixed, to_target, percent_of_source };
  Kind kind;
  Money value;                         // fixed amount or target balance (unused for percent)
  std::int32_t percent_basis_points = 0;  // percent_of_source: 1 %= 100, in (0, 10000]
  std::optional<Money> round_up_to;    // applied first
  std::optional<Money> min;            // then clamped to [min, max]
  std::optional<Money> max;
};

struct Limits {
  std::optional<Money> per_day;          // total of this rule's top-ups per calendar day (config time zone)
  std::optional<std::uint32_t> max_per_day;  // number of this rule's top-ups per calendar day
  Duration cooldown{0};                  // minimum time between two top-ups of this rule
  std::optional<Money> approval_above;   // larger top-ups wait for a person ...
  Duration approval_expires{std::chrono::hours(24)};  // ... this long at most, then expire
  std::optional<Money> per_week{};       // total per calendar week, Monday to Sunday (config time zone)
  std::optional<Money> per_month{};      // total per calendar month (config time zone)
  std::optional<Money> dual_approval_above{};  // larger ones need two distinct approvers
};

// After a top-up succeeds, the account's balance must show it: within `within` a poll
// must have risen by the amount, less `tolerance_percent` of it for payouts made in
// between. Otherwise topupd raises TopUpNotReflected.
struct Verification {
  Duration within{std::chrono::minutes(10)};
  int tolerance_percent = 5;
};

inline constexpr Duration kDefaultStuckAfter = std::chrono::minutes(30);

struct TopUpSpec {
  TopUpMethod method;
  std::string via;                       // provider that executes it
  std::string source;                    // sweep: source account; direct debit: bank account number
  AmountSpec amount;
  std::optional<Money> keep_in_source;   // sweeps never leave less than this in the source
  Limits limits;
  Verification verify;
  // A top-up sent and still without a final outcome (submitted, pending, unknown) this
  // long raises TopUpStuck through the rule's notifiers, once, resolved when it ends.
  Duration stuck_after{kDefaultStuckAfter};
  // This many failed top-ups in a row suspend the rule until `topupctl resume-rule`
  // (core/suspension.hpp); 0: never.
  std::uint32_t suspend_after = kDefaultSuspendAfter;
  // Direct debits: a watched account whose balance is the debited one's, read before
  // pulling from it; empty: none. (The first rail's, like method, via and source.)
  std::string check_balance_of{};
  // Rails after the first, tried in order for the same need: when the one before failed
  // at the gateway, or its source cannot cover the amount (`amount_on_rail`).
  std::vector<Rail> more_rails{};
  // Deposits (the first rail's): where the money goes and who pays it; `via` and
  // `source` are then the payment leg's provider and account.
  std::optional<DepositSpec> deposit{};
};

// The rails of `spec` in order: the first from its own fields, then `more_rails`.
std::size_t rail_count(const TopUpSpec& spec);
Rail rail_at(const TopUpSpec& spec, std::size_t index);
// `spec` with rail `index` as its first rail: what a decision on that rail carries.
TopUpSpec on_rail(const TopUpSpec& spec, std::size_t index);
// The watched account whose balance `rail` (or rail `index` of `spec`) takes from, or
// empty: a sweep's source, a direct debit's check_balance_of.
const std::string& source_account(const Rail& rail);
const std::string& source_account(const TopUpSpec& spec, std::size_t index);
std::string describe(const Rail& rail);  // "direct_debit from 123 via bank", for reasons

// Whether a balance seen after a top-up settled shows it: it rose from `before` by at
// least `amount` less `tolerance_percent` of it. Exact integer arithmetic.
bool reflects_top_up(const Money& before, const Money& after, const Money& amount, int tolerance_percent);

struct AlertSpec {
  std::string severity = "warning";
  std::vector<std::string> notify;  // notifier names
  Duration repeat{0};               // 0: never repeat while firing
  bool send_resolved = true;        // false: people hear only of firing (Alertmanager still of the end)
};

struct Condition {
  enum class Kind { below, above, runway_below, stale_for, schedule, cover_demands };
  Kind kind;
  Money threshold;                      // below / above; cover_demands: what to keep after them
  Duration duration{0};                 // runway_below: the runway; stale_for: the age; cover_demands: within
  Duration window{0};                   // runway_below, cover_demands: the trailing window of the burn rate
  std::optional<CronSchedule> schedule; // schedule
  // cover_demands: the money should be there this long before the first demand is due;
  // a top-up decided later than that says so.
  Duration lead{0};
};

// A payout the backend announced (the API's demands): `amount` leaves at `due_at`.
struct DueDemand {
  std::string reference;
  Money amount;
  Timestamp due_at;
};
std::string_view to_string(Condition::Kind kind);

struct Clear {
  bool above;  // true: resolves when balance > value; false: when balance < value
  Money value;
};

struct Rule {
  std::string name;
  std::string account;
  bool enabled = true;
  Condition when;
  Duration hold_for{0};               // `for`: the condition must hold this long
  std::optional<Clear> clear;
  std::optional<AlertSpec> alert;
  std::optional<TopUpSpec> top_up;
};

enum class RulePhase { inactive, pending, firing };
std::string_view to_string(RulePhase phase);

struct RuleState {
  RulePhase phase = RulePhase::inactive;
  std::optional<Timestamp> condition_since;  // first observation of the current run of true
  std::optional<Timestamp> fired_at;         // start of the current firing episode
  std::optional<Timestamp> last_alert_at;
  std::optional<Timestamp> last_top_up_at;
  std::uint32_t top_ups_in_episode = 0;

  friend bool operator==(const RuleState&, const RuleState&) = default;
};

// Money topupd added to an account (a settled top-up or sweep in), dated by the first
// observation whose balance included it.
struct Credit {
  Timestamp at;
  Money amount;
};

// This rule's top-ups so far in the current calendar periods of the config's time zone:
// the day (amount and count), and the week (from Monday) and the month around it.
struct CapUsage {
  std::chrono::sys_days day{};
  Money amount;
  std::uint32_t count = 0;
  std::optional<Money> week_amount{};   // nullopt: nothing this week
  std::optional<Money> month_amount{};  // nullopt: nothing this month
};

// A need whose rail failed at the gateway (its record is `failed`: nothing moved) and
// that the next rail may still fund, with its own key, before any cooldown.
struct RailContinuation {
  std::string need;    // the key of the need's first rail
  std::uint32_t rail;  // the rail to try next
  std::string failed;  // what the rail before it said
  Timestamp since;     // when the need's first rail was planned
};

// Everything a rule may look at, gathered by the caller at `now`.
struct RuleInputs {
  Timestamp now;
  std::optional<Observation> latest;           // the account's latest successful observation
  bool latest_is_fresh = false;                // the last poll succeeded and the next is not overdue
  std::optional<Timestamp> monitoring_since;   // for stale_for before any success
  std::span<const Observation> history;        // the account's observations, oldest first
  std::span<const Credit> own_credits;         // money topupd added, for runway
  const RunwayIndex* history_index = nullptr;  // running sums of `history`, when kept
  // Per rail (rules.hpp `rail_at`): its source's latest fresh balance, for rails that read one.
  std::array<std::optional<Money>, kMaxRails> source_balances{};
  bool top_up_in_flight = false;               // for this rule's account
  // A top-up of the account ended after `latest` was asked for: that balance may not
  // show it, so no new top-up is decided from it.
  bool balance_predates_last_outcome = false;
  bool schedule_due = false;                   // schedule rules: evaluated at a due time
  std::optional<std::string> suspended;         // the rule stopped itself: why; no top-up until resumed
  std::optional<CapUsage> usage;               // this rule's usage in `now`'s local day, week and month
  // The need whose rail failed at the gateway, when a later rail may still fund it.
  std::optional<RailContinuation> continues{};
  // cover_demands: the account's announced demands, by due time.
  std::span<const DueDemand> demands{};
};

enum class DecisionKind { alert_firing, alert_repeat, alert_resolved, top_up };
std::string_view to_string(DecisionKind kind);

struct Decision {
  DecisionKind kind;
  std::string rule;
  std::string account;
  std::string reason;                 // why, in words, with the numbers
  std::optional<Money> balance;       // the latest balance, when there is one
  std::optional<Money> threshold;     // below/above threshold, when the condition has one
  std::optional<Duration> runway;     // runway rules
  // top_up only:
  std::optional<Money> amount;
  std::string idempotency_key;        // deterministic per (rule, account, trigger window)
  std::optional<TopUpSpec> top_up;
  std::vector<std::string> shaped_by; // limits that changed the amount: "round_up_to", "min", "max", "keep_in_source", "per_day"
  bool needs_approval = false;        // above approval_above
  std::uint32_t rail = 0;             // which of the rule's rails `top_up` is on
  std::string need{};                 // the key of the need's first rail; empty: this is the first
};

struct RunwayEstimate {
  bool enough_data = false;           // at least 3 observations spanning ≥ half the window
  std::optional<Duration> runway;     // nullopt: not falling (or not enough data)
  std::int64_t burn_per_hour_minor = 0;  // positive when falling
};

struct Evaluation {
  RuleState next;
  std::vector<Decision> decisions;
  // Why a top-up the rule wanted did not start (in flight, cooldown, a limit, no data).
  std::optional<std::string> top_up_held_back;
  // A runway rule's estimate, when it made one (for the runway metric).
  std::optional<RunwayEstimate> runway_estimate{};
  // The top-up was held back because no rail's source could cover it (or be read):
  // an alert, not just a log line.
  bool held_back_by_source = false;
};

Evaluation evaluate(const Rule& rule, const RuleState& state, const RuleInputs& inputs);

// `state` with every instant later than `now` taken as `now`. Such an instant was
// recorded under a wall clock that has since stepped back (in this run or before a
// restart); measured from it, a repeat, a `for` hold or a cooldown would wait for the
// clock to catch up — an hour late after an hour's step. The daemon passes its states
// through it when it loads them and when it sees the clock step; `evaluate` itself
// takes states as they are, since it may judge an instant earlier than the latest
// poll's (a deadline is judged at the instant it came due).
RuleState clamped_to(RuleState state, Timestamp now);

// The next instant after which evaluating `rule` on the same inputs could decide
// something, with no new observation: a `stale_for` age reached, a `for` deadline, a
// firing alert's repeat. nullopt when only a new observation (or, for schedule rules,
// the schedule: see cron.hpp) can change anything. `inputs` and `state` are those
// of (or after) the latest evaluation; the result may lie at or before `inputs.now`,
// meaning "due now". The daemon arms a timer for this instant and `simulate` steps to
// it between history rows: the same function decides when time alone matters in both.
std::optional<Timestamp> next_time_driven_evaluation(const Rule& rule, const RuleState& state,
                                                     const RuleInputs& inputs);

// The amount a top-up would request, after strategy, rounding, clamping, the source's
// reserve and the daily limit; nullopt with `why` when nothing can be moved.
struct AmountResult {
  std::optional<Money> amount;
  std::string why;
  std::vector<std::string> shaped_by;
  bool source_short = false;  // nothing because the source could not be read or holds too little
};
AmountResult compute_amount(const TopUpSpec& spec, const std::optional<Money>& balance,
                            const std::optional<Money>& source_balance, const std::optional<CapUsage>& usage);
// The amount rail `index` of `spec` can move with `inputs`, or why it is passed over. A
// rail that reads its source never takes more than the source holds above
// keep_in_source. A direct debit that cannot be covered in full is passed over (a debit
// is never cut down to the account's floor); so is a sweep when another rail follows —
// the last rail's sweep moves what its source can spare.
AmountResult amount_on_rail(const TopUpSpec& spec, std::size_t index, const RuleInputs& inputs);

// One calendar cap that `limits` sets, with what `usage` used of it in its period.
struct CapUse {
  const char* name;    // per_day, per_week, per_month
  const char* period;  // today, this week, this month
  Money cap;
  Money used;          // 0 without usage
};
// The caps `limits` sets, shortest period first: the one table of them.
std::vector<CapUse> cap_uses(const Limits& limits, const std::optional<CapUsage>& usage);

// Deterministic idempotency key: the same (rule, account, window start, sequence)
// always gives the same key.
std::string idempotency_key(std::string_view rule, std::string_view account, Timestamp window_start,
                            std::uint32_t sequence);

}  // namespace topupd::core
