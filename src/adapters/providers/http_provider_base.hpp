// Shared plumbing of the HTTP providers. Private to src/adapters/providers.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <fmt/format.h>

#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http_client.hpp"
#include "topupd/adapters/providers/http_providers.hpp"

namespace topupd::adapters::providers {

namespace asio = boost::asio;
using core::Money;
using json::Value;

using Reply = core::Result<net::Response, ProviderError>;

class HttpProvider : public Provider {
 protected:
  HttpProvider(const config::ProviderConfig& config, std::string default_base, asio::any_io_executor executor,
               const core::Clock& clock, core::Random& random);

  std::string url(const std::string& path) const { return base_ + path; }
  // Sends; a transport failure becomes a ProviderError of the same kind.
  asio::awaitable<Reply> call(net::Request request);
  // A look-up that moves nothing: the answer's JSON, nullopt when the gateway has no
  // such thing (404); any other non-2xx, or an answer that is not JSON, is an error.
  asio::awaitable<ProviderResult<std::optional<Value>>> fetch(net::Request request);
  // What a non-2xx status means. `moves_money`: a 5xx may have been executed.
  ProviderError status_error(const net::Response& response, bool moves_money) const;
  // "stripe", "xendit", …: for messages.
  std::string_view type_name() const { return config_.type ? config::to_string(*config_.type) : "?"; }
  ProviderError malformed(const std::string& what, bool moves_money) const;
  static std::string basic_auth(const std::string& user, const std::string& password);

  ProviderResult<TopUpReceipt> unsupported() const;

  config::ProviderConfig config_;
  std::string base_;
  const core::Clock& clock_;
  core::Random& random_;
  std::unique_ptr<net::Client> client_;
};

// A gateway whose balance one GET reads; it moves no money unless a subclass says so.
class BalanceOnly : public HttpProvider {
 public:
  using HttpProvider::HttpProvider;

  asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest&) override { co_return unsupported(); }
  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(const TopUpRequest&, const std::string&) override {
    co_return ProviderError{FailureKind::not_retryable, "unsupported",
                            fmt::format("{} ({}) has no top-ups to look up", config_.name, type_name())};
  }

  asio::awaitable<ProviderResult<Money>> balance(const BalanceQuery& query) override {
    net::Request request = balance_request(query);
    request.on_queue = query.on_queue;
    auto reply = co_await call(std::move(request));
    if (!reply) co_return reply.error();
    if (reply->status < 200 || reply->status >= 300) co_return status_error(*reply, false);
    auto document = json::parse(reply->body);
    if (!document) co_return malformed("not JSON", false);
    auto amount = read_balance(*document, query);
    if (!amount) co_return malformed("no balance where expected", false);
    co_return *amount;
  }

 protected:
  virtual net::Request balance_request(const BalanceQuery& query) const = 0;
  virtual std::optional<Money> read_balance(const Value& document, const BalanceQuery& query) const = 0;
};

// A balance-only gateway: the subclass says how to ask and how to read the answer.
// Xendit, Midtrans Iris and Flip: HTTP Basic with the secret key as the user and an
// empty password, and an answer {"balance": …} in major units.
class KeyedBalance : public BalanceOnly {
 public:
  KeyedBalance(const config::ProviderConfig& c, std::string default_base, asio::any_io_executor e,
               const core::Clock& clock, core::Random& r, bool balance_may_be_text)
      : BalanceOnly(c, std::move(default_base), std::move(e), clock, r), balance_may_be_text_(balance_may_be_text) {}

 protected:
  net::Request keyed_get(const std::string& path) const {
    net::Request request;
    request.url = url(path);
    request.headers = {{"Authorization", basic_auth(config_.api_key, "")}, {"Accept", "application/json"}};
    return request;
  }
  std::optional<Money> read_balance(const Value& document, const BalanceQuery& query) const override {
    const Value* balance = document.find("balance");
    if (!balance || !(balance->is_number() || (balance_may_be_text_ && balance->is_string()))) return std::nullopt;
    return parse_major_text(balance->text(), query.currency);
  }

 private:
  bool balance_may_be_text_;
};

std::shared_ptr<Provider> make_flip(const config::ProviderConfig& config, asio::any_io_executor executor,
                                    const core::Clock& clock, core::Random& random);
std::shared_ptr<Provider> make_xendit(const config::ProviderConfig& config, asio::any_io_executor executor,
                                      const core::Clock& clock, core::Random& random);
std::shared_ptr<Provider> make_snap(const config::ProviderConfig& config, asio::any_io_executor executor,
                                    const core::Clock& clock, core::Random& random);
std::shared_ptr<Provider> make_generic(const config::ProviderConfig& config, asio::any_io_executor executor,
                                       const core::Clock& clock, core::Random& random);

}  // namespace topupd::adapters::providers
