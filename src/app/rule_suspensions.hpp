// Rules that stop themselves (core/suspension.hpp): the failure streak of each rule's
// top-ups, the suspensions — kept in the store's settings, so a restart keeps them —,
// the critical RuleSuspended alert when one starts and its resolution when a person
// resumes the rule (topupctl resume-rule), and topupd_rule_suspended.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/notify/notifier.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/core/clock.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/suspension.hpp"

namespace topupd::app {

struct SuspensionNeighbours {
  // The current rule of that name, or null.
  std::function<const core::Rule*(const std::string& rule)> rule;
  // Puts an alert in the outbox of these notifiers.
  std::function<void(const adapters::Notification&, const std::vector<std::string>& notify)> alert;
};

class RuleSuspensions {
 public:
  RuleSuspensions(const core::Clock& clock, adapters::Metrics& metrics, adapters::SettingStore& store,
                  SuspensionNeighbours neighbours);

  // A config generation: the suspensions of its rules are read from the store.
  void configure(const std::vector<core::Rule>& rules);
  // A top-up of `rule` ended: `failure` is its coded reason, nullopt when it succeeded.
  void outcome(const std::string& rule, const std::optional<std::string>& failure, const std::string& error);
  // Why `rule` is suspended, or nullopt.
  std::optional<std::string> suspended(const std::string& rule) const;
  // Lets a suspended rule top up again: nullopt when done, otherwise why not.
  std::optional<std::string> resume(const std::string& rule, const std::string& how);

 private:
  void suspend(const core::Rule& rule, const core::FailureStreak& streak);
  void announce(const core::Rule& rule, core::DecisionKind kind, const std::string& reason);
  static std::string setting_name(const std::string& rule) { return "rule_suspended:" + rule; }

  const core::Clock& clock_;
  adapters::Metrics& metrics_;
  adapters::SettingStore& store_;
  SuspensionNeighbours neighbours_;
  std::map<std::string, core::FailureStreak> streaks_;  // in memory: a restart starts every streak again
  std::map<std::string, std::string> suspended_;        // rule → why
  std::map<std::string, core::Timestamp> fired_at_;     // the RuleSuspended alert's identity
};

}  // namespace topupd::app
