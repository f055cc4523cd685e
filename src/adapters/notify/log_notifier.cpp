#include "topupd/adapters/notify/log_notifier.hpp"

#include <spdlog/spdlog.h>

#include "topupd/adapters/sys/logging.hpp"

namespace topupd::adapters {

bool LogNotifier::send(const Notification& n) {
  const char* what = n.kind == core::DecisionKind::alert_resolved ? "ALERT RESOLVED"
                     : n.kind == core::DecisionKind::alert_repeat ? "ALERT STILL FIRING"
                                                                  : "ALERT FIRING";
  const auto level = n.kind == core::DecisionKind::alert_resolved ? spdlog::level::info
                                                                   : spdlog::level::warn;
  spdlog::log(level, "{}: {} notifier={} rule={} account={} severity={} balance={} threshold={}{}",
              what, n.reason, field(name_), field(n.rule), field(n.account), field(n.severity),
              field(core::format_human(n.balance)), field(core::format_human(n.threshold)),
              n.action.empty() ? "" : " action=" + field(n.action));
  return true;
}

}  // namespace topupd::adapters
