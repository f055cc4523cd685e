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

const core::TopUpRecord* Daemon::named_top_up(const std::string& provider, const webhooks::Event& event) const {
  // A deposit's ticket is the ticket provider's: its callback names the top-up too.
  auto serves = [&](const core::TopUpRecord& r) { return r.provider == provider || r.ticket_provider == provider; };
  const auto gateway = generation_.providers.find(provider);
  if (!event.partner_reference.empty() && gateway != generation_.providers.end()) {
    // What a partner reference names is the provider's to say, record by record.
    for (const auto& r : executor_->journal()) {
      if (serves(r) && ((!event.key.empty() && r.key == event.key) ||
                        (!event.reference.empty() && r.reference == event.reference) ||
                        gateway->second->partner_reference_names(event.partner_reference, r.key))) {
        return &r;
      }
    }
    return nullptr;
  }
  // The first in journal order (records sit in one vector) named by key or by reference.
  const core::TopUpRecord* record = nullptr;
  if (!event.key.empty()) {
    if (const auto* r = executor_->record_with_key(event.key); r && serves(*r)) record = r;
  }
  if (!event.reference.empty()) {
    for (const auto& r : executor_->records_with_reference(event.reference)) {
      if (record && record < &r) break;
      if (serves(r)) {
        record = &r;
        break;
      }
    }
  }
  return record;
}

Daemon::WebhookEffect Daemon::apply_webhook(const std::string& provider, const webhooks::Event& event) {
  if (stopping_) return WebhookEffect::elsewhere;
  const core::TopUpRecord* record = named_top_up(provider, event);
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
