#include "topupd/adapters/net/admin_server.hpp"

#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <spdlog/spdlog.h>

#include "topupd/adapters/supervise.hpp"

namespace topupd::adapters {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kConnectionDeadline = std::chrono::seconds(10);
constexpr std::size_t kMaxRequestBytes = 16 * 1024;
}  // namespace

class AdminServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, RouteTable routes, std::size_t max_connections)
      : io_(io), acceptor_(io), routes_(std::move(routes)), max_connections_(max_connections) {}

  std::string listen(const std::string& host, std::uint16_t port) {
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen();
    const auto bound = acceptor_.local_endpoint();
    asio::co_spawn(io_, accept_loop(shared_from_this()), log_failure("admin server accept loop"));
    const std::string address = bound.address().to_string();
    return (bound.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(bound.port());
  }

  void stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto* stream : open_) stream->socket().close(ignored);
  }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (!self->stopped_) {
      auto [error, socket] = co_await self->acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (error) {
        if (self->stopped_ || error == asio::error::operation_aborted) co_return;
        spdlog::warn("admin server accept failed: {}", error.message());
        continue;
      }
      if (self->open_.size() >= self->max_connections_) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      asio::co_spawn(self->io_, session(self, std::move(socket)), log_failure("admin connection"));
    }
  }

  // One connection: keep-alive requests until the client closes, a deadline passes
  // or the server stops. Errors end the connection; they are the client's problem.
  static asio::awaitable<void> session(std::shared_ptr<Impl> self, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    self->open_.insert(&stream);
    beast::flat_buffer buffer;
    try {
      while (!self->stopped_) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(kMaxRequestBytes);
        parser.header_limit(kMaxRequestBytes);
        stream.expires_after(kConnectionDeadline);
        co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
        auto request = parser.release();
        auto response = self->respond(request);
        stream.expires_after(kConnectionDeadline);
        co_await http::async_write(stream, response, asio::use_awaitable);
        if (response.need_eof()) break;
      }
    } catch (const boost::system::system_error&) {
      // Closed, timed out or malformed: nothing to do but drop the connection.
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    self->open_.erase(&stream);
  }

  http::response<http::string_body> respond(const http::request<http::string_body>& request) {
    HttpResponse result;
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      result = {405, "text/plain; charset=utf-8", "method not allowed\n"};
    } else if (auto route = routes_.find(std::string(target)); route != routes_.end()) {
      result = route->second();
    } else {
      result = {404, "text/plain; charset=utf-8", "not found\n"};
    }
    http::response<http::string_body> response{static_cast<http::status>(result.status), request.version()};
    response.set(http::field::server, "topupd");
    response.set(http::field::content_type, result.content_type);
    response.set(http::field::cache_control, "no-store");
    response.keep_alive(request.keep_alive());
    if (request.method() == http::verb::head) {
      response.content_length(result.body.size());
    } else {
      response.body() = std::move(result.body);
      response.prepare_payload();
    }
    return response;
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  RouteTable routes_;
  std::size_t max_connections_;
  bool stopped_ = false;
  std::set<beast::tcp_stream*> open_;
};

AdminServer::AdminServer(asio::io_context& io, RouteTable routes, std::size_t max_connections)
    : impl_(std::make_shared<Impl>(io, std::move(routes), max_connections)) {}

AdminServer::~AdminServer() { impl_->stop(); }

std::string AdminServer::listen(const std::string& host, std::uint16_t port) {
  return impl_->listen(host, port);
}

void AdminServer::stop() { impl_->stop(); }

}  // namespace topupd::adapters
