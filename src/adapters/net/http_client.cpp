#include "topupd/adapters/net/http_client.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/net/in_flight.hpp"

#include "http_wire.hpp"

namespace topupd::adapters::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Outcome = core::Result<Response, Failure>;

namespace {

std::optional<std::string> env(const char* upper, const char* lower_name) {
  if (const char* v = std::getenv(lower_name); v && *v) return std::string(v);
  if (const char* v = std::getenv(upper); v && *v) return std::string(v);
  return std::nullopt;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Where a transport failure happened decides what it means.
enum class Phase { connect, proxy, tls, exchange };

struct Connection {
  std::string key;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  core::MonotonicTime idle_since{};
  bool keep_alive = false;  // the last response allowed another request

  beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

struct TransportError : std::runtime_error {
  TransportError(Phase p, FailureKind k, std::string r, const std::string& m)
      : std::runtime_error(m), phase(p), kind(k), reason(std::move(r)) {}
  Phase phase;
  FailureKind kind;
  std::string reason;
};

std::string reason_of(const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) return "timeout";
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
    return "too_large";
  }
  if (ec.category() == boost::system::error_code(bhttp::error::end_of_stream).category() &&
      ec != bhttp::error::end_of_stream) {
    return "malformed_response";
  }
  if (ec == asio::error::connection_refused) return "refused";
  if (ec == asio::error::host_not_found || ec == asio::error::host_not_found_try_again) return "dns";
  return "reset";
}

// What a retry's wait for a slot tells: nothing (net::Request::on_queue).
const std::function<void(bool)> kNotTold;

}  // namespace

class Client::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::any_io_executor executor, ClientOptions options, const core::Clock& clock, core::Random& random)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        clock_(clock),
        random_(random),
        ssl_(ssl::context::tls_client),
        limiter_(options_.rate_per_second, std::max(1, options_.rate_per_second / 5)),
        breaker_(options_.breaker_failures, options_.breaker_open_for),
        budget_(executor_, options_.concurrency) {
    ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ssl_.set_verify_mode(ssl::verify_peer);
    if (options_.ca_file.empty()) ssl_.set_default_verify_paths();
    else ssl_.load_verify_file(options_.ca_file);  // throws: a missing bundle is a config error
    https_proxy_ = options_.proxy ? *options_.proxy : env("HTTPS_PROXY", "https_proxy").value_or("");
    http_proxy_ = options_.proxy ? *options_.proxy : env("HTTP_PROXY", "http_proxy").value_or("");
    no_proxy_ = options_.no_proxy ? *options_.no_proxy : env("NO_PROXY", "no_proxy").value_or("");
  }

  static asio::awaitable<Outcome> send(std::shared_ptr<Impl> self, Request request) {
    auto url = parse_url(request.url);
    if (!url) co_return Failure{FailureKind::not_retryable, "bad_url", "not an http(s) URL"};
    const int attempts = request.idempotent ? std::max(1, self->options_.max_attempts) : 1;
    for (int attempt = 0;; ++attempt) {
      const bool last = attempt + 1 >= attempts;
      if (!self->breaker_.allow(self->clock_.monotonic())) {
        co_return Failure{FailureKind::retryable, "circuit_open",
                          fmt::format("{}: circuit breaker open after repeated failures", self->options_.name)};
      }
      // Named, not a temporary: GCC 12 destroys temporaries inside co_await expressions twice.
      const std::function<void(bool)>& queued = attempt == 0 ? request.on_queue : kNotTold;
      co_await self->acquire(queued);
      Slot slot{self.get()};
      ++self->stats_.requests;
      auto outcome = co_await self->exchange(*url, request);
      slot.release();
      if (!outcome) {
        self->breaker_.record(false, self->clock_.monotonic());
        if (outcome.error().kind != FailureKind::retryable || last) co_return outcome;
      } else {
        const int status = outcome->status;
        const bool server_trouble = status >= 500 || status == 429;
        self->breaker_.record(!server_trouble, self->clock_.monotonic());
        if (!server_trouble) co_return outcome;
        std::optional<core::Duration> retry_after;
        if (auto header = outcome->header("Retry-After")) retry_after = parse_retry_after(*header, self->clock_.now());
        if (retry_after) self->limiter_.block_until(self->clock_.monotonic() + *retry_after);
        if (last || !request.idempotent || (retry_after && *retry_after > self->options_.backoff_max)) {
          co_return outcome;
        }
        if (retry_after) {
          ++self->stats_.retries;
          asio::steady_timer pause(self->executor_, *retry_after);
          co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
          continue;
        }
      }
      ++self->stats_.retries;
      const auto delay = full_jitter_backoff(attempt, self->options_.backoff_base, self->options_.backoff_max,
                                             self->random_.next());
      asio::steady_timer pause(self->executor_, delay);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  ClientStats stats() const {
    ClientStats out = stats_;
    out.breaker = breaker_.state();
    for (const auto& [key, pool] : idle_) out.idle_connections += pool.size();
    return out;
  }

 private:
  // Holds one unit of the in-flight budget; released on every path, including when
  // the caller's timeout destroys the coroutine.
  struct Slot {
    Impl* impl;
    void release() {
      if (impl) impl->release();
      impl = nullptr;
    }
    ~Slot() { release(); }
  };

  // A unit of the in-flight budget and a token of the rate; `queued` hears of a wait.
  asio::awaitable<void> acquire(const std::function<void(bool)>& queued) {
    struct Leaving {
      InFlightBudget& budget;
      bool took = false;
      ~Leaving() {
        if (!took) budget.pass_on();
      }
    } leaving{budget_};
    bool waiting = false;
    const auto wait_here = [&] {
      if (!waiting && queued) queued(true);
      waiting = true;
    };
    for (;;) {
      if (!budget_.has_room()) wait_here();
      co_await budget_.wait();
      if (!budget_.has_room()) continue;  // taken meanwhile by a caller that came later
      const auto wait = limiter_.try_acquire(clock_.monotonic());
      if (!wait) {
        budget_.take();
        leaving.took = true;
        if (waiting && queued) queued(false);
        co_return;
      }
      wait_here();
      asio::steady_timer pause(executor_, *wait);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void release() { budget_.release(); }

  const std::string& proxy_for(const Url& url) const {
    static const std::string none;
    const std::string& proxy = url.tls() ? https_proxy_ : http_proxy_;
    if (proxy.empty() || bypasses_proxy(url.host, url.port, no_proxy_)) return none;
    return proxy;
  }

  // The most recently used connection, from the back; the oldest sit at the front.
  std::unique_ptr<Connection> take_idle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    drop_stale(it->second);
    if (it->second.empty()) return nullptr;
    auto conn = std::move(it->second.back());
    it->second.pop_back();
    return conn;
  }

  void put_idle(std::unique_ptr<Connection> conn) {
    auto& pool = idle_[conn->key];
    drop_stale(pool);
    conn->idle_since = clock_.monotonic();
    if (pool.size() < static_cast<std::size_t>(std::max(1, options_.concurrency))) pool.push_back(std::move(conn));
  }

  // Closes connections idle for idle_keep. Steady traffic reuses only the back of a
  // pool, so without this those a burst opened would stay open for good (and any the
  // server has closed meanwhile would linger in CLOSE_WAIT).
  void drop_stale(std::vector<std::unique_ptr<Connection>>& pool) const {
    const auto now = clock_.monotonic();
    const auto fresh =
        std::find_if(pool.begin(), pool.end(), [&](const auto& c) { return now - c->idle_since < options_.idle_keep; });
    pool.erase(pool.begin(), fresh);
  }

  asio::awaitable<std::unique_ptr<Connection>> open(const Url& url, const std::string& proxy_text) {
    std::optional<Url> proxy;
    if (!proxy_text.empty()) {
      proxy = parse_url(proxy_text.find("://") == std::string::npos ? "http://" + proxy_text : proxy_text);
      if (!proxy) throw TransportError(Phase::proxy, FailureKind::not_retryable, "bad_proxy", "the proxy URL is invalid");
    }
    const Url& hop = proxy ? *proxy : url;
    auto conn = std::make_unique<Connection>();
    conn->plain.emplace(executor_);
    tcp::resolver resolver(executor_);
    asio::steady_timer deadline(executor_, options_.connect_timeout);
    const std::string port = std::to_string(hop.port);
    auto resolved = co_await (resolver.async_resolve(hop.host, port, asio::as_tuple(asio::use_awaitable)) ||
                              deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (resolved.index() == 1) throw TransportError(Phase::connect, FailureKind::retryable, "timeout", "name lookup timed out");
    auto [resolve_error, endpoints] = std::get<0>(resolved);
    if (resolve_error) {
      throw TransportError(Phase::connect, FailureKind::retryable, "dns",
                           fmt::format("cannot resolve {}: {}", hop.host, resolve_error.message()));
    }
    conn->plain->expires_after(options_.connect_timeout);
    auto [connect_error, endpoint] = co_await conn->plain->async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
    if (connect_error) {
      throw TransportError(Phase::connect, FailureKind::retryable, reason_of(connect_error),
                           fmt::format("cannot connect to {}: {}", hop.authority(), connect_error.message()));
    }
    ++stats_.connections_opened;
    if (proxy && url.tls()) co_await tunnel(*conn->plain, *proxy, url);
    if (url.tls()) {
      conn->secure.emplace(std::move(*conn->plain), ssl_);
      conn->plain.reset();
      if (!is_ip_literal(url.host) && SSL_ctrl(conn->secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                                  const_cast<char*>(url.host.c_str())) != 1) {
        throw TransportError(Phase::tls, FailureKind::retryable, "tls", "cannot set the TLS server name");
      }
      conn->secure->set_verify_callback(ssl::host_name_verification(url.host));
      conn->tcp().expires_after(options_.tls_timeout);
      auto [tls_error] = co_await conn->secure->async_handshake(ssl::stream_base::client,
                                                                asio::as_tuple(asio::use_awaitable));
      if (tls_error) {
        const long verify = SSL_get_verify_result(conn->secure->native_handle());
        if (verify != X509_V_OK) {
          throw TransportError(Phase::tls, FailureKind::not_retryable, "tls_untrusted",
                               fmt::format("TLS certificate of {} rejected: {}", url.host,
                                           X509_verify_cert_error_string(verify)));
        }
        throw TransportError(Phase::tls, FailureKind::retryable,
                             tls_error == beast::error::timeout ? "timeout" : "tls",
                             fmt::format("TLS handshake with {} failed: {}", url.host, tls_error.message()));
      }
    }
    co_return conn;
  }

  asio::awaitable<void> tunnel(beast::tcp_stream& stream, const Url& proxy, const Url& url) {
    bhttp::request<bhttp::empty_body> connect{bhttp::verb::connect, url.authority(), 11};
    connect.set(bhttp::field::host, url.authority());
    if (!proxy.userinfo.empty()) {
      connect.set(bhttp::field::proxy_authorization, "Basic " + crypto::base64(proxy.userinfo));
    }
    stream.expires_after(options_.connect_timeout);
    auto [write_error, written] = co_await bhttp::async_write(stream, connect, asio::as_tuple(asio::use_awaitable));
    (void)written;
    if (write_error) throw TransportError(Phase::proxy, FailureKind::retryable, "proxy", "proxy closed the connection");
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.skip(true);  // a CONNECT response has no body
    auto [read_error, read] = co_await bhttp::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)read;
    if (read_error) throw TransportError(Phase::proxy, FailureKind::retryable, "proxy", "no answer from the proxy");
    const unsigned status = parser.get().result_int();
    if (status != 200) {
      throw TransportError(Phase::proxy, FailureKind::retryable, "proxy",
                           fmt::format("the proxy refused CONNECT {}: HTTP {}", url.authority(), status));
    }
  }

  template <class Stream>
  asio::awaitable<Response> round_trip(Stream& stream, Connection& conn, const std::string& head,
                                       const std::string& body, bool& sent) {
    conn.tcp().expires_after(options_.request_timeout);
    sent = true;
    const std::array<asio::const_buffer, 2> bytes{asio::buffer(head), asio::buffer(body)};
    co_await asio::async_write(stream, bytes, asio::use_awaitable);
    wire::ResponseReader reader(options_.max_response_bytes);
    co_await bhttp::async_read(stream, conn.buffer, reader, asio::use_awaitable);
    conn.keep_alive = reader.keep_alive();
    co_return reader.take();
  }

  asio::awaitable<Outcome> exchange(const Url& url, const Request& request) {
    const std::string& proxy = proxy_for(url);
    const bool absolute_form = !proxy.empty() && !url.tls();
    const std::string key = url.origin() + "|" + proxy;
    std::string proxy_authorization;
    if (absolute_form) {
      if (auto proxy_url = parse_url(proxy.find("://") == std::string::npos ? "http://" + proxy : proxy);
          proxy_url && !proxy_url->userinfo.empty()) {
        proxy_authorization = "Basic " + crypto::base64(proxy_url->userinfo);
      }
    }
    const std::string absolute_target = absolute_form ? url.origin() + url.target : std::string();
    const std::string host = url.port == (url.tls() ? 443 : 80) ? url.host : url.authority();
    const wire::RequestLine line{request.method, absolute_form ? absolute_target : url.target, host,
                                 proxy_authorization};
    std::string head;
    if (auto wrong = wire::write_request_head(head, line, request.headers, request.body.size())) {
      co_return Failure{FailureKind::not_retryable, "bad_request",
                        fmt::format("{} {}: {}", request.method, url.origin(), *wrong)};
    }

    // A pooled connection may have been closed by the server while idle; an idempotent
    // request that fails on one before any answer goes again on a new connection.
    std::unique_ptr<Connection> conn = request.idempotent ? take_idle(key) : nullptr;
    for (int round = 0; round < 2; ++round) {
      const bool reused = conn != nullptr;
      bool sent = false;
      try {
        if (!conn) {
          conn = co_await open(url, proxy);
          conn->key = key;
        }
        Response response;
        if (conn->secure) response = co_await round_trip(*conn->secure, *conn, head, request.body, sent);
        else response = co_await round_trip(*conn->plain, *conn, head, request.body, sent);
        if (conn->keep_alive && request.idempotent) put_idle(std::move(conn));
        co_return response;
      } catch (const TransportError& e) {
        co_return Failure{e.kind, e.reason, fmt::format("{} {}: {}", request.method, url.origin(), e.what())};
      } catch (const boost::system::system_error& e) {
        conn.reset();
        if (reused && request.idempotent && round == 0) continue;
        const std::string reason = reason_of(e.code());
        const FailureKind kind = !sent || request.idempotent ? FailureKind::retryable : FailureKind::outcome_unknown;
        co_return Failure{kind, reason,
                          fmt::format("{} {}{}: {}", request.method, url.origin(), url.target.substr(0, url.target.find('?')),
                                      e.code().message())};
      }
    }
    co_return Failure{FailureKind::retryable, "reset", "connection closed"};
  }

  asio::any_io_executor executor_;
  ClientOptions options_;
  const core::Clock& clock_;
  core::Random& random_;
  ssl::context ssl_;
  RateLimiter limiter_;
  CircuitBreaker breaker_;
  InFlightBudget budget_;
  std::string https_proxy_;
  std::string http_proxy_;
  std::string no_proxy_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;
  ClientStats stats_;
};

Client::Client(asio::any_io_executor executor, ClientOptions options, const core::Clock& clock, core::Random& random)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), clock, random)) {}

Client::~Client() = default;

asio::awaitable<core::Result<Response, Failure>> Client::send(Request request) {
  auto self = impl_;
  co_return co_await Impl::send(std::move(self), std::move(request));
}

ClientStats Client::stats() const { return impl_->stats(); }

}  // namespace topupd::adapters::net
