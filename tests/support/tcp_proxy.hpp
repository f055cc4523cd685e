// A TCP proxy on 127.0.0.1 that a test can freeze: while frozen it forwards nothing in
// either direction and keeps every connection open — a network partition, not a
// crash: bytes already sent wait, and arrive when it thaws.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>

namespace topupd::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void freeze(bool frozen) { frozen_ = frozen; }

 private:
  void run();

  int target_port_;
  int listener_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};  // a pipe that ends the thread
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace topupd::testing
