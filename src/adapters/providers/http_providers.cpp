#include <fmt/format.h>

#include "http_provider_base.hpp"
#include "topupd/adapters/crypto/crypto.hpp"

namespace topupd::adapters {

using core::Money;
using json::Value;

std::optional<Money> parse_minor_text(const std::string& text, core::Currency currency) {
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 18 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  return Money(negative ? -value : value, currency);
}

std::optional<Money> parse_major_text(const std::string& text, core::Currency currency) {
  if (text.empty() || text.find_first_of("eE+") != std::string::npos) return std::nullopt;
  return core::parse_decimal_amount(text, currency).value;
}

std::string stripe_idempotency_key(const std::string& key) {
  // Stripe allows 255 characters; longer keys are hashed to a fixed length.
  if (key.size() <= 255) return key;
  return "topupd-" + crypto::hex(crypto::sha256(key));
}

std::string snap_partner_reference(const std::string& key) {
  return "TPD" + crypto::hex(crypto::sha256(key)).substr(0, 29);
}

std::string snap_external_id(const std::string& key) {
  const std::string digest = crypto::sha256("x-external-id:" + key);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<unsigned char>(digest[static_cast<std::size_t>(i)]);
  return fmt::format("{:020}", n);
}

namespace providers {

HttpProvider::HttpProvider(const config::ProviderConfig& config, std::string default_base,
                           asio::any_io_executor executor, const core::Clock& clock, core::Random& random)
    : config_(config), base_(config.http.base_url.empty() ? std::move(default_base) : config.http.base_url),
      clock_(clock), random_(random) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  net::ClientOptions options;
  options.name = config.name;
  options.connect_timeout = config.http.connect_timeout;
  options.tls_timeout = config.http.tls_timeout;
  options.request_timeout = config.http.request_timeout;
  options.ca_file = config.http.ca_file;
  options.max_attempts = config.http.max_attempts;
  options.rate_per_second = config.http.rate_per_second;
  options.concurrency = config.http.concurrency;
  options.breaker_failures = config.http.breaker_failures;
  options.breaker_open_for = config.http.breaker_open_for;
  options.proxy = config.http.proxy;
  client_ = std::make_unique<net::Client>(std::move(executor), options, clock, random);
}

asio::awaitable<Reply> HttpProvider::call(net::Request request) {
  auto result = co_await client_->send(std::move(request));
  if (!result) co_return ProviderError{result.error().kind, result.error().reason, result.error().message};
  co_return std::move(*result);
}

asio::awaitable<ProviderResult<std::optional<Value>>> HttpProvider::fetch(net::Request request) {
  auto reply = co_await call(std::move(request));
  if (!reply) co_return reply.error();
  if (reply->status == 404) co_return std::optional<Value>();
  if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, false);
  auto document = json::parse(reply->body);
  if (!document) co_return malformed("not JSON", false);
  co_return std::optional<Value>(std::move(*document));
}

ProviderError HttpProvider::status_error(const net::Response& response, bool moves_money) const {
  const int status = response.status;
  const std::string message = fmt::format("{} answered HTTP {}", config_.name, status);
  if (status == 429) return {FailureKind::retryable, "rate_limited", message + " (rate limited)"};
  if (status >= 500) {
    return {moves_money ? FailureKind::outcome_unknown : FailureKind::retryable, fmt::format("http_{}", status), message};
  }
  if (status == 401 || status == 403) {
    return {FailureKind::not_retryable, "unauthorized", message + ": the gateway refused the credentials"};
  }
  if (status == 404) return {FailureKind::not_retryable, "not_found", message + ": no such account or resource"};
  return {FailureKind::not_retryable, fmt::format("http_{}", status), message};
}

ProviderError HttpProvider::malformed(const std::string& what, bool moves_money) const {
  return {moves_money ? FailureKind::outcome_unknown : FailureKind::retryable, "malformed_response",
          fmt::format("{}: unexpected answer ({})", config_.name, what)};
}

std::string HttpProvider::basic_auth(const std::string& user, const std::string& password) {
  return "Basic " + crypto::base64(user + ":" + password);
}

ProviderResult<TopUpReceipt> HttpProvider::unsupported() const {
  return ProviderError{FailureKind::not_retryable, "unsupported",
                       fmt::format("{} ({}) has no API to move money in", config_.name, type_name())};
}

namespace {

class MidtransIris final : public KeyedBalance {
 public:
  // Iris writes the balance as a decimal string.
  MidtransIris(const config::ProviderConfig& c, asio::any_io_executor e, const core::Clock& clock, core::Random& r)
      : KeyedBalance(c, "https://app.midtrans.com/iris", std::move(e), clock, r, true) {}

 protected:
  net::Request balance_request(const BalanceQuery& query) const override {
    // Aggregator: one balance; facilitator: one per bank account.
    return keyed_get(query.account_id.empty() || query.account_id == "aggregator"
                         ? "/api/v1/balance"
                         : "/api/v1/bank_accounts/" + net::url_encode(query.account_id) + "/balance");
  }
};

class Stripe final : public HttpProvider {
 public:
  Stripe(const config::ProviderConfig& c, asio::any_io_executor e, const core::Clock& clock, core::Random& r)
      : HttpProvider(c, "https://api.stripe.com", std::move(e), clock, r) {}

  asio::awaitable<ProviderResult<Money>> balance(const BalanceQuery& query) override {
    net::Request request = base_request("GET", "/v1/balance", query.account_id);
    request.on_queue = query.on_queue;
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, false);
    auto document = json::parse(reply->body);
    if (!document) co_return malformed("not JSON", false);
    const Value* list = document->find(query.balance_kind == "pending" ? "pending" : "available");
    if (!list || !list->is_array()) co_return malformed("no balance list", false);
    std::string code(query.currency.code());
    for (auto& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& entry : list->items()) {
      if (entry.string_at("currency") != code) continue;
      const Value* amount = entry.find("amount");
      auto money = amount && amount->is_number() ? parse_minor_text(amount->text(), query.currency) : std::nullopt;
      if (!money) co_return malformed("amount is not an integer", false);
      co_return *money;
    }
    co_return Money(0, query.currency);  // no entry for the currency: nothing there
  }

  asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest& top_up) override {
    if (top_up.method != core::TopUpMethod::direct_debit) co_return unsupported();
    std::string code(top_up.amount.currency().code());
    for (auto& c : code) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    net::Request request = base_request("POST", "/v1/topups", top_up.destination_id);
    request.idempotent = false;
    request.headers.emplace_back("Idempotency-Key", stripe_idempotency_key(top_up.idempotency_key));
    request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    request.body = fmt::format("amount={}&currency={}&description={}&metadata%5Btopupd_key%5D={}", top_up.amount.minor(),
                               code, net::url_encode("topupd " + top_up.idempotency_key),
                               net::url_encode(top_up.idempotency_key));
    if (!top_up.source.empty()) request.body += "&source=" + net::url_encode(top_up.source);
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    auto document = json::parse(reply->body);
    if (reply->status == 400 && document && document->at_pointer("/error/type") &&
        document->at_pointer("/error/type")->text() == "idempotency_error") {
      co_return ProviderError{FailureKind::not_retryable, "idempotency_mismatch",
                              "Stripe refused: the idempotency key was used with other parameters"};
    }
    if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, true);
    if (!document) co_return malformed("not JSON", true);
    auto receipt = receipt_of(*document);
    if (!receipt) co_return malformed("not a topup object", true);
    co_return *receipt;
  }

  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(const TopUpRequest& top_up,
                                                                       const std::string& reference) override {
    if (!reference.empty()) {
      net::Request request = base_request("GET", "/v1/topups/" + net::url_encode(reference), top_up.destination_id);
      auto document = co_await fetch(std::move(request));
      if (!document) co_return document.error();
      if (!*document) co_return std::optional<TopUpReceipt>();
      auto receipt = receipt_of(**document);
      if (!receipt) co_return malformed("not a topup object", false);
      co_return std::optional<TopUpReceipt>(*receipt);
    }
    // No answer ever arrived: find it by the key we put in its metadata.
    net::Request request = base_request("GET", "/v1/topups?limit=100", top_up.destination_id);
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, false);
    auto document = json::parse(reply->body);
    const Value* data = document ? document->find("data") : nullptr;
    if (!data || !data->is_array()) co_return malformed("not a list", false);
    for (const auto& item : data->items()) {
      const Value* key = item.at_pointer("/metadata/topupd_key");
      if (key && key->is_string() && key->text() == top_up.idempotency_key) {
        auto receipt = receipt_of(item);
        if (!receipt) co_return malformed("not a topup object", false);
        co_return std::optional<TopUpReceipt>(*receipt);
      }
    }
    co_return std::optional<TopUpReceipt>();
  }

 private:
  net::Request base_request(std::string method, const std::string& path, const std::string& account) const {
    net::Request request;
    request.method = std::move(method);
    request.url = url(path);
    request.headers = {{"Authorization", "Bearer " + config_.api_key}};
    // A connected account is addressed with Stripe-Account; "self" is the key's own.
    if (!account.empty() && account != "self") request.headers.emplace_back("Stripe-Account", account);
    return request;
  }

  static std::optional<TopUpReceipt> receipt_of(const Value& topup) {
    const auto id = topup.string_at("id");
    const auto status = topup.string_at("status");
    if (!id || !status) return std::nullopt;
    if (*status == "succeeded") return TopUpReceipt{*id, ProviderTopUpStatus::succeeded, ""};
    if (*status == "pending") return TopUpReceipt{*id, ProviderTopUpStatus::pending, ""};
    if (*status == "failed" || *status == "canceled" || *status == "reversed") {
      const std::string why = topup.string_at("failure_message").value_or(*status);
      return TopUpReceipt{*id, ProviderTopUpStatus::failed, why};
    }
    return std::nullopt;
  }
};

}  // namespace
}  // namespace providers

std::shared_ptr<Provider> make_http_provider(const config::ProviderConfig& config,
                                             boost::asio::any_io_executor executor, const core::Clock& clock,
                                             core::Random& random) {
  using namespace providers;
  using config::ProviderType;
  if (!config.type) throw std::runtime_error("provider " + config.name + " has no type");
  switch (*config.type) {
    case ProviderType::stripe: return std::make_shared<Stripe>(config, std::move(executor), clock, random);
    case ProviderType::xendit: return make_xendit(config, std::move(executor), clock, random);
    case ProviderType::midtrans_iris: return std::make_shared<MidtransIris>(config, std::move(executor), clock, random);
    case ProviderType::flip: return make_flip(config, std::move(executor), clock, random);
    case ProviderType::generic_http: return make_generic(config, std::move(executor), clock, random);
    case ProviderType::snap: return make_snap(config, std::move(executor), clock, random);
    case ProviderType::sandbox: break;
  }
  throw std::runtime_error("provider " + config.name + " is a sandbox, not an HTTP gateway");
}

}  // namespace topupd::adapters
