#include "topupd/adapters/net/admin_server.hpp"

#include "topupd/adapters/net/http_server.hpp"

namespace topupd::adapters {

namespace {
constexpr std::size_t kMaxRequestBytes = 16 * 1024;
}  // namespace

// The admin routes on the generic server: GET and HEAD only, no-store answers.
class AdminServer::Impl {
 public:
  Impl(boost::asio::io_context& io, RouteTable routes, std::size_t max_connections)
      : routes_(std::move(routes)),
        server_(io, options(max_connections), [this](const net::ServerRequest& r) { return respond(r); }) {}

  std::string listen(const std::string& host, std::uint16_t port) { return server_.listen(host, port); }
  void stop() { server_.stop(); }

 private:
  static net::ServerOptions options(std::size_t max_connections) {
    net::ServerOptions o;
    o.max_body_bytes = kMaxRequestBytes;
    o.max_connections = max_connections;
    return o;
  }

  net::ServerResponse respond(const net::ServerRequest& request) const {
    HttpResponse result;
    if (request.method != "GET" && request.method != "HEAD") {
      result = {405, "text/plain; charset=utf-8", "method not allowed\n"};
    } else if (auto route = routes_.find(request.path); route != routes_.end()) {
      result = route->second();
    } else {
      result = {404, "text/plain; charset=utf-8", "not found\n"};
    }
    net::ServerResponse response;
    response.status = result.status;
    response.headers = {{"Content-Type", result.content_type}, {"Cache-Control", "no-store"}};
    response.body = std::move(result.body);
    return response;
  }

  RouteTable routes_;
  net::Server server_;
};

AdminServer::AdminServer(boost::asio::io_context& io, RouteTable routes, std::size_t max_connections)
    : impl_(std::make_shared<Impl>(io, std::move(routes), max_connections)) {}

AdminServer::~AdminServer() { impl_->stop(); }

std::string AdminServer::listen(const std::string& host, std::uint16_t port) { return impl_->listen(host, port); }

void AdminServer::stop() { impl_->stop(); }

}  // namespace topupd::adapters
