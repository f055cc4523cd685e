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
  static const std::vector<AccountRuntime*> kNone;
  const std::vector<AccountRuntime*>& named_accounts =
      record || event.account.empty() ? kNone : poller_->accounts_at(provider, event.account);
  const bool named = !named_accounts.empty();
  if (named && std::none_of(named_accounts.begin(), named_accounts.end(),
                            [&](const AccountRuntime* account) { return owns(account->config.name); })) {
    return WebhookEffect::elsewhere;
  }
  std::vector<AccountRuntime*> record_account;
  if (record) {
    if (const auto it = poller_->accounts().find(record->account); it != poller_->accounts().end()) {
      record_account.push_back(it->second.get());
    }
  }
  const std::vector<AccountRuntime*>& concerned = record ? record_account
                                                  : named ? named_accounts
                                                          : poller_->accounts_at(provider);
  // The log line names at most ten of them: an event for a whole provider may wake thousands.
  constexpr std::size_t kNamed = 10;
  std::string woken;
  std::size_t woken_count = 0;
  for (AccountRuntime* account : concerned) {
    const std::string& name = account->config.name;
    if (!owns(name)) continue;
    poller_->wake(*account);
    if (++woken_count <= kNamed) woken += (woken.empty() ? "" : ",") + name;
  }
  if (woken_count > kNamed) woken += fmt::format(" and {} more", woken_count - kNamed);
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
               event.status.empty() ? "-" : event.status, woken.empty() ? "-" : field(woken));
  return record || named ? WebhookEffect::acted : WebhookEffect::everywhere;
}

}  // namespace topupd::app
