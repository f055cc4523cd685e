// The control socket: how `topupctl` talks to the running daemon.
//
// A Unix stream socket, created with mode 0660 so only its owner and group can use
// it. The protocol is one request line (a command and its words, at most 4 KiB) and
// one JSON response, after which the daemon closes the connection. Each connection
// has a 5 s deadline. Asio stays inside the .cpp.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace topupd::adapters {

// Answers one request line with a JSON document.
using ControlHandler = std::function<std::string(const std::string& request)>;

class ControlServer {
 public:
  ControlServer(boost::asio::io_context& io, ControlHandler handler);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds `path` (replacing a stale socket left by an earlier run) and starts
  // accepting. Throws std::system_error when it cannot.
  void listen(const std::string& path);
  void stop();

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace topupd::adapters
