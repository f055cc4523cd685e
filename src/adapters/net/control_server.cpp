#include "topupd/adapters/net/control_server.hpp"

#include <set>
#include <sys/stat.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "topupd/adapters/supervise.hpp"

namespace topupd::adapters {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr std::size_t kMaxRequest = 4096;
constexpr auto kDeadline = std::chrono::seconds(5);
}  // namespace

class ControlServer::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, ControlHandler handler) : io_(io), acceptor_(io), handler_(std::move(handler)) {}

  void listen(const std::string& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode)) ::unlink(path.c_str());  // left by a crash
    acceptor_.open(local());
    acceptor_.bind(local::endpoint(path));
    if (::chmod(path.c_str(), 0660) != 0) {
      throw std::system_error(errno, std::generic_category(), "cannot set the control socket's mode");
    }
    acceptor_.listen();
    path_ = path;
    asio::co_spawn(io_, accept_loop(shared_from_this()), log_failure("control socket accept loop"));
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto* socket : open_) socket->close(ignored);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
    while (!self->stopped_) {
      auto [error, socket] = co_await self->acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (error) {
        if (self->stopped_) co_return;
        spdlog::warn("control socket accept failed: {}", error.message());
        continue;
      }
      asio::co_spawn(self->io_, serve(self, std::move(socket)), log_failure("control connection"));
    }
  }

  static asio::awaitable<void> serve(std::shared_ptr<Impl> self, local::socket socket) {
    self->open_.insert(&socket);
    asio::streambuf buffer(kMaxRequest);
    asio::steady_timer deadline(self->io_, kDeadline);
    auto read = asio::async_read_until(socket, buffer, '\n', asio::as_tuple(asio::use_awaitable));
    auto outcome = co_await (std::move(read) || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    std::string response;
    if (outcome.index() == 0) {
      auto [error, length] = std::get<0>(outcome);
      if (!error) {
        std::string line(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + static_cast<std::ptrdiff_t>(length));
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
        response = self->handler_(line) + "\n";
      } else if (error == asio::error::not_found) {
        response = "{\"ok\":false,\"error\":\"request too long\"}\n";
      }
    }
    if (!response.empty()) {
      deadline.expires_after(kDeadline);
      auto write = asio::async_write(socket, asio::buffer(response), asio::as_tuple(asio::use_awaitable));
      co_await (std::move(write) || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    self->open_.erase(&socket);
  }

  asio::io_context& io_;
  local::acceptor acceptor_;
  ControlHandler handler_;
  std::string path_;
  bool stopped_ = false;
  std::set<local::socket*> open_;
};

ControlServer::ControlServer(asio::io_context& io, ControlHandler handler)
    : impl_(std::make_shared<Impl>(io, std::move(handler))) {}
ControlServer::~ControlServer() { impl_->stop(); }
void ControlServer::listen(const std::string& path) { impl_->listen(path); }
void ControlServer::stop() { impl_->stop(); }

}  // namespace topupd::adapters
