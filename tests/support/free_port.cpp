// Loopback ports outside the ephemeral range: see free_port.hpp.
#include "support/free_port.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <random>

namespace topupd::testing {

namespace {

// Binds a socket to 127.0.0.1:`port` (0: the kernel's pick) and closes it; the port it
// was bound to, or 0 when the bind failed.
int bind_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  socklen_t length = sizeof(address);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 0;
}

}  // namespace

int free_port() {
  int ephemeral_low = 32768;
  int ephemeral_high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low >> ephemeral_high;
  // Below the range down to 10000 (clear of well-known services), else above it.
  const int low = ephemeral_low > 11000 ? 10000 : ephemeral_high + 1;
  const int high = ephemeral_low > 11000 ? ephemeral_low - 1 : 65535;
  if (high - low < 1000) return bind_loopback(0);  // the kernel's pick: no room outside the range
  std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> pick(low, high);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = pick(random);
    if (bind_loopback(port) == port) return port;
  }
  return bind_loopback(0);
}

}  // namespace topupd::testing
