// The top-up executor's deposit tickets (top_up_executor.hpp): a deposit to a ticket
// asks the destination's gateway for one under the top-up's key, journals it, and only
// then lets the payment leg pay it. An unanswered request is asked again at the next
// look (the gateway cannot look a ticket up by key; an unpaid one expires); a refusal
// ends the top-up with nothing moved.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "provider_call.hpp"
#include "top_up_executor.hpp"
#include "topupd/adapters/sys/crash_points.hpp"
#include "topupd/adapters/sys/logging.hpp"

namespace topupd::app {

using adapters::field;
using core::TopUpRecord;
using core::TopUpState;

asio::awaitable<void> TopUpExecutor::request_ticket(std::size_t index) {
  const TopUpRecord& r = at(index);
  const auto provider = providers_.find(r.ticket_provider);
  const core::Rule* rule = neighbours_.rule(r.rule);
  const std::optional<core::DepositSpec> deposit =
      rule && rule->top_up && r.rail < core::rail_count(*rule->top_up) ? core::rail_at(*rule->top_up, r.rail).deposit
                                                                       : std::nullopt;
  if (provider == providers_.end() || !deposit) {
    spdlog::error("cannot ask for a deposit ticket: its provider or rule is no longer configured topup={} provider={}",
                  field(r.key), field(r.ticket_provider));
    co_return;
  }
  // One request per key at a time: the account's loop and an approval may both start it.
  if (!sending_.insert(r.key).second) co_return;
  const adapters::TicketRequest request{r.key,    r.destination_id, deposit->to.bank, deposit->to.name,
                                        r.amount, clock_.now() + deposit->to.expires_after, deposit->to.kind};
  adapters::crash_point("ticket.before_request");
  auto call = provider->second->issue_ticket(request);
  auto result = co_await with_timeout(std::move(call), kTopUpTimeout, adapters::FailureKind::outcome_unknown);
  adapters::crash_point("ticket.after_response");
  sending_.erase(request.idempotency_key);
  using Kind = core::TopUpEvent::Kind;
  core::TopUpEvent event{Kind::ticket_unanswered};
  TopUpRecord& record = at(index);  // the journal may have grown meanwhile
  // A virtual account must be one the pins allow; a QRIS code credits the account's own
  // gateway, whose account the pins already allowed when the top-up was planned.
  const bool qris = request.kind == core::DepositDestination::Kind::qris;
  if (result && qris && result->qr.empty()) {
    failure_codes_[record.key] = "declined";
    event = {Kind::ticket_refused, core::ProviderOutcome::pending, "", "the gateway issued a QRIS ticket without a code"};
  } else if (result && !qris && pins_ && !pins_->allows_virtual_account(result->bank, result->account_no)) {
    // Not a virtual account the pinned file allows: never journalled, never paid.
    const std::string why = fmt::format("the ticket issued is {} {}, which the pinned destinations do not allow",
                                        result->bank, result->account_no);
    alert_deposit(record, "DepositTicketNotPinned", why);
    failure_codes_[record.key] = "declined";
    event = {Kind::ticket_refused, core::ProviderOutcome::pending, "", why};
  } else if (result) {
    record.ticket = *result;
    const std::string expiry = result->expires_at ? ", expires " + core::format_rfc3339(*result->expires_at) : "";
    const std::string note =
        qris ? fmt::format("ticket issued: QRIS code {} for {}{}", result->reference, core::format_human(record.amount),
                           expiry)
             : fmt::format("ticket issued: {} {} ({}) for {}{}", result->bank, result->account_no, result->name,
                           core::format_human(record.amount), expiry);
    try {
      store_.record_transition(record, record.state, clock_.now(), note);
      adapters::crash_point("ticket.after_journal");
      spdlog::info("deposit {} topup={} rule={} account={} reference={}", note, field(record.key), field(record.rule),
                   field(record.account), field(result->reference));
      event = {Kind::ticket_issued};
    } catch (const adapters::StoreError& e) {
      // Not journalled: not paid. The next look asks for another one.
      record.ticket.reset();
      metrics_.count_store_error("transition");
      spdlog::error("cannot journal a deposit ticket; it will not be paid: {} topup={}", e.what(), field(record.key));
    }
  } else if (result.error().kind == adapters::FailureKind::not_retryable) {
    failure_codes_[record.key] = core::failure_code(result.error().reason);
    event = {Kind::ticket_refused, core::ProviderOutcome::pending, "", result.error().message};
  } else {
    spdlog::warn("deposit ticket request unanswered; asked again at the next look topup={} reason={}",
                 field(record.key), result.error().reason);
    event = {Kind::ticket_unanswered, core::ProviderOutcome::pending, "", result.error().message};
  }
  auto actions = core::step(at(index), event);
  co_await perform(index, std::move(actions));
}

void TopUpExecutor::note_payment(const std::string& key, const std::string& payment_id) {
  const auto seq = index_.of_key(key);
  if (!seq || !at(*seq).reference.empty()) return;
  at(*seq).reference = payment_id;
  index_.referenced(at(*seq), *seq);
}

void TopUpExecutor::notify_ticket(const TopUpRecord& r, bool to_pay) {
  if (!r.ticket) return;
  const core::DepositTicket& t = *r.ticket;
  adapters::Notification n = notification_about(r, "DepositTicketToPay", "warning", to_pay);
  const std::string before = t.expires_at ? " before " + core::format_rfc3339(*t.expires_at) : "";
  if (!t.qr.empty()) {
    n.qr = t.qr;
    n.reason = to_pay ? fmt::format("DepositTicketToPay: please scan and pay QRIS code {} for exactly {}{} with a "
                                    "banking or e-wallet app; topupd sees the payment by the gateway's callback",
                                    t.reference, core::format_human(r.amount), before)
                      : fmt::format("QRIS code {} for {} is {}", t.reference, core::format_human(r.amount),
                                    r.state == TopUpState::succeeded ? "paid" : core::to_string(r.state));
  } else {
    n.reason = to_pay ? fmt::format("DepositTicketToPay: please transfer exactly {} to {} virtual account {} ({}){}; "
                                    "topupd sees the payment by the gateway's callback",
                                    core::format_human(r.amount), t.bank, t.account_no, t.name, before)
                      : fmt::format("ticket {} {} for {} is {}", t.bank, t.account_no, core::format_human(r.amount),
                                    r.state == TopUpState::succeeded ? "paid" : core::to_string(r.state));
  }
  n.fired_at = r.created_at;
  spdlog::log(to_pay ? spdlog::level::warn : spdlog::level::info, "{} topup={} rule={} account={}", n.reason,
              field(r.key), field(r.rule), field(r.account));
  const core::Rule* rule = neighbours_.rule(r.rule);
  if (rule && rule->alert) neighbours_.alert(n, rule->alert->notify);
}

void TopUpExecutor::alert_deposit(const TopUpRecord& r, const std::string& alert, const std::string& reason) {
  adapters::Notification n = notification_about(r, alert, "critical", true);
  n.reason = fmt::format("{}: deposit {} of {}: {}", alert, r.key, core::format_human(r.amount), reason);
  n.fired_at = n.at;
  spdlog::error("{} topup={} rule={} account={}", n.reason, field(r.key), field(r.rule), field(r.account));
  metrics_.count_alert(r.rule, n.severity);
  if (neighbours_.top_up_event) neighbours_.top_up_event("top_up.needs_attention", r, n.reason);
  const core::Rule* rule = neighbours_.rule(r.rule);
  if (rule && rule->alert) neighbours_.alert(n, rule->alert->notify);
}

}  // namespace topupd::app
