#include "topupd/adapters/net/http_server.hpp"

#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/spdlog.h>

#include "topupd/adapters/supervise.hpp"

namespace topupd::adapters::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

class Server::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, ServerOptions options, Handler handler, AsyncHandler async_handler)
      : io_(io), acceptor_(io), options_(std::move(options)), handler_(std::move(handler)),
        async_handler_(std::move(async_handler)), ssl_(ssl::context::tls_server) {
    if (!options_.tls_cert_file.empty()) {
      ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
      ssl_.use_certificate_chain_file(options_.tls_cert_file);
      ssl_.use_private_key_file(options_.tls_key_file, ssl::context::pem);
      tls_ = true;
    }
  }

  std::string listen(const std::string& host, std::uint16_t port) {
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    const auto bound = acceptor_.local_endpoint();
    asio::co_spawn(io_, accept_loop(shared_from_this()), log_failure("http server accept loop"));
    const std::string address = bound.address().to_string();
    return (bound.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(bound.port());
  }

  void stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto* socket : open_) socket->close(ignored);
  }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (!self->stopped_) {
      auto [error, socket] = co_await self->acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (error) {
        if (self->stopped_ || error == asio::error::operation_aborted) co_return;
        continue;
      }
      if (self->open_.size() >= self->options_.max_connections) {
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      asio::co_spawn(self->io_, session(self, std::move(socket)), log_failure("http connection"));
    }
  }

  static asio::awaitable<void> session(std::shared_ptr<Impl> self, tcp::socket socket) {
    boost::system::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored).address().to_string();
    beast::tcp_stream tcp_layer(std::move(socket));
    if (!self->tls_) {
      self->open_.insert(&tcp_layer.socket());
      co_await serve(self, tcp_layer, tcp_layer, remote);
      self->open_.erase(&tcp_layer.socket());
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_layer), self->ssl_);
    auto& lowest = beast::get_lowest_layer(stream);
    self->open_.insert(&lowest.socket());
    lowest.expires_after(self->options_.request_timeout);
    auto [error] = co_await stream.async_handshake(ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (!error) co_await serve(self, stream, lowest, remote);
    self->open_.erase(&lowest.socket());
  }

  template <class Stream>
  static asio::awaitable<void> serve(std::shared_ptr<Impl> self, Stream& stream, beast::tcp_stream& lowest,
                                     std::string remote) {
    beast::flat_buffer buffer;
    try {
      while (!self->stopped_) {
        bhttp::request_parser<bhttp::string_body> parser;
        // The limit is applied after the headers, so an announced oversized body is
        // answered (413) instead of failing the header read.
        parser.body_limit(boost::none);
        parser.header_limit(64 * 1024);
        // One deadline for the headers and the body together.
        lowest.expires_after(self->options_.request_timeout);
        co_await bhttp::async_read_header(stream, buffer, parser, asio::use_awaitable);
        bool too_large = parser.content_length() && *parser.content_length() > self->options_.max_body_bytes;
        if (!too_large) {
          parser.body_limit(self->options_.max_body_bytes);
          auto [error, ignored_bytes] = co_await bhttp::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
          if (error == bhttp::error::body_limit) too_large = true;
          else if (error) throw boost::system::system_error(error);
        }
        auto& raw = parser.get();
        ServerRequest request;
        request.method = std::string(raw.method_string());
        request.target = std::string(raw.target());
        const auto question = request.target.find('?');
        request.path = request.target.substr(0, question);
        if (question != std::string::npos) request.query = request.target.substr(question + 1);
        for (const auto& field : raw) request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        request.remote_address = remote;
        const unsigned version = raw.version();
        const bool keep_alive = raw.keep_alive() && !too_large;  // an unread body ends the connection
        const bool head = raw.method() == bhttp::verb::head;
        ServerResponse result;
        if (too_large) {
          result = self->options_.on_too_large ? self->options_.on_too_large(request)
                                               : ServerResponse::json(413, R"({"error":"request body too large"})");
        } else if (self->async_handler_) {
          request.body = std::move(raw.body());
          auto pending = self->async_handler_(std::move(request));
          result = co_await std::move(pending);
        } else {
          request.body = std::move(raw.body());
          result = self->handler_(request);
        }
        if (result.delay.count() > 0) {
          lowest.expires_never();
          asio::steady_timer pause(self->io_, result.delay);
          co_await pause.async_wait(asio::use_awaitable);
        }
        if (result.action == ServerResponse::Action::reset) {
          boost::system::error_code ignored;
          lowest.socket().set_option(asio::socket_base::linger(true, 0), ignored);
          lowest.socket().close(ignored);
          co_return;
        }
        if (result.action == ServerResponse::Action::hang) {
          // Keep the connection open and silent until the client gives up or we stop.
          lowest.expires_never();
          asio::steady_timer forever(self->io_, std::chrono::hours(1));
          co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
          co_return;
        }
        bhttp::response<bhttp::string_body> response{static_cast<bhttp::status>(result.status), version};
        response.set(bhttp::field::server, "topupd");
        for (const auto& [name, value] : result.headers) response.set(name, value);
        response.keep_alive(keep_alive);
        if (head) {
          response.content_length(result.body.size());  // the GET's length, no body
        } else {
          response.body() = std::move(result.body);
          response.prepare_payload();
        }
        lowest.expires_after(self->options_.request_timeout);
        co_await bhttp::async_write(stream, response, asio::use_awaitable);
        if (response.need_eof()) break;
      }
    } catch (const boost::system::system_error&) {
      // Closed, timed out or malformed: drop the connection.
    }
    boost::system::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  ServerOptions options_;
  Handler handler_;
  AsyncHandler async_handler_;
  ssl::context ssl_;
  bool tls_ = false;
  bool stopped_ = false;
  std::set<tcp::socket*> open_;
};

Server::Server(asio::io_context& io, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler), AsyncHandler())) {}

Server::Server(asio::io_context& io, ServerOptions options, AsyncHandler handler)
    : impl_(std::make_shared<Impl>(io, std::move(options), Handler(), std::move(handler))) {}

Server::~Server() { impl_->stop(); }

std::string Server::listen(const std::string& host, std::uint16_t port) { return impl_->listen(host, port); }

void Server::stop() { impl_->stop(); }

}  // namespace topupd::adapters::net
