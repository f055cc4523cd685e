// The top-up executor's approvals (top_up_executor.hpp): people approve or reject a
// top-up that waits above approval_above — two of them above dual_approval_above — or
// it expires at its rule's approval_expires.
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

TopUpExecutor::Decided TopUpExecutor::decide(const std::string& key, bool approve, const std::string& who,
                                             const std::string& how) {
  const auto refuse = [](std::string why) { return Decided{std::move(why)}; };
  for (std::size_t i = 0; i < journal_.size(); ++i) {
    TopUpRecord& record = journal_[i];
    if (record.key != key) continue;
    const std::size_t seq = forgotten_ + i;
    if (record.state != TopUpState::awaiting_approval) {
      return refuse(fmt::format("top-up {} is {}, not awaiting approval", key, core::to_string(record.state)));
    }
    if (!owned(record.account)) {
      return refuse(fmt::format("top-up {} is for account {}, which another instance owns now: ask it", key,
                                record.account));
    }
    using Kind = core::TopUpEvent::Kind;
    if (!approve) {
      const core::TopUpEvent rejected{Kind::rejected, core::ProviderOutcome::pending, "", "rejected " + how};
      journal_until_io(seq, core::step(record, rejected));
      if (record.state != TopUpState::rejected) return refuse("the rejection could not be journalled; try again");
      return Decided{};
    }
    if (paused_) return refuse("topupd is paused; resume it before approving");
    const core::Rule* rule = neighbours_.rule(record.rule);
    Decided decided;
    decided.needed = core::approvers_needed(
        record.amount, rule && rule->top_up ? rule->top_up->limits.dual_approval_above : std::nullopt);
    std::vector<std::string> approvers;
    try {
      store_.add_approval({key, who, core::approval_terms(record), clock_.now()});
      approvers = core::counted_approvers(record, store_.approvals(key));
    } catch (const adapters::StoreError& e) {
      metrics_.count_store_error("approval");
      return refuse(fmt::format("the approval could not be stored: {}", e.what()));
    }
    decided.approvals = static_cast<int>(approvers.size());
    std::string names;
    for (const auto& name : approvers) names += (names.empty() ? "" : ", ") + name;
    if (decided.approvals < decided.needed) {
      spdlog::info("top-up approval {} {} of {}, waits for another approver topup={} by={}", how, decided.approvals,
                   decided.needed, field(key), field(who));
      return decided;
    }
    spdlog::info("top-up approved {} topup={} amount={} approvers={}", how, field(key),
                 field(core::format_human(record.amount)), field(names));
    // The approval is journalled before this returns, in the transaction that counts the
    // approvals again; the request leaves from its own coroutine.
    const core::TopUpEvent approved{Kind::approved, core::ProviderOutcome::pending, "",
                                    fmt::format("approved {} by {}", how, names)};
    auto actions = core::step(record, approved);
    if (actions.empty() || actions.front().kind != core::TopUpAction::Kind::journal) {
      return refuse(fmt::format("top-up {} cannot be released now", key));
    }
    if (!release(record, actions.front().why, decided.needed)) {
      return refuse(fmt::format("top-up {} was not released: its approvals no longer count, or the journal "
                                "could not be written; nothing was sent",
                                key));
    }
    actions.erase(actions.begin());
    asio::co_spawn(io_, perform(seq, std::move(actions)), adapters::log_failure("approved top-up " + key));
    decided.released = true;
    return decided;
  }
  return refuse(fmt::format("no open top-up has the key {}", key));
}

bool TopUpExecutor::release(TopUpRecord& record, const std::string& why, int needed) {
  record.state = TopUpState::planned;
  try {
    if (store_.release_approved(record, TopUpState::awaiting_approval, clock_.now(), why, needed)) {
      count_move(TopUpState::awaiting_approval, TopUpState::planned);
      spdlog::info("top-up planned: {} topup={} rule={} account={}", why, field(record.key), field(record.rule),
                   field(record.account));
      return true;
    }
  } catch (const adapters::StoreError& e) {
    metrics_.count_store_error("transition");
    spdlog::error("cannot release an approved top-up: {} topup={}", e.what(), field(record.key));
  }
  record.state = TopUpState::awaiting_approval;
  return false;
}

void TopUpExecutor::expire_approvals(const std::string& account, core::Timestamp now) {
  for (auto next = index_.next_of_account(account, std::nullopt); next;
       next = index_.next_of_account(account, *next)) {
    TopUpRecord& record = at(*next);
    if (record.state != TopUpState::awaiting_approval) continue;
    core::Duration limit{std::chrono::hours(24)};
    if (const core::Rule* rule = neighbours_.rule(record.rule); rule && rule->top_up) limit = rule->top_up->limits.approval_expires;
    if (now - record.created_at >= limit) {
      const core::TopUpEvent expired{core::TopUpEvent::Kind::approval_expired, core::ProviderOutcome::pending, "",
                                     fmt::format("not approved within {}; nothing was sent", core::format_duration(limit))};
      journal_until_io(*next, core::step(record, expired));
    }
  }
}

}  // namespace topupd::app
