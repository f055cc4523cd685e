// A small HTTP/1.1 server (plain or TLS) whose behaviour is data: a handler maps a
// request to a response, and the response may also ask for a delay, a connection
// reset or a hang — the sandbox uses these to imitate misbehaving gateways.
// Requests have one deadline for headers and body together (a slow client cannot hold
// a connection by trickling bytes) and a body limit: a larger body, announced or
// streamed, is answered 413 and the connection closed. Beyond `max_connections` new
// connections are closed at once. A handler may be a coroutine (the webhook receiver
// waits for its store write). Beast stays inside the .cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "topupd/adapters/net/http.hpp"

namespace boost::asio {
class io_context;
}

namespace topupd::adapters::net {

struct ServerRequest {
  std::string method;
  std::string target;  // as received: path and query
  std::string path;
  std::string query;
  Headers headers;
  std::string body;
  std::string remote_address;
  std::optional<std::string> header(std::string_view name) const { return find_header(headers, name); }
};

struct ServerResponse {
  enum class Action { respond, reset, hang };
  int status = 200;
  Headers headers;
  std::string body;
  core::Duration delay{0};          // wait this long before answering
  Action action = Action::respond;  // reset: close without answering; hang: never answer

  static ServerResponse json(int status, std::string body) {
    ServerResponse r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = std::move(body);
    return r;
  }
};

struct ServerOptions {
  std::string tls_cert_file;  // PEM chain; with tls_key_file turns TLS on
  std::string tls_key_file;
  std::size_t max_body_bytes = 1024 * 1024;
  core::Duration request_timeout{std::chrono::seconds(10)};  // headers and body
  std::size_t max_connections = 4096;
  // The answer to a request whose body is over `max_body_bytes` (its `body` is empty);
  // unset: a plain 413.
  std::function<ServerResponse(const ServerRequest&)> on_too_large;
};

using Handler = std::function<ServerResponse(const ServerRequest&)>;
using AsyncHandler = std::function<boost::asio::awaitable<ServerResponse>(ServerRequest)>;

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, Handler handler);
  Server(boost::asio::io_context& io, ServerOptions options, AsyncHandler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting; returns the bound "host:port" (port 0 picks one).
  // Throws std::system_error when the address cannot be bound or TLS files are bad.
  std::string listen(const std::string& host, std::uint16_t port);
  void stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace topupd::adapters::net
