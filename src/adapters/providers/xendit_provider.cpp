// Xendit: the balance (GET /balance, CASH or HOLDING, a sub-account by for-user-id),
// deposit tickets — fixed virtual accounts (legacy API) and dynamic QRIS codes (QR Codes,
// API version 2022-07-31) — and their payments, and payouts out of the balance to
// another gateway's top-up account (Payouts v2).
//
// A payout is the money-moving leg of a deposit paid by another gateway: sent once
// under the top-up's key as `idempotency-key` (no expiry at Xendit). A repeat of a
// used key answers 409 DUPLICATE_ERROR rather than the first payout, so the repeat is
// answered by looking the payout up by `reference_id` (the key). A ticket a person
// pays is looked up by the payment its callback named.
#include <map>

#include <fmt/format.h>

#include "http_provider_base.hpp"
#include "topupd/core/deposit.hpp"

namespace topupd::adapters::providers {
namespace {

class Xendit final : public KeyedBalance {
 public:
  Xendit(const config::ProviderConfig& c, asio::any_io_executor e, const core::Clock& clock, core::Random& r)
      : KeyedBalance(c, "https://api.xendit.co", std::move(e), clock, r, false) {}

  asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest& top_up) override {
    if (top_up.method != core::TopUpMethod::deposit || top_up.source.empty() || !top_up.pay_to) co_return unsupported();
    if (auto refused = payout_refusal(top_up)) co_return *refused;
    const core::DepositTicket& to = *top_up.pay_to;
    if (auto refused = co_await outside_channel_limits(top_up)) co_return *refused;
    // Moves money: a lost answer is looked up, never resent blindly.
    net::Request request = post_json(top_up.source, "/v2/payouts");
    request.headers.emplace_back("idempotency-key", top_up.idempotency_key);
    const std::int64_t per = top_up.amount.currency().minor_per_major();
    request.body =
        Value::object()
            .set("reference_id", Value::string(top_up.idempotency_key))
            .set("channel_code", Value::string("ID_" + core::bank_name(to.bank)))
            .set("channel_properties", Value::object()
                                           .set("account_number", Value::string(to.account_no))
                                           .set("account_holder_name", Value::string(to.name)))
            .set("amount", Value::number(std::to_string(top_up.amount.minor() / per)))
            .set("currency", Value::string(std::string(top_up.amount.currency().code())))
            .set("description", Value::string("topupd top-up"))
            .serialize();
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    auto document = json::parse(reply->body);
    if (reply->status == 409 && document && document->string_at("error_code") == "DUPLICATE_ERROR") {
      // The key was used: the payout exists. Its own record is the answer.
      auto found = co_await find_payout(top_up);
      if (!found) co_return ProviderError{FailureKind::outcome_unknown, found.error().reason, found.error().message};
      if (!*found) {
        co_return ProviderError{FailureKind::outcome_unknown, "duplicate_not_found",
                                fmt::format("{} says the payout's key was used but lists no payout under it",
                                            config_.name)};
      }
      co_return **found;
    }
    if (reply->status < 200 || reply->status >= 300) {
      ProviderError error = status_error(*reply, true);
      if (reply->status >= 400 && reply->status < 500 && document) {
        if (auto code = document->string_at("error_code")) {
          error.reason = lower_code(*code);
          error.message += ": " + *code;
        }
      }
      co_return error;
    }
    auto receipt = document ? receipt_of(*document) : std::nullopt;
    if (!receipt) co_return malformed("not a payout object", true);
    co_return *receipt;
  }

  // A payout by its id once answered, else by its reference_id (the key). A ticket a
  // person pays: found once its VA-paid callback named the payment (`reference`), by
  // GET /callback_virtual_account_payments/payment_id={id}. Before that nothing is
  // known: Xendit lists no payments by virtual account.
  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(const TopUpRequest& top_up,
                                                                       const std::string& reference) override {
    if (top_up.method != core::TopUpMethod::deposit) co_return co_await BalanceOnly::look_up(top_up, reference);
    if (!top_up.source.empty()) {
      if (reference.empty()) co_return co_await find_payout(top_up);
      net::Request request = keyed(top_up.source, "/v2/payouts/" + net::url_encode(reference));
      auto document = co_await fetch(std::move(request));
      if (!document) co_return document.error();
      if (!*document) co_return co_await find_payout(top_up);
      auto receipt = receipt_of(**document);
      if (!receipt || (*document)->string_at("reference_id").value_or("") != top_up.idempotency_key) {
        co_return malformed("not this top-up's payout", false);
      }
      co_return std::optional(*receipt);
    }
    if (reference.empty()) co_return std::optional<TopUpReceipt>();
    if (top_up.pay_to && !top_up.pay_to->qr.empty()) co_return co_await look_up_qr_payment(top_up, reference);
    net::Request request = keyed_get("/callback_virtual_account_payments/payment_id=" + net::url_encode(reference));
    auto document = co_await fetch(std::move(request));
    if (!document) co_return document.error();
    if (!*document) co_return std::optional<TopUpReceipt>();
    if ((*document)->string_at("external_id").value_or("") != top_up.idempotency_key) {
      co_return malformed("the payment does not name this top-up's ticket", false);
    }
    co_return std::optional(TopUpReceipt{reference, ProviderTopUpStatus::succeeded, ""});
  }

  // A closed, single-use fixed virtual account for the exact amount, expiring: the
  // ticket a deposit pays. Xendit cannot look one up by external_id, so a lost answer
  // leaves at most an unpaid ticket that expires; the payment leg pays the journalled one.
  asio::awaitable<ProviderResult<core::DepositTicket>> issue_ticket(const TicketRequest& ticket) override {
    const std::int64_t per = ticket.amount.currency().minor_per_major();
    if (ticket.amount.minor() % per != 0) {
      co_return ProviderError{FailureKind::not_retryable, "invalid_amount",
                              fmt::format("{} takes whole {} amounts, not {}", config_.name,
                                          ticket.amount.currency().code(), core::format_human(ticket.amount))};
    }
    if (ticket.kind == core::DepositDestination::Kind::qris) co_return co_await issue_qr_code(ticket);
    net::Request request = post_json(ticket.account_id, "/callback_virtual_accounts");  // may issue another each time
    request.body = Value::object()
                       .set("external_id", Value::string(ticket.idempotency_key))
                       .set("bank_code", Value::string(ticket.bank))
                       .set("name", Value::string(ticket.name))
                       .set("is_closed", Value::boolean(true))
                       .set("expected_amount", Value::number(std::to_string(ticket.amount.minor() / per)))
                       .set("is_single_use", Value::boolean(true))
                       .set("expiration_date", Value::string(core::format_rfc3339(ticket.expires_at)))
                       .serialize();
    auto document = co_await create(std::move(request));
    if (!document) co_return document.error();
    const auto id = document->string_at("id");
    const auto number = document->string_at("account_number");
    if (!id || !number || number->empty()) co_return malformed("no id and account_number in the virtual account", true);
    core::DepositTicket out{*id, document->string_at("bank_code").value_or(ticket.bank), *number,
                            document->string_at("name").value_or(ticket.name), ticket.expires_at};
    if (auto expiry = core::parse_rfc3339(document->string_at("expiration_date").value_or(""))) out.expires_at = *expiry;
    co_return out;
  }

 protected:
  net::Request balance_request(const BalanceQuery& query) const override {
    // Sub-accounts (xenPlatform) are read with for-user-id.
    return keyed(query.account_id, fmt::format("/balance?account_type={}&currency={}",
                                               query.balance_kind == "holding" ? "HOLDING" : "CASH",
                                               query.currency.code()));
  }

 private:
  static constexpr const char* kQrApiVersion = "2022-07-31";

  // A dynamic QRIS code for the exact amount, expiring; reference_id is the top-up's
  // key. Like a virtual account it cannot be found by that key later: a lost answer
  // leaves at most an unpaid code behind, and it expires.
  asio::awaitable<ProviderResult<core::DepositTicket>> issue_qr_code(const TicketRequest& ticket) {
    net::Request request = post_json(ticket.account_id, "/qr_codes");  // may issue another code each time
    request.headers.emplace_back("api-version", kQrApiVersion);
    const std::int64_t per = ticket.amount.currency().minor_per_major();
    request.body = Value::object()
                       .set("reference_id", Value::string(ticket.idempotency_key))
                       .set("type", Value::string("DYNAMIC"))
                       .set("currency", Value::string(std::string(ticket.amount.currency().code())))
                       .set("amount", Value::number(std::to_string(ticket.amount.minor() / per)))
                       .set("expires_at", Value::string(core::format_rfc3339(ticket.expires_at)))
                       .serialize();
    auto document = co_await create(std::move(request));
    if (!document) co_return document.error();
    const auto id = document->string_at("id");
    const auto code = document->string_at("qr_string");
    if (!id || !code || code->empty()) co_return malformed("no id and qr_string in the QR code", true);
    core::DepositTicket out{*id, "QRIS", "", "", ticket.expires_at, *code};
    if (auto expiry = core::parse_rfc3339(document->string_at("expires_at").value_or(""))) out.expires_at = *expiry;
    co_return out;
  }

  // A QRIS ticket whose qr.payment callback named `payment`: Xendit documents no
  // look-up of a QR payment in this API version, so the code itself is asked for
  // (GET /qr_codes/{id}): it must be this top-up's and no longer payable (INACTIVE).
  // The callback's token and the balance's rise confirm the rest.
  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up_qr_payment(const TopUpRequest& top_up,
                                                                                  const std::string& payment) {
    net::Request request = keyed(top_up.destination_id, "/qr_codes/" + net::url_encode(top_up.pay_to->reference));
    request.headers.emplace_back("api-version", kQrApiVersion);
    auto document = co_await fetch(std::move(request));
    if (!document) co_return document.error();
    if (!*document || (*document)->string_at("reference_id").value_or("") != top_up.idempotency_key) {
      co_return malformed("the QR code is not this top-up's", false);
    }
    const bool inactive = (*document)->string_at("status").value_or("") == "INACTIVE";
    co_return std::optional(TopUpReceipt{payment, inactive ? ProviderTopUpStatus::succeeded : ProviderTopUpStatus::pending, ""});
  }

  // A JSON POST as `account` that may create something each time it is sent: never
  // repeated by the HTTP client.
  net::Request post_json(const std::string& account, const std::string& path) const {
    net::Request request = keyed(account, path);
    request.method = "POST";
    request.idempotent = false;
    request.headers.emplace_back("Content-Type", "application/json");
    return request;
  }

  // Sends a POST that may have created something; its answer as JSON. Whatever goes
  // wrong after it left leaves the outcome unknown.
  asio::awaitable<ProviderResult<Value>> create(net::Request request) {
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, true);
    auto document = json::parse(reply->body);
    if (!document) co_return malformed("not JSON", true);
    co_return std::move(*document);
  }

  // A GET as `account` (a sub-account by for-user-id; "master" is the key's own).
  net::Request keyed(const std::string& account, const std::string& path) const {
    net::Request request = keyed_get(path);
    if (!account.empty() && account != "master") request.headers.emplace_back("for-user-id", account);
    return request;
  }

  // What Xendit would refuse before anything moves: a fraction of a rupiah, more than
  // BI-FAST moves in one transaction, no destination.
  std::optional<ProviderError> payout_refusal(const TopUpRequest& top_up) const {
    const core::Money& amount = top_up.amount;
    if (amount.minor() % amount.currency().minor_per_major() != 0) {
      return ProviderError{FailureKind::not_retryable, "invalid_amount",
                           fmt::format("{} pays out whole {} amounts, not {}", config_.name, amount.currency().code(),
                                       core::format_human(amount))};
    }
    if (amount.currency().code() == "IDR" && amount.minor() > core::kBiFastLimitMinor) {
      return ProviderError{FailureKind::not_retryable, "maximum_transfer_limit_error",
                           fmt::format("{} pays out at most IDR 250,000,000 in one BI-FAST payout, not {}",
                                       config_.name, core::format_human(amount))};
    }
    if (top_up.pay_to->account_no.empty()) {
      return ProviderError{FailureKind::not_retryable, "invalid_destination", "the payout has no destination account"};
    }
    return std::nullopt;
  }

  // The channel's own limits (GET /payouts_channels: minimum, maximum, minimum
  // increment), read once an hour per channel: a payout outside them is refused here,
  // before anything moves, with the numbers. Limits that cannot be read hold nothing
  // back — Xendit refuses the same payouts itself.
  asio::awaitable<std::optional<ProviderError>> outside_channel_limits(const TopUpRequest& top_up) {
    const std::string channel = "ID_" + core::bank_name(top_up.pay_to->bank);
    auto known = channel_limits_.find(channel);
    if (known == channel_limits_.end() || clock_.now() - known->second.read_at > std::chrono::hours(1)) {
      net::Request request = keyed("", "/payouts_channels?currency=IDR&channel_category=BANK&channel_code=" +
                                           net::url_encode(channel));
      auto reply = co_await call(std::move(request));
      std::optional<json::Value> document;
      if (reply && reply->status == 200) document = json::parse(reply->body);
      const Value* limits = nullptr;
      if (document && document->is_array()) {
        for (const auto& item : document->items()) {
          if (item.string_at("channel_code").value_or("") == channel) limits = item.find("amount_limits");
        }
      }
      if (!limits) co_return std::nullopt;
      const core::Currency idr = top_up.amount.currency();
      const auto read = [&](const char* name) -> std::optional<core::Money> {
        const Value* v = limits->find(name);
        return v && v->is_number() ? parse_major_text(v->text(), idr) : std::nullopt;
      };
      known = channel_limits_.insert_or_assign(channel, ChannelLimits{read("minimum"), read("maximum"),
                                                                      read("minimum_increment"), clock_.now()})
                  .first;
    }
    const ChannelLimits& l = known->second;
    const core::Money& amount = top_up.amount;
    std::string why;
    if (l.minimum && amount < *l.minimum) why = "less than its minimum " + core::format_human(*l.minimum);
    else if (l.maximum && amount > *l.maximum) why = "more than its maximum " + core::format_human(*l.maximum);
    else if (l.increment && l.increment->is_positive() && amount.minor() % l.increment->minor() != 0) {
      why = "not a multiple of its increment " + core::format_human(*l.increment);
    }
    if (why.empty()) co_return std::nullopt;
    co_return ProviderError{FailureKind::not_retryable, "outside_channel_limits",
                            fmt::format("{} refuses a payout of {} through {}: {}", config_.name,
                                        core::format_human(amount), channel, why)};
  }

  struct ChannelLimits {
    std::optional<core::Money> minimum, maximum, increment;
    core::Timestamp read_at;
  };
  std::map<std::string, ChannelLimits> channel_limits_;

  // GET /v2/payouts?reference_id=KEY: newest first; the one under this key.
  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> find_payout(const TopUpRequest& top_up) {
    net::Request request = keyed(top_up.source, "/v2/payouts?reference_id=" + net::url_encode(top_up.idempotency_key));
    auto document = co_await fetch(std::move(request));
    if (!document) co_return document.error();
    const Value* data = *document ? (*document)->find("data") : nullptr;
    if (!data || !data->is_array()) co_return malformed("not a list of payouts", false);
    for (const auto& item : data->items()) {
      if (item.string_at("reference_id").value_or("") != top_up.idempotency_key) continue;
      auto receipt = receipt_of(item);
      if (!receipt) co_return malformed("not a payout object", false);
      co_return std::optional(*receipt);
    }
    co_return std::optional<TopUpReceipt>();
  }

  static std::string lower_code(std::string code) {
    for (auto& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return code;
  }

  // ACCEPTED, REQUESTED and LOCKED are on their way; SUCCEEDED left the channel;
  // FAILED and CANCELLED moved nothing; REVERSED came back after it succeeded.
  static std::optional<TopUpReceipt> receipt_of(const Value& payout) {
    const auto id = payout.string_at("id");
    const auto status = payout.string_at("status");
    if (!id || !status) return std::nullopt;
    if (*status == "SUCCEEDED") return TopUpReceipt{*id, ProviderTopUpStatus::succeeded, ""};
    if (*status == "ACCEPTED" || *status == "REQUESTED" || *status == "LOCKED") {
      return TopUpReceipt{*id, ProviderTopUpStatus::pending, ""};
    }
    if (*status == "FAILED" || *status == "CANCELLED" || *status == "REVERSED") {
      const std::string code = payout.string_at("failure_code").value_or("");
      TopUpReceipt receipt{*id, ProviderTopUpStatus::failed,
                           fmt::format("payout {}{}", lower_code(*status), code.empty() ? "" : ": " + code)};
      receipt.reversed = *status == "REVERSED";
      return receipt;
    }
    return std::nullopt;
  }
};

}  // namespace

std::shared_ptr<Provider> make_xendit(const config::ProviderConfig& config, asio::any_io_executor executor,
                                      const core::Clock& clock, core::Random& random) {
  return std::make_shared<Xendit>(config, std::move(executor), clock, random);
}

}  // namespace topupd::adapters::providers
