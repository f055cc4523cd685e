// The freezable TCP proxy: see tcp_proxy.hpp. One thread, poll(2) over every socket.
#include "support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

namespace topupd::testing {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  return address;
}

struct Pair {
  int client;
  int server;
};

// Moves what `from` has to `to`; false when either side is closed.
bool forward(int from, int to) {
  char buffer[16384];
  const ssize_t n = ::read(from, buffer, sizeof buffer);
  if (n <= 0) return false;
  ssize_t written = 0;
  while (written < n) {
    const ssize_t w = ::write(to, buffer + written, static_cast<std::size_t>(n - written));
    if (w <= 0) return false;
    written += w;
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(int target_port) : target_port_(target_port) {
  listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
  const int on = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address = loopback(0);
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(listener_, 64) != 0) {
    throw std::runtime_error("the proxy cannot listen");
  }
  socklen_t length = sizeof address;
  ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  if (::pipe(wake_) != 0) throw std::runtime_error("the proxy cannot make a pipe");
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stopping_ = true;
  const char byte = 0;
  (void)!::write(wake_[1], &byte, 1);
  thread_.join();
  ::close(listener_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void TcpProxy::run() {
  std::vector<Pair> pairs;
  while (!stopping_) {
    std::vector<pollfd> fds = {{listener_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const bool frozen = frozen_;
    if (!frozen) {
      for (const auto& p : pairs) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
    }
    // Frozen: wake now and then to see whether it thawed.
    if (::poll(fds.data(), fds.size(), frozen ? 20 : 200) < 0) continue;
    const std::size_t polled = frozen ? 0 : pairs.size();
    if (fds[0].revents & POLLIN) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client >= 0) {
        const int server = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in target = loopback(target_port_);
        if (::connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) == 0) {
          pairs.push_back({client, server});
        } else {
          ::close(server);
          ::close(client);
        }
      }
    }
    if (frozen) continue;
    std::vector<Pair> kept(pairs.begin() + static_cast<std::ptrdiff_t>(polled), pairs.end());  // accepted just now
    for (std::size_t i = 0; i < polled; ++i) {
      const pollfd& c = fds[2 + 2 * i];
      const pollfd& s = fds[3 + 2 * i];
      bool open = true;
      if (c.revents & (POLLIN | POLLHUP | POLLERR)) open = forward(pairs[i].client, pairs[i].server);
      if (open && (s.revents & (POLLIN | POLLHUP | POLLERR))) open = forward(pairs[i].server, pairs[i].client);
      if (open) {
        kept.push_back(pairs[i]);
      } else {
        ::close(pairs[i].client);
        ::close(pairs[i].server);
      }
    }
    pairs = std::move(kept);
  }
  for (const auto& p : pairs) {
    ::close(p.client);
    ::close(p.server);
  }
}

}  // namespace topupd::testing
