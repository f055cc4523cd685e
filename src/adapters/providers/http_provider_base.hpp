// Shared plumbing of the HTTP providers. Private to src/adapters/providers.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "topupd/adapters/json.hpp"
#include "topupd/adapters/net/http_client.hpp"
#include "topupd/adapters/providers/http_providers.hpp"

namespace topupd::adapters::providers {

namespace asio = boost::asio;

using Reply = core::Result<net::Response, ProviderError>;

class HttpProvider : public Provider {
 protected:
  HttpProvider(const config::ProviderConfig& config, std::string default_base, asio::any_io_executor executor,
               const core::Clock& clock, core::Random& random);

  std::string url(const std::string& path) const { return base_ + path; }
  // Sends; a transport failure becomes a ProviderError of the same kind.
  asio::awaitable<Reply> call(net::Request request);
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

std::shared_ptr<Provider> make_snap(const config::ProviderConfig& config, asio::any_io_executor executor,
                                    const core::Clock& clock, core::Random& random);

}  // namespace topupd::adapters::providers
