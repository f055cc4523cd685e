// The top-up executor's approvals (top_up_executor.hpp): a person approves or rejects
// a top-up that waits above approval_above, or it expires at its rule's
// approval_expires.
#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "top_up_executor.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using core::TopUpRecord;
using core::TopUpState;

std::optional<std::string> TopUpExecutor::decide(const std::string& key, bool approve, const std::string& how) {
  for (std::size_t i = 0; i < journal_.size(); ++i) {
    TopUpRecord& record = journal_[i];
    if (record.key != key) continue;
    const std::size_t seq = forgotten_ + i;
    if (record.state != TopUpState::awaiting_approval) {
      return fmt::format("top-up {} is {}, not awaiting approval", key, core::to_string(record.state));
    }
    if (!owned(record.account)) {
      return fmt::format("top-up {} is for account {}, which another instance owns now: ask it", key, record.account);
    }
    using Kind = core::TopUpEvent::Kind;
    if (!approve) {
      const core::TopUpEvent rejected{Kind::rejected, core::ProviderOutcome::pending, "", "rejected " + how};
      journal_until_io(seq, core::step(record, rejected));
      return std::nullopt;
    }
    if (paused_) return std::string("topupd is paused; resume it before approving");
    spdlog::info("top-up approved {} topup={} amount={}", how, field(key), field(core::format_human(record.amount)));
    // The approval is journalled before this returns; the request leaves from its own coroutine.
    const core::TopUpEvent approved{Kind::approved, core::ProviderOutcome::pending, "", "approved " + how};
    auto rest = journal_until_io(seq, core::step(record, approved));
    asio::co_spawn(io_, perform(seq, std::move(rest)), adapters::log_failure("approved top-up " + key));
    return std::nullopt;
  }
  return fmt::format("no open top-up has the key {}", key);
}

void TopUpExecutor::expire_approvals(const std::string& account, core::Timestamp now) {
  for (auto& record : journal_) {
    if (record.account != account || record.state != TopUpState::awaiting_approval) continue;
    core::Duration limit{std::chrono::hours(24)};
    if (const core::Rule* rule = neighbours_.rule(record.rule); rule && rule->top_up) limit = rule->top_up->limits.approval_expires;
    if (now - record.created_at >= limit) {
      const core::TopUpEvent expired{core::TopUpEvent::Kind::approval_expired, core::ProviderOutcome::pending, "",
                                     fmt::format("not approved within {}; nothing was sent", core::format_duration(limit))};
      const auto index = forgotten_ + static_cast<std::size_t>(&record - journal_.data());
      journal_until_io(index, core::step(record, expired));
    }
  }
}

}  // namespace topupd::app
