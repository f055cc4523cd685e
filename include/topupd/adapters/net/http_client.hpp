// An HTTPS client for gateway APIs (Beast and OpenSSL inside the .cpp).
//
// * TLS with peer verification, SNI and host-name checks always on; the system trust
//   store or a CA bundle per client.
// * Keep-alive connections reused per origin for idempotent requests; a request that
//   moves money always gets a fresh connection, so a stale pooled socket can never
//   turn it into an unknown outcome.
// * Separate connect, TLS and request timeouts; a bounded response size.
// * `https_proxy`/`http_proxy`/`no_proxy` from the environment, or set per client:
//   HTTPS through CONNECT, HTTP in absolute form; `user:password@` becomes
//   Proxy-Authorization.
// * Idempotent requests are retried on connection failures, 5xx and 429 with full
//   jitter backoff, honouring Retry-After. Non-idempotent requests are never retried.
// * A budget per client (requests per second and in flight) and a circuit breaker.
//
// Every failure is classified once (see failure.hpp). A response with any HTTP status
// is a response: the caller maps statuses to its gateway's meaning.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "topupd/adapters/net/http.hpp"
#include "topupd/core/clock.hpp"
#include "topupd/core/result.hpp"

namespace topupd::adapters::net {

struct ClientOptions {
  std::string name = "http";  // for logs
  core::Duration connect_timeout{std::chrono::seconds(5)};
  core::Duration tls_timeout{std::chrono::seconds(5)};
  core::Duration request_timeout{std::chrono::seconds(10)};
  std::size_t max_response_bytes = 1024 * 1024;
  std::string ca_file;  // PEM bundle; empty: the system trust store
  int max_attempts = 3;  // idempotent requests only
  core::Duration backoff_base{std::chrono::milliseconds(200)};
  core::Duration backoff_max{std::chrono::seconds(5)};
  int rate_per_second = 50;
  int concurrency = 16;
  int breaker_failures = 5;
  core::Duration breaker_open_for{std::chrono::seconds(30)};
  // Proxy URL for this client; nullopt: from the environment; "": never a proxy.
  std::optional<std::string> proxy;
  std::optional<std::string> no_proxy;  // nullopt: from the environment
  core::Duration idle_keep{std::chrono::seconds(30)};  // pooled connections idle this long are closed
};

struct ClientStats {
  std::uint64_t requests = 0;            // exchanges attempted
  std::uint64_t connections_opened = 0;  // new TCP connections
  std::uint64_t retries = 0;
  std::size_t idle_connections = 0;      // kept open for reuse
  CircuitBreaker::State breaker = CircuitBreaker::State::closed;
};

class Client {
 public:
  Client(boost::asio::any_io_executor executor, ClientOptions options, const core::Clock& clock,
         core::Random& random);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  boost::asio::awaitable<core::Result<Response, Failure>> send(Request request);
  ClientStats stats() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace topupd::adapters::net
