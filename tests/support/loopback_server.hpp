// Owns: a small TCP server on 127.0.0.1 at a port the kernel picks, for tests that need a
// peer whose bytes they control: each connection is served on a thread of its own.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace topupd::testing {

class LoopbackServer {
 public:
  // `serve` reads and writes one connection until it returns; the server then closes
  // it. Throws std::runtime_error when it cannot listen.
  explicit LoopbackServer(std::function<void(int fd)> serve);
  // Stops accepting and waits for every connection's `serve` to return.
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  int accepted() const { return accepted_; }  // connections so far
  int open() const { return open_; }          // connections whose `serve` has not returned

 private:
  std::function<void(int)> serve_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> open_{0};
  std::mutex mutex_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace topupd::testing
