// The rule runner: the part of the daemon that decides.
//
// It owns the current generation's rules (indexed by name and by account), every
// rule's state (kept by name across reloads, persisted in the store), and each
// account's rule deadlines — the instants at which time alone can change a decision
// (core::next_time_driven_evaluation). An evaluation builds each rule's inputs with
// core's one builder (core/rule_inputs.hpp), evaluates it, hands top-up decisions to
// the executor and alert decisions to its `alert` neighbour, and recomputes the
// account's deadlines. `simulate` makes the same calls to core, so the two agree.
//
// It may call: core, the store (rule states), metrics, the top-up executor (execute,
// and its journal for inputs), and its neighbours — the accounts' watches (a sweep's
// source) and the alert outbox. It reads no clock: every evaluation is given `now`.
//
// Private to src/app.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "top_up_executor.hpp"
#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/rule_inputs.hpp"
#include "topupd/core/rules.hpp"

namespace topupd::app {

// Which of an account's rules one evaluation looks at.
enum class Trigger {
  poll,      // a poll answered: every rule but the schedules
  deadline,  // time alone: the rules whose deadline has come
  schedule,  // one schedule rule at its due time
};

struct RuleRunnerNeighbours {
  // An account's polls (null for one not configured): a sweep reads its source's.
  std::function<const core::AccountWatch*(const std::string& account)> watch;
  // An alert decision for the outbox, with what its rule's top-up did and that top-up's key.
  std::function<void(const core::Decision& decision, const std::string& action, const std::string& top_up_key)> alert;
  // Why a rule is suspended (it plans no top-up), or nullopt.
  std::function<std::optional<std::string>(const std::string& rule)> suspended{};
  // Puts an alert of the rule's own (TopUpSourceShort) in the outbox of these notifiers.
  std::function<void(const adapters::Notification&, const std::vector<std::string>& notify)> notify{};
  // The demands announced for an account (the API's), by due time: for cover_demands rules.
  std::function<std::span<const core::DueDemand>(const std::string& account)> demands{};
};

class RuleRunner {
 public:
  RuleRunner(adapters::Metrics& metrics, adapters::RuleStateStore& store, TopUpExecutor& executor,
             RuleRunnerNeighbours neighbours);

  // At start: the states the store kept, as of `now` (core::clamped_to: an instant a
  // previous run recorded under a clock since set back is taken as now).
  void load_states(std::map<std::string, core::RuleState> states, core::Timestamp now) {
    states_ = std::move(states);
    clamp_states(now);
    bind_states();
  }
  // The wall clock stepped: every state as of `now`, as at start.
  void clamp_states(core::Timestamp now) {
    for (auto& [rule, state] : states_) state = core::clamped_to(state, now);
  }
  // Several instances: the accounts in `accounts` became this instance's; their rules'
  // states are taken from `stored` (the store's now), since another instance kept them,
  // as of `now` (that instance's clock may have been ahead of this one's).
  void adopt_states(const std::map<std::string, core::RuleState>& stored, const std::set<std::string>& accounts,
                    core::Timestamp now);
  // A new config generation; `config` must outlive the next call. States of rules
  // that remain are kept, others dropped; deadlines are recomputed at the next look.
  void configure(const config::Config& config);

  // Evaluates `account`'s rules for `trigger` at `now` (`only_rule`: one rule, or all
  // when empty), acts on the decisions and recomputes the account's deadlines.
  boost::asio::awaitable<void> evaluate(const config::AccountConfig& account, const core::AccountWatch& watch,
                                        core::Timestamp now, Trigger trigger, const std::string& only_rule);
  // Recomputes when each of `account`'s rules next needs a look with no new poll.
  void export_caps(const core::Rule& rule, const core::Currency& currency, core::Timestamp now);
  void recompute_deadlines(const std::string& account, const core::AccountWatch& watch);
  // The earliest deadline of `account`'s rules, if any.
  std::optional<core::Timestamp> next_deadline(const std::string& account) const;
  // Forgets `account`'s deadlines at or before `due`: a look at `due` changed nothing
  // about them, and the same instant is never looked at twice.
  void passed(const std::string& account, core::Timestamp due);

  const core::Rule* find(const std::string& name) const;
  const std::map<std::string, core::RuleState>& states() const { return states_; }
  // What is left of `rule`'s calendar caps at `now`, from the journal (empty: none set).
  std::vector<core::CapLeft> caps_left(const core::Rule& rule, const core::Currency& currency,
                                       core::Timestamp now) const;
  // The runway metric of an account that no runway rule watches, over
  // core::kExportedRunwayWindow of its sampled balances, once there is enough of them.
  void export_runway(const std::string& account, core::Timestamp now);
  // The account's runway over the exported window (kExportedRunwayWindow), as the
  // metric shows it; nullopt for an account not watched here.
  std::optional<core::RunwayEstimate> runway(const std::string& account, core::Timestamp now) const;
  core::RuleState state(const std::string& rule) const;

 private:
  core::RuleInputs inputs_for(const core::Rule& rule, const config::AccountConfig& account,
                              const core::AccountWatch& watch, core::Timestamp now,
                              std::vector<core::Credit>& credits) const;
  // Where a top-up decided for `account` goes: the provider and the ids at it.
  TopUpRoute route_of(const core::Decision& decision, const config::AccountConfig& account) const;
  void persist(const std::string& rule);
  // TopUpSourceShort: raised once while `rule`'s top-up is held back because no rail's
  // source can cover it, resolved when one is planned or the rule stops firing.
  void watch_sources(const core::Rule& rule, const core::Evaluation& evaluation, core::Timestamp now);

  adapters::Metrics& metrics_;
  adapters::RuleStateStore& store_;
  TopUpExecutor& executor_;
  RuleRunnerNeighbours neighbours_;
  const config::Config* config_ = nullptr;
  std::map<std::string, core::RuleState> states_;  // by rule name; kept across reloads
  // A rule of an account and its state in states_ (a node keeps its address until the
  // map is replaced: configure and load_states bind the rules to the new one).
  struct AccountRule {
    const core::Rule* rule;
    core::RuleState* state = nullptr;
  };
  using AccountRules = std::vector<AccountRule>;
  void bind_states();
  // Recomputes the deadlines of `rules`, the account's (nullptr: none configured).
  void recompute_deadlines(const std::string& account, const AccountRules* rules, const core::AccountWatch& watch);
  // The config's rules by name and by account: a poll looks at its own account's rules only.
  std::unordered_map<std::string, const core::Rule*> by_name_;
  std::unordered_map<std::string, AccountRules> by_account_;
  // account → rule → when it next needs a look with no new poll.
  std::unordered_map<std::string, std::map<std::string, core::Timestamp>> deadlines_;
  std::map<std::string, core::Timestamp> source_short_;  // rule → when TopUpSourceShort fired
};

}  // namespace topupd::app
