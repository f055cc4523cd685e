// Bank Indonesia SNAP: B2B token (SHA256withRSA), HMAC-SHA512 on every call, balance
// inquiry, direct debit (payment-host-to-host), intrabank transfer for sweeps and
// deposits (snap_deposit.cpp), with their status inquiries for look-ups. The transport
// is snap_client.cpp.
#include <fmt/format.h>

#include "snap_client.hpp"

namespace topupd::adapters::providers {
namespace {

using core::Money;
using json::Value;

class Snap final : public SnapClient {
 public:
  using SnapClient::SnapClient;

  bool partner_reference_names(const std::string& partner_reference, const std::string& key) const override {
    return snap_partner_reference(key) == partner_reference;
  }

  asio::awaitable<ProviderResult<Money>> balance(const BalanceQuery& query) override {
    Value body = Value::object()
                     .set("partnerReferenceNo", Value::string(read_external_id()))
                     .set("accountNo", Value::string(query.account_id));
    const std::string external = read_external_id();
    auto reply = co_await transact("balance-inquiry", body, external, false, query.on_queue);
    if (!reply) co_return reply.error();
    const auto& [code, document] = *reply;
    if (code.http != 200) co_return code_error(code, false);
    const Value* info = document.at_pointer("/accountInfos/0");
    if (!info) co_return malformed("no accountInfos", false);
    const Value* amount = info->find(config_.snap.balance_field);
    if (!amount) amount = info->find("amount");  // the fallback every bank fills
    const auto currency = amount ? amount->string_at("currency") : std::nullopt;
    const auto value = amount ? amount->string_at("value") : std::nullopt;
    if (!currency || !value) co_return malformed("no balance value", false);
    if (*currency != query.currency.code()) {
      co_return ProviderError{FailureKind::not_retryable, "currency_mismatch",
                              fmt::format("{} reports {} for account {}", config_.name, *currency, query.account_id)};
    }
    auto money = parse_major_text(*value, query.currency);
    if (!money) co_return malformed("balance value is not a decimal", false);
    co_return *money;
  }

  asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest& top_up) override {
    if (top_up.method == core::TopUpMethod::deposit) co_return co_await pay_deposit(*this, top_up);
    const bool debit = top_up.method == core::TopUpMethod::direct_debit;
    const std::string reference = snap_partner_reference(top_up.idempotency_key);
    const std::string external = snap_external_id(top_up.idempotency_key);
    Value body = Value::object().set("partnerReferenceNo", Value::string(reference));
    if (debit) {
      const std::string source = top_up.source.empty() ? config_.snap.debit_source : top_up.source;
      body.set("bankCardToken", Value::string(source))
          .set("amount", snap_money_json(top_up.amount))
          .set("additionalInfo", Value::object().set("beneficiaryAccountNo", Value::string(top_up.destination_id)));
    } else {
      body.set("amount", snap_money_json(top_up.amount))
          .set("beneficiaryAccountNo", Value::string(top_up.destination_id))
          .set("sourceAccountNo", Value::string(top_up.source))
          .set("transactionDate", Value::string(timestamp()));
    }
    auto reply = co_await transact(debit ? "debit/payment-host-to-host" : "transfer-intrabank", body, external, true);
    if (!reply) co_return reply.error();
    if (auto receipt = receipt_of(*reply, reference, debit)) co_return *receipt;
    // Duplicate partnerReferenceNo: the bank has it already. Ask for its state.
    co_return from_look_up(co_await look_up(top_up, ""));
  }

  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(const TopUpRequest& top_up,
                                                                       const std::string&) override {
    if (top_up.method == core::TopUpMethod::deposit) co_return co_await look_up_deposit(*this, top_up);
    const bool debit = top_up.method == core::TopUpMethod::direct_debit;
    co_return co_await status_inquiry(top_up, debit ? "debit/status" : "transfer/status", debit ? "54" : "17");
  }
};

}  // namespace

std::shared_ptr<Provider> make_snap(const config::ProviderConfig& config, asio::any_io_executor executor,
                                    const core::Clock& clock, core::Random& random) {
  return std::make_shared<Snap>(config, std::move(executor), clock, random);
}

}  // namespace topupd::adapters::providers
