// What an accepted webhook does (webhook_intake.hpp receives it): it names a top-up
// — by key, by the gateway's reference, or by a reference the provider derives from
// the key — which is then looked up at the gateway, and wakes the polls of the
// accounts it concerns. It never moves the journal by itself.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
namespace webhooks = adapters::webhooks;

Daemon::WebhookEffect Daemon::apply_webhook(const std::string& provider, const webhooks::Event& event) {
  if (stopping_) return WebhookEffect::elsewhere;
  const core::TopUpRecord* record = nullptr;
  const auto gateway = generation_.providers.find(provider);
  for (const auto& r : executor_->journal()) {
    // A deposit's ticket is the ticket provider's: its callback names the top-up too.
    if (r.provider != provider && r.ticket_provider != provider) continue;
    if ((!event.key.empty() && r.key == event.key) || (!event.reference.empty() && r.reference == event.reference) ||
        (!event.partner_reference.empty() && gateway != generation_.providers.end() &&
         gateway->second->partner_reference_names(event.partner_reference, r.key))) {
      record = &r;
      break;
    }
  }
  // Several instances: only the owner of the top-up's account acts on it.
  if (record && !owns(record->account)) return WebhookEffect::elsewhere;
  // The top-up's account; else the accounts the event names; else every account of
  // the provider.
  const auto named_by_event = [&](const AccountRuntime& account) {
    return account.config.provider == provider && account.config.id == event.account;
  };
  const bool named = !record && !event.account.empty() &&
                     std::any_of(poller_->accounts().begin(), poller_->accounts().end(),
                                 [&](const auto& entry) { return named_by_event(*entry.second); });
  if (named && !std::any_of(poller_->accounts().begin(), poller_->accounts().end(), [&](const auto& entry) {
        return named_by_event(*entry.second) && owns(entry.first);
      })) {
    return WebhookEffect::elsewhere;
  }
  std::string woken;
  for (const auto& [name, account] : poller_->accounts()) {
    const bool concerned = record  ? account->config.name == record->account
                           : named ? named_by_event(*account)
                                   : account->config.provider == provider;
    if (!concerned || !owns(name)) continue;
    poller_->wake(name);
    woken += (woken.empty() ? "" : ",") + name;
  }
  if (record && !event.payment.empty() && core::paid_by_person(*record)) {
    if (core::is_terminal(record->state)) {
      // Paid after topupd gave it up: the money arrived, for a top-up that ended.
      executor_->alert_deposit(*record, "DepositPaidAfterExpiry",
                               fmt::format("{} says the ticket was paid ({}) after the top-up ended {}; nothing "
                                           "else was paid for it — check the balance and the next top-up",
                                           provider, event.paid.empty() ? "amount not given" : event.paid,
                                           core::to_string(record->state)));
    } else {
      executor_->note_payment(record->key, event.payment);
    }
  }
  if (record && !event.paid.empty()) {
    // The destination says what arrived: anything but the ticket's amount needs a person.
    const auto paid = core::parse_decimal_amount(event.paid, record->amount.currency()).value;
    if (!paid || !(*paid == record->amount)) {
      executor_->alert_deposit(*record, "DepositAmountMismatch",
                               fmt::format("{} says {} arrived; the deposit was for {}", provider,
                                           paid ? core::format_human(*paid) : "'" + event.paid + "'",
                                           core::format_human(record->amount)));
    }
  }
  if (record && !core::is_terminal(record->state)) executor_->hint(record->key, event.id);
  if (record && record->state == core::TopUpState::succeeded && event.status == "reversed") {
    executor_->check_reversal(record->key);
  } else if (!record && event.status == "reversed") {
    spdlog::error("{} says payout {} came back, but it names no top-up topupd still holds in memory (older than two "
                  "days, or not topupd's): check that gateway's balance by hand event={}",
                  provider, event.reference.empty() ? "-" : event.reference, field(event.id));
  }
  spdlog::info("webhook accepted provider={} event={} type={} topup={} status={} polling={}", provider,
               field(event.id), field(event.type), record ? field(record->key) : "-",
               event.status.empty() ? "-" : event.status, woken.empty() ? "-" : woken);
  return record || named ? WebhookEffect::acted : WebhookEffect::everywhere;
}

}  // namespace topupd::app
