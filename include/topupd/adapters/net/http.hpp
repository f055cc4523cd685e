// HTTP client and server types and the client's policies, free of Beast and Asio.
//
// The policies are pure and take `now` as a parameter, so they are unit-tested with
// plain values: URL parsing, `no_proxy` matching, backoff with full jitter,
// `Retry-After`, a GCRA rate limiter and a circuit breaker.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "topupd/adapters/failure.hpp"
#include "topupd/core/time.hpp"

namespace topupd::adapters::net {

using Headers = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive equality, as header names compare.
bool iequals(std::string_view a, std::string_view b);

// The first header named `name` (case-insensitive).
std::optional<std::string> find_header(const Headers& headers, std::string_view name);

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target = "/";  // path and query, as sent
  std::string userinfo;      // "user:password" (proxies only)

  bool tls() const { return scheme == "https"; }
  // "host:port", with IPv6 hosts in brackets.
  std::string authority() const;
  std::string origin() const { return scheme + "://" + authority(); }
};

// http(s)://[userinfo@]host[:port][/path][?query]; nullopt for anything else.
std::optional<Url> parse_url(std::string_view text);

// Percent-encodes a query or form component (RFC 3986 unreserved characters kept).
std::string url_encode(std::string_view text);
// Decodes `a=1&b=x%20y` (and '+' as space) into pairs, in order.
std::vector<std::pair<std::string, std::string>> parse_form(std::string_view text);

// True when `host` matches an entry of a NO_PROXY list: "*", a host name, a domain
// suffix (".example.com" or "example.com"), an IP address, with an optional ":port".
bool bypasses_proxy(std::string_view host, std::uint16_t port, std::string_view no_proxy);

struct Request {
  std::string method = "GET";
  std::string url;
  Headers headers;
  std::string body;
  // True when sending the request twice cannot do anything twice (reads). Only such
  // requests are retried by the client; a failure of any other request after it may
  // have been sent is `outcome_unknown`.
  bool idempotent = true;
  // Told when the request must wait for a connection slot — behind the rate limit or
  // the concurrency cap — (true), and when it then holds one (false); a request that
  // has one at once hears nothing, and retries are not told. A caller's deadline need
  // not count the wait against the gateway.
  std::function<void(bool waiting)> on_queue{};
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

struct Failure {
  FailureKind kind = FailureKind::retryable;
  std::string reason;   // low-cardinality: "connect", "tls", "timeout", "reset", "http_503", ...
  std::string message;  // for logs; never holds credentials
};

// Full jitter: a uniform draw in [0, min(cap, base * 2^attempt)].
core::Duration full_jitter_backoff(int attempt, core::Duration base, core::Duration cap, std::uint64_t random);

// `Retry-After` as delay-seconds or an IMF-fixdate; nullopt when malformed.
std::optional<core::Duration> parse_retry_after(std::string_view value, core::Timestamp now);

// Generic cell rate algorithm: at most `per_second` requests per second on average,
// with bursts of up to `burst`. Integer arithmetic only.
class RateLimiter {
 public:
  RateLimiter(int per_second, int burst);
  // Takes a slot and returns nullopt, or returns how long to wait before asking again.
  std::optional<core::Duration> try_acquire(core::MonotonicTime now);
  // Nobody gets a slot before `until` (a 429's Retry-After).
  void block_until(core::MonotonicTime until);

 private:
  std::chrono::nanoseconds interval_;
  std::chrono::nanoseconds tolerance_;
  std::chrono::steady_clock::time_point theoretical_{};
};

// Opens after `threshold` consecutive failures; after `open_for` lets one probe
// through (half-open): its success closes the breaker, its failure opens it again.
class CircuitBreaker {
 public:
  enum class State { closed, open, half_open };
  CircuitBreaker(int threshold, core::Duration open_for) : threshold_(threshold), open_for_(open_for) {}
  bool allow(core::MonotonicTime now);
  void record(bool success, core::MonotonicTime now);
  State state() const { return state_; }

 private:
  int threshold_;
  core::Duration open_for_;
  State state_ = State::closed;
  int failures_ = 0;
  bool probing_ = false;
  core::MonotonicTime opened_at_{};
};

const char* to_string(CircuitBreaker::State state);

}  // namespace topupd::adapters::net
