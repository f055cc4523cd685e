// Rules: from balance observations to decisions (alerts and top-up intents), purely.
//
// A rule watches one account. Its condition is "balance strictly below a threshold".
// Lifecycle: `inactive` → (condition true) → `pending` → (held for `hold_for`) →
// `firing` → (clear holds) → `inactive`. A firing rule re-arms only after resolving.
// While firing, a rule with a `top_up` asks for money when no top-up for the account
// is in flight and its cooldown has elapsed.
//
// `evaluate` is deterministic: it takes the rule, its previous state, one observation
// and the executor's guard facts, and returns the next state plus decisions that carry
// human-readable reasons. It does no I/O and reads no clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "topupd/core/money.hpp"
#include "topupd/core/time.hpp"

namespace topupd::core {

// A successful balance reading of one account.
struct Observation {
  std::string account;
  Money balance;
  Timestamp at;
};

enum class TopUpMethod { direct_debit, sweep };
std::string_view to_string(TopUpMethod method);

// How much to ask for, before limits.
struct AmountSpec {
  enum class Kind { fixed, to_target };
  Kind kind;
  Money value;                         // the fixed amount, or the target balance
  std::optional<Money> round_up_to;    // applied first
  std::optional<Money> min;            // then clamped to [min, max]
  std::optional<Money> max;
};

struct TopUpSpec {
  TopUpMethod method;
  std::string via;            // provider that executes it
  std::string source;         // sweep: source account name; direct debit: bank account number
  AmountSpec amount;
  Duration cooldown{0};       // minimum time between two top-ups of this rule
};

struct AlertSpec {
  std::string severity = "warning";
  std::vector<std::string> notify;  // notifier names
  Duration repeat{0};               // 0: never repeat while firing
};

struct Rule {
  std::string name;
  std::string account;
  bool enabled = true;
  Money below;                        // fires when balance < below
  Duration hold_for{0};               // ... continuously for this long
  std::optional<Money> clear_above;   // resolves only when balance > clear_above
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
};

// Facts the executor knows and the rule needs to decide on money.
struct TopUpGuard {
  bool in_flight = false;  // a top-up for this account has not settled yet
};

enum class DecisionKind { alert_firing, alert_repeat, alert_resolved, top_up };
std::string_view to_string(DecisionKind kind);

struct Decision {
  DecisionKind kind;
  std::string rule;
  std::string account;
  std::string reason;         // why, in words, with the numbers
  Money balance;
  Money threshold;
  // top_up only:
  std::optional<Money> amount;
  std::string idempotency_key;  // deterministic per (rule, account, episode, sequence)
  std::optional<TopUpSpec> top_up;
};

struct Evaluation {
  RuleState next;
  std::vector<Decision> decisions;
  // Why a top-up that the rule wanted did not start (in flight, cooldown, amount).
  std::optional<std::string> top_up_held_back;
};

Evaluation evaluate(const Rule& rule, const RuleState& state, const Observation& observation,
                    const TopUpGuard& guard);

// The amount a top-up would request at `balance`, after rounding and clamping; nullopt
// with `why` set when the result is not positive or does not fit.
struct AmountResult {
  std::optional<Money> amount;
  std::string why;
};
AmountResult compute_amount(const AmountSpec& spec, const Money& balance);

// Deterministic idempotency key for the n-th top-up of a firing episode that started
// at `episode_start`: the same inputs always give the same key.
std::string idempotency_key(std::string_view rule, std::string_view account,
                            Timestamp episode_start, std::uint32_t sequence);

}  // namespace topupd::core
