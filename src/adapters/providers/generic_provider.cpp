// generic_http: a balance read from any JSON endpoint and, with a `top_up:` block, a
// top-up through any HTTP API — a keyed request and a look-up by that key, with the
// gateway's states mapped to ours (config::GenericTopUpConfig).
#include "http_provider_base.hpp"
#include "topupd/adapters/json.hpp"

namespace topupd::adapters::providers {

namespace {

// `template` with each {name} replaced by `encode(value)`.
std::string fill(std::string text, const std::vector<std::pair<std::string, std::string>>& values,
                 std::string (*encode)(const std::string&)) {
  for (const auto& [name, value] : values) {
    const std::string placeholder = "{" + name + "}";
    const std::string encoded = encode(value);
    for (auto at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + encoded.size())) {
      text.replace(at, placeholder.size(), encoded);
    }
  }
  return text;
}

std::string url_part(const std::string& value) { return net::url_encode(value); }
// Inside a JSON string literal of the template: escaped, without the quotes.
std::string json_part(const std::string& value) {
  const std::string quoted = json_string(value);
  return quoted.substr(1, quoted.size() - 2);
}

class GenericHttp final : public BalanceOnly {
 public:
  GenericHttp(const config::ProviderConfig& c, asio::any_io_executor e, const core::Clock& clock, core::Random& r)
      : BalanceOnly(c, "", std::move(e), clock, r) {}

  asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest& top_up) override {
    const auto& t = config_.generic.top_up;
    if (!t.enabled) co_return unsupported();
    if (!top_up.amount.is_positive()) {
      co_return ProviderError{FailureKind::not_retryable, "invalid_amount", "a top-up amount must be positive"};
    }
    net::Request request = call_request(t.request, top_up);
    request.idempotent = false;  // never retried by the client: a lost answer is looked up
    if (!t.idempotency_header.empty()) request.headers.emplace_back(t.idempotency_header, top_up.idempotency_key);
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    // 409: the gateway has this key already — what became of it is a look-up away.
    if (reply->status == 409) {
      co_return ProviderError{FailureKind::outcome_unknown, "duplicate",
                              config_.name + " already has this top-up's key"};
    }
    if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, true);
    auto receipt = read_receipt(t.request, reply->body);
    if (!receipt) co_return malformed("no state where expected in the top-up's answer", true);
    co_return *receipt;
  }

  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(const TopUpRequest& top_up,
                                                                       const std::string&) override {
    const auto& t = config_.generic.top_up;
    if (!t.enabled) {
      co_return ProviderError{FailureKind::not_retryable, "unsupported", config_.name + " has no top-ups to look up"};
    }
    auto reply = co_await call(call_request(t.status, top_up));
    if (!reply) co_return reply.error();
    if (reply->status == 404) co_return std::optional<TopUpReceipt>();  // the gateway never received it
    if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, false);
    auto document = json::parse(reply->body);
    if (!document) co_return malformed("the look-up's answer is not JSON", false);
    if (!document->at_pointer(t.status.state_pointer)) co_return std::optional<TopUpReceipt>();  // none with this key
    auto receipt = read_receipt(t.status, reply->body);
    if (!receipt) co_return malformed("the look-up's state is not a string", false);
    co_return std::optional<TopUpReceipt>(*receipt);
  }

 protected:
  net::Request balance_request(const BalanceQuery& query) const override {
    const auto& g = config_.generic;
    net::Request request;
    request.method = g.method;
    request.url = fill(g.url, {{"account", query.account_id}}, url_part);
    authorize(request);
    return request;
  }

  std::optional<Money> read_balance(const Value& document, const BalanceQuery& query) const override {
    const auto& g = config_.generic;
    std::optional<core::Currency> currency = query.currency;
    if (!g.currency.empty()) currency = core::Currency::find(g.currency);
    if (!g.currency_pointer.empty()) {
      const Value* code = document.at_pointer(g.currency_pointer);
      currency = code && code->is_string() ? core::Currency::find(code->text()) : std::nullopt;
    }
    const Value* amount = document.at_pointer(g.amount_pointer);
    if (!currency || !amount) return std::nullopt;
    if (g.amount_form == "minor" && (amount->is_number() || amount->is_string())) {
      return parse_minor_text(amount->text(), *currency);
    }
    if (g.amount_form == "major" && amount->is_number()) return parse_major_text(amount->text(), *currency);
    if (g.amount_form == "string" && amount->is_string()) return parse_major_text(amount->text(), *currency);
    return std::nullopt;
  }

 private:
  void authorize(net::Request& request) const {
    const auto& g = config_.generic;
    request.headers = g.headers;
    request.headers.emplace_back("Accept", "application/json");
    if (!g.basic_username.empty()) {
      request.headers.emplace_back("Authorization", basic_auth(g.basic_username, g.basic_password));
    }
    if (!g.bearer_token.empty()) request.headers.emplace_back("Authorization", "Bearer " + g.bearer_token);
  }

  net::Request call_request(const config::GenericCall& c, const TopUpRequest& top_up) const {
    const auto& t = config_.generic.top_up;
    const std::vector<std::pair<std::string, std::string>> values = {
        {"account", top_up.destination_id},
        {"key", top_up.idempotency_key},
        {"amount", t.amount_form == "major" ? core::format_decimal(top_up.amount) : std::to_string(top_up.amount.minor())},
        {"currency", std::string(top_up.amount.currency().code())},
        {"source", top_up.source},
        {"method", std::string(core::to_string(top_up.method))}};
    net::Request request;
    request.method = c.method;
    request.url = fill(c.url, values, url_part);
    authorize(request);
    if (!c.body.empty()) {
      request.body = fill(c.body, values, json_part);
      request.headers.emplace_back("Content-Type", "application/json");
    }
    return request;
  }

  // The gateway's state as ours (unmapped: still pending — TopUpStuck tells a person
  // if it stays so), and its reference.
  std::optional<TopUpReceipt> read_receipt(const config::GenericCall& c, const std::string& body) const {
    auto document = json::parse(body);
    if (!document) return std::nullopt;
    const Value* state = document->at_pointer(c.state_pointer);
    if (!state || !state->is_string()) return std::nullopt;
    TopUpReceipt receipt{"", ProviderTopUpStatus::pending, ""};
    for (const auto& [theirs, ours] : config_.generic.top_up.states) {
      if (theirs != state->text()) continue;
      if (ours == "succeeded") receipt.status = ProviderTopUpStatus::succeeded;
      if (ours == "failed") {
        receipt.status = ProviderTopUpStatus::failed;
        receipt.failure = fmt::format("{} says {}", config_.name, theirs);
      }
    }
    if (!c.reference_pointer.empty()) {
      if (const Value* reference = document->at_pointer(c.reference_pointer); reference && !reference->is_null()) {
        receipt.reference = reference->text();
      }
    }
    return receipt;
  }
};

}  // namespace

std::shared_ptr<Provider> make_generic(const config::ProviderConfig& config, asio::any_io_executor executor,
                                       const core::Clock& clock, core::Random& random) {
  return std::make_shared<GenericHttp>(config, std::move(executor), clock, random);
}

}  // namespace topupd::adapters::providers
