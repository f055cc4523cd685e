// The Notifier port: how alerts reach people.
#pragma once

#include <optional>
#include <string>

#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"

namespace topupd::adapters {

// What an alert says: what happened, which account, the balance against the threshold,
// and what topupd did about it.
struct Notification {
  core::DecisionKind kind;  // alert_firing, alert_repeat or alert_resolved
  std::string rule;
  std::string account;
  std::string severity;
  std::string reason;
  std::optional<core::Money> balance;    // absent when no poll has succeeded yet
  std::optional<core::Money> threshold;  // below/above rules
  std::optional<core::Duration> runway;  // runway rules
  std::string action;  // "top-up topupd-… of IDR 40,000,000.00 submitted", or empty
};

class Notifier {
 public:
  virtual ~Notifier() = default;
  // Delivers one notification; returns false when it could not be delivered.
  virtual bool send(const Notification& notification) = 0;
};

}  // namespace topupd::adapters
