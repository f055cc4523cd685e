// The backend's API (`api:`): JSON over HTTP(S) for the company's own systems — the
// accounts, the journal, and demands (payouts announced ahead, for rules to fund).
//
// Owns its server, the bearer-token check (a token's SHA-256 looked up in the store,
// never the token; scopes `read` and `demands`), the routes, and one audit entry per
// call, whoever made it, counted by endpoint and outcome. Reads the journal and demands from the store and what the
// daemon knows of each account through its neighbours. Amounts are minor units beside
// decimal strings, never a double. Answers are never cached and never carry a secret.
// Private to src/app.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/store/store.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace boost::asio {
class io_context;
}

namespace topupd::app {

struct ApiNeighbours {
  std::function<std::string()> accounts_json;  // the JSON array of every account
  std::function<const config::AccountConfig*(const std::string&)> account;  // a configured account, or null
  std::function<void(const std::string& account)> demands_changed;
};

class ApiServer {
 public:
  ApiServer(boost::asio::io_context& io, const core::Clock& clock, adapters::Metrics& metrics, adapters::Store& store,
            ApiNeighbours neighbours);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds `api.listen`; returns the bound address. Throws when it cannot.
  std::string listen(const config::ApiConfig& config);
  void stop();

  // One request, as the server hands it over (tests call it without sockets).
  adapters::net::ServerResponse handle(const adapters::net::ServerRequest& request);

 private:
  struct Caller;
  adapters::net::ServerResponse route(const adapters::net::ServerRequest& request, Caller& caller);
  adapters::net::ServerResponse top_ups(const adapters::net::ServerRequest& request);
  adapters::net::ServerResponse top_up(const std::string& key);
  adapters::net::ServerResponse post_demand(const adapters::net::ServerRequest& request, const Caller& caller);
  adapters::net::ServerResponse demands(const adapters::net::ServerRequest& request);

  boost::asio::io_context& io_;
  const core::Clock& clock_;
  adapters::Metrics& metrics_;
  adapters::Store& store_;
  ApiNeighbours neighbours_;
  std::unique_ptr<adapters::net::Server> server_;
  core::Timestamp pruned_at_{};  // when old audit entries and demands were last forgotten
};

// A new token's secret: "tpd_" and 64 hex digits (256 random bits). Shown once.
std::string new_api_token();
// What the store keeps of a token: its SHA-256, hex.
std::string api_token_hash(const std::string& token);

}  // namespace topupd::app
