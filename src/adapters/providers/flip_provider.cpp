// Flip for Business: the balance (GET /v2/general/balance) and disbursements out of it
// to another gateway's top-up account — the payment leg of a deposit paid by a payout.
//
// A disbursement (POST /v3/disbursement, form-encoded) carries the top-up's key as
// `idempotency-key`: Flip answers a repeat of the same request with the first response
// instead of paying again, so a lost answer is looked up by that key
// (GET /v3/get-disbursement?idempotency-key=…) and, when Flip has none, sent again under
// it. PENDING is on its way, DONE paid, CANCELLED paid nothing.
#include <fmt/format.h>

#include "http_provider_base.hpp"
#include "topupd/core/deposit.hpp"

namespace topupd::adapters::providers {
namespace {

// Flip's smallest disbursement.
constexpr std::int64_t kFlipMinimumMinor = 10'000'00;

class Flip final : public KeyedBalance {
 public:
  Flip(const config::ProviderConfig& c, asio::any_io_executor e, const core::Clock& clock, core::Random& r)
      : KeyedBalance(c, "https://bigflip.id/api", std::move(e), clock, r, false) {}

  asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest& top_up) override {
    if (top_up.method != core::TopUpMethod::deposit || top_up.source.empty() || !top_up.pay_to) co_return unsupported();
    const core::Money& amount = top_up.amount;
    const std::int64_t per = amount.currency().minor_per_major();
    if (amount.minor() % per != 0 || amount.minor() < kFlipMinimumMinor || amount.minor() > core::kBiFastLimitMinor) {
      co_return ProviderError{FailureKind::not_retryable, "invalid_amount",
                              fmt::format("{} disburses whole rupiah from IDR 10,000 to IDR 250,000,000, not {}",
                                          config_.name, core::format_human(amount))};
    }
    std::string bank = core::bank_name(top_up.pay_to->bank);
    for (auto& c : bank) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    net::Request request = keyed_get("/v3/disbursement");
    request.method = "POST";
    request.idempotent = false;  // moves money: a lost answer is looked up, never resent blindly
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    request.headers.emplace_back("idempotency-key", top_up.idempotency_key);
    request.body = fmt::format("account_number={}&bank_code={}&amount={}&remark={}",
                               net::url_encode(top_up.pay_to->account_no), net::url_encode(bank),
                               amount.minor() / per, net::url_encode("topupd top-up"));
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    auto document = json::parse(reply->body);
    if (reply->status < 200 || reply->status >= 300) {
      ProviderError error = status_error(*reply, true);
      if (reply->status == 422 && document) {
        if (auto code = document->string_at("code")) {
          error.reason = *code == "BALANCE_INSUFFICIENT" ? "insufficient_funds" : "rejected";
          error.message += ": " + *code;
        }
      }
      co_return error;
    }
    auto receipt = document ? receipt_of(*document) : std::nullopt;
    if (!receipt) co_return malformed("not a disbursement", true);
    co_return *receipt;
  }

  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(const TopUpRequest& top_up,
                                                                       const std::string& reference) override {
    if (top_up.method != core::TopUpMethod::deposit || top_up.source.empty()) {
      co_return co_await BalanceOnly::look_up(top_up, reference);
    }
    net::Request request = keyed_get("/v3/get-disbursement?idempotency-key=" + net::url_encode(top_up.idempotency_key));
    auto document = co_await fetch(std::move(request));
    if (!document) co_return document.error();
    if (!*document) co_return std::optional<TopUpReceipt>();  // Flip never received it
    auto receipt = receipt_of(**document);
    if (!receipt || (*document)->string_at("idempotency_key").value_or(top_up.idempotency_key) != top_up.idempotency_key) {
      co_return malformed("not this top-up's disbursement", false);
    }
    co_return std::optional(*receipt);
  }

 protected:
  net::Request balance_request(const BalanceQuery&) const override { return keyed_get("/v2/general/balance"); }

 private:
  static std::optional<TopUpReceipt> receipt_of(const Value& disbursement) {
    const Value* id = disbursement.find("id");
    const auto status = disbursement.string_at("status");
    if (!id || !(id->is_number() || id->is_string()) || id->text().empty() || !status) return std::nullopt;
    if (*status == "DONE") return TopUpReceipt{id->text(), ProviderTopUpStatus::succeeded, ""};
    if (*status == "PENDING") return TopUpReceipt{id->text(), ProviderTopUpStatus::pending, ""};
    if (*status == "CANCELLED") {
      const std::string reason = disbursement.string_at("reason").value_or("");
      return TopUpReceipt{id->text(), ProviderTopUpStatus::failed,
                          "disbursement cancelled" + (reason.empty() ? "" : ": " + reason)};
    }
    return std::nullopt;
  }
};

}  // namespace

std::shared_ptr<Provider> make_flip(const config::ProviderConfig& config, asio::any_io_executor executor,
                                    const core::Clock& clock, core::Random& random) {
  return std::make_shared<Flip>(config, std::move(executor), clock, random);
}

}  // namespace topupd::adapters::providers
