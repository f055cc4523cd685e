// The admin HTTP server: /metrics, /healthz, /readyz and other read-only routes.
//
// A small HTTP/1.1 server on the daemon's io_context. Routes are data: a map from
// path to a handler that returns the response. Only GET and HEAD are served. Every
// connection has a read/write deadline, and beyond `max_connections` new connections
// are closed at once, so a slow or hostile client cannot starve the daemon.
// Built on net::Server; this header is cheap to include.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace boost::asio {
class io_context;
}

namespace topupd::adapters {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::string content_encoding{};  // set by the server when it compresses the body
};

using RouteTable = std::map<std::string, std::function<HttpResponse()>>;

class AdminServer {
 public:
  // Routes named in `off_loop` run on a worker thread of their own, so that a slow
  // one (a /metrics of 10,000 accounts) never holds up the daemon's event loop; their
  // handlers must be safe to call from another thread. Their answers are gzipped
  // there for a client that accepts it.
  AdminServer(boost::asio::io_context& io, RouteTable routes, std::set<std::string> off_loop = {},
              std::size_t max_connections = 64);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts accepting. Returns the bound "host:port" (port 0 picks a free
  // one). Throws std::system_error when the address cannot be bound.
  std::string listen(const std::string& host, std::uint16_t port);
  // Stops accepting and closes open connections.
  void stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace topupd::adapters
