#include "topupd/adapters/notify/log_notifier.hpp"

#include <spdlog/spdlog.h>

#include "topupd/adapters/sys/logging.hpp"

namespace topupd::adapters {

boost::asio::awaitable<DeliveryResult> LogNotifier::deliver(std::span<const Notification> batch) {
  for (const auto& n : batch) {
    const char* what = n.kind == core::DecisionKind::alert_resolved ? "ALERT RESOLVED"
                       : n.kind == core::DecisionKind::alert_repeat ? "ALERT STILL FIRING"
                                                                    : "ALERT FIRING";
    const auto level = n.kind == core::DecisionKind::alert_resolved ? spdlog::level::info : spdlog::level::warn;
    std::string fields;
    if (n.balance) fields += " balance=" + field(core::format_human(*n.balance));
    if (n.threshold) fields += " threshold=" + field(core::format_human(*n.threshold));
    if (n.runway) fields += " runway=" + core::format_duration(std::chrono::floor<std::chrono::seconds>(*n.runway));
    if (!n.action.empty()) fields += " action=" + field(n.action);
    if (!n.qr.empty()) fields += " qris=" + field(n.qr);
    if (n.top_up && !n.top_up->approve_url.empty()) fields += " approve=" + field(n.top_up->approve_url);
    spdlog::log(level, "{}: {} notifier={} rule={} account={} severity={}{}", what, n.reason, field(name_),
                field(n.rule), field(n.account), field(n.severity), fields);
  }
  co_return DeliveryResult::delivered();
}

}  // namespace topupd::adapters
