// The top-up executor's look-ups (top_up_executor.hpp): each poll asks the machine what
// an account's open top-ups need — a look-up at the provider, a ticket, an expiry — and
// a look-up's answer goes back through the machine. A succeeded payout its gateway
// says came back is confirmed by a look-up and handed to people. An account another
// instance gave up is read again and its open top-ups looked up first.
#include <algorithm>
#include <array>

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "provider_call.hpp"
#include "top_up_executor.hpp"
#include "topupd/adapters/supervise.hpp"
#include "topupd/adapters/sys/crash_points.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using adapters::FailureKind;
using core::TopUpRecord;

asio::awaitable<void> TopUpExecutor::reconcile(const std::string& account) {
  if (!owned(account)) co_return;
  expire_approvals(account, clock_.now());
  // The account's records by sequence number, the next one found again after each: the
  // journal may grow, and forget old records, while a look-up waits.
  for (auto next = index_.next_of_account(account, std::nullopt); next;
       next = index_.next_of_account(account, *next)) {
    const std::size_t seq = *next;
    TopUpRecord& record = at(seq);
    if (sending_.count(record.key)) continue;  // its request is on the wire: nothing to look up
    if (record.ticket && record.ticket->expires_at && *record.ticket->expires_at <= clock_.now()) {
      const core::TopUpEvent expired{core::TopUpEvent::Kind::ticket_expired, core::ProviderOutcome::pending, "",
                                     "its ticket expired before it was paid"};
      auto ended = core::step(record, expired);
      if (!ended.empty()) {
        co_await perform(seq, std::move(ended));
        continue;
      }
    }
    const core::TopUpEvent due{core::TopUpEvent::Kind::look_up_due};
    auto actions = core::step(record, due);
    co_await perform(seq, std::move(actions));
  }
}

asio::awaitable<void> TopUpExecutor::look_up(std::size_t index) {
  auto provider = providers_.find(at(index).provider);
  const core::AccountWatch* watch = neighbours_.watch(at(index).account);
  if (provider == providers_.end() || !watch) co_return;
  const core::Duration timeout = watch->poll_timeout;
  const std::string key = at(index).key;
  const adapters::TopUpRequest original = request_of(at(index));
  const std::string reference = at(index).reference;
  adapters::crash_point("reconcile.before_look_up");
  auto call = provider->second->look_up(original, reference);
  auto found = co_await with_timeout(std::move(call), timeout, FailureKind::retryable);
  adapters::crash_point("reconcile.after_look_up");
  using Kind = core::TopUpEvent::Kind;
  if (!found) {
    spdlog::warn("top-up look-up failed; will try again topup={} reason={}", field(key), found.error().reason);
    const core::TopUpEvent failed{Kind::look_up_failed, core::ProviderOutcome::pending, "", found.error().message};
    auto actions = core::step(at(index), failed);
    co_await perform(index, std::move(actions));
    co_return;
  }
  if (!found.value()) {
    adapters::crash_point("reconcile.before_resend");
    const core::TopUpEvent not_found{Kind::not_found};
    auto actions = core::step(at(index), not_found);
    co_await perform(index, std::move(actions));
    co_return;
  }
  const auto& receipt = *found.value();
  TopUpRecord& record = at(index);
  if (record.reference.empty()) {
    record.reference = receipt.reference;
    index_.referenced(record, index);
  }
  std::string why = receipt.failure;
  const auto hint = webhook_hints_.find(key);
  if (hint != webhook_hints_.end()) {
    why = fmt::format("looked up after webhook {}{}", hint->second, why.empty() ? "" : "; " + why);
  }
  const core::TopUpEvent found_it{Kind::found, outcome_of(receipt.status), record.reference, why};
  auto actions = core::step(record, found_it);
  if (!actions.empty() && hint != webhook_hints_.end()) webhook_hints_.erase(hint);
  co_await perform(index, std::move(actions));
}

void TopUpExecutor::check_reversal(const std::string& key) {
  asio::co_spawn(io_, confirm_reversal(key), adapters::log_failure("reversal of top-up " + key));
}

asio::awaitable<void> TopUpExecutor::confirm_reversal(std::string key) {
  std::optional<std::size_t> seq;
  for (std::size_t i = 0; i < journal_.size(); ++i) {
    if (journal_[i].key == key) seq = forgotten_ + i;
  }
  // Only a succeeded top-up can come back; one already known to have is not news.
  if (!seq || at(*seq).state != core::TopUpState::succeeded || at(*seq).last_error.rfind(kReversed, 0) == 0) co_return;
  auto provider = providers_.find(at(*seq).provider);
  const core::AccountWatch* watch = neighbours_.watch(at(*seq).account);
  // Held while it is looked up, so the record is not forgotten meanwhile.
  if (provider == providers_.end() || !watch || !sending_.insert(key).second) co_return;
  const adapters::TopUpRequest original = request_of(at(*seq));
  auto call = provider->second->look_up(original, at(*seq).reference);
  auto found = co_await with_timeout(std::move(call), watch->poll_timeout, FailureKind::retryable);
  sending_.erase(key);
  if (!found) {
    // The callback was authentic (its token held); without a look-up it cannot be
    // confirmed, and it will not be delivered again: a person must look.
    alert_deposit(at(*seq), "TopUpReversed",
                  fmt::format("{} says payout {} came back after it succeeded, and the look-up to confirm it "
                              "failed ({}): check the payout at the gateway by hand",
                              at(*seq).provider, at(*seq).reference, found.error().reason));
    co_return;
  }
  if (!found.value() || !found.value()->reversed) {
    spdlog::warn("a callback says top-up {} came back, but its look-up finds it did not", field(key));
    co_return;
  }
  TopUpRecord& record = at(*seq);
  if (record.state != core::TopUpState::succeeded || record.last_error.rfind(kReversed, 0) == 0) co_return;
  record.last_error = fmt::format("{}: {}", kReversed, found.value()->failure);
  const std::string why = fmt::format("{} says payout {} came back after it succeeded: the destination did not keep "
                                      "the money, which is back in the paying balance",
                                      record.provider, record.reference);
  try {
    store_.record_transition(record, record.state, clock_.now(), why);
  } catch (const adapters::StoreError& e) {
    behind_.try_emplace(record.key, record.state);
    metrics_.count_store_error("transition");
    spdlog::error("cannot journal a reversed payout: {} topup={}", e.what(), field(record.key));
  }
  alert_deposit(record, "TopUpReversed", why + "; fund the account again by hand or let the rule do so");
}

// Several instances: an account taken over is read again from the store.
void TopUpExecutor::adopt(const std::string& account, const std::vector<TopUpRecord>& records) {
  for (const auto& record : records) {
    if (record.account != account || sending_.count(record.key)) continue;
    const auto known = index_.of_key(record.key);
    std::size_t seq = 0;
    if (known) {
      seq = *known;
      count_move(at(seq).state, record.state);
      at(seq) = record;
      index_.referenced(at(seq), seq);
      behind_.erase(record.key);  // what the journal says is what this run knows now
    } else {
      journal_.push_back(record);
      count_move(std::nullopt, record.state);
      seq = forgotten_ + journal_.size() - 1;
      index_.add(journal_.back(), seq);
    }
    if (record.method == core::TopUpMethod::deposit && !core::is_terminal(record.state)) {
      deposit_floors_.try_emplace(record.key, DepositFloor{record.account, std::nullopt});
    }
    const std::array<TopUpRecord, 1> one{record};
    stuck_.seed(one);
    const core::TopUpEvent restarted{core::TopUpEvent::Kind::restarted};
    journal_until_io(seq, core::step(at(seq), restarted));
  }
}

void TopUpExecutor::release(const std::string& account) {
  verifications_.erase(account);
  std::erase_if(deposit_floors_, [&](const auto& floor) { return floor.second.account == account; });
}

}  // namespace topupd::app
