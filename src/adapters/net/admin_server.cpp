#include "topupd/adapters/net/admin_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "topupd/adapters/net/gzip.hpp"
#include "topupd/adapters/net/http_server.hpp"

namespace topupd::adapters {

namespace {
constexpr std::size_t kMaxRequestBytes = 16 * 1024;
// Smaller answers are not worth compressing.
constexpr std::size_t kCompressFrom = 4096;
}  // namespace

// The admin routes on the generic server: GET and HEAD only, no-store answers.
class AdminServer::Impl {
 public:
  Impl(boost::asio::io_context& io, RouteTable routes, std::set<std::string> off_loop, std::size_t max_connections)
      : routes_(std::move(routes)),
        off_loop_(std::move(off_loop)),
        server_(io, options(max_connections),
                net::AsyncHandler([this](net::ServerRequest r) { return respond(std::move(r)); })) {}

  std::string listen(const std::string& host, std::uint16_t port) { return server_.listen(host, port); }
  void stop() { server_.stop(); }

 private:
  static net::ServerOptions options(std::size_t max_connections) {
    net::ServerOptions o;
    o.max_body_bytes = kMaxRequestBytes;
    o.max_connections = max_connections;
    return o;
  }

  // A route's answer, compressed here when the client takes gzip: on the worker, like
  // the route itself (Prometheus asks for gzip; /metrics of 10,000 accounts shrinks 16×).
  static boost::asio::awaitable<HttpResponse> call(std::function<HttpResponse()> handler, bool gzip) {
    HttpResponse response = handler();
    if (gzip && response.status == 200 && response.body.size() >= kCompressFrom) {
      response.body = net::gzip(response.body);
      response.content_encoding = "gzip";
    }
    co_return response;
  }

  boost::asio::awaitable<net::ServerResponse> respond(net::ServerRequest request) {
    HttpResponse result;
    const auto route = routes_.find(request.path);
    if (request.method != "GET" && request.method != "HEAD") {
      result = {405, "text/plain; charset=utf-8", "method not allowed\n"};
    } else if (route == routes_.end()) {
      result = {404, "text/plain; charset=utf-8", "not found\n"};
    } else if (off_loop_.count(request.path)) {
      // Runs on the worker; the answer comes back on the event loop.
      const bool gzip = net::accepts_gzip(request.header("Accept-Encoding").value_or(""));
      auto work = boost::asio::co_spawn(worker_.get_executor(), call(route->second, gzip), boost::asio::use_awaitable);
      result = co_await std::move(work);
    } else {
      result = route->second();
    }
    net::ServerResponse response;
    response.status = result.status;
    response.headers = {{"Content-Type", result.content_type}, {"Cache-Control", "no-store"}};
    if (off_loop_.count(request.path)) response.headers.emplace_back("Vary", "Accept-Encoding");
    if (!result.content_encoding.empty()) response.headers.emplace_back("Content-Encoding", result.content_encoding);
    response.body = std::move(result.body);
    co_return response;
  }

  RouteTable routes_;
  std::set<std::string> off_loop_;
  boost::asio::thread_pool worker_{1};
  net::Server server_;
};

AdminServer::AdminServer(boost::asio::io_context& io, RouteTable routes, std::set<std::string> off_loop,
                         std::size_t max_connections)
    : impl_(std::make_shared<Impl>(io, std::move(routes), std::move(off_loop), max_connections)) {}

AdminServer::~AdminServer() { impl_->stop(); }

std::string AdminServer::listen(const std::string& host, std::uint16_t port) { return impl_->listen(host, port); }

void AdminServer::stop() { impl_->stop(); }

}  // namespace topupd::adapters
