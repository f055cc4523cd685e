// Helpers for tests that run real programs: a temporary directory, a child process
// with its output captured, a systemd notify socket, and a minimal HTTP/1.1 GET.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "support/free_port.hpp"  // free_port(), for peers told their port in advance

namespace topupd::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

std::string read_file(const std::string& path);

// A child process; its stdout and stderr go to `log_path`. Killed on destruction.
class Process {
 public:
  // `max_file_bytes` caps every file the child writes (RLIMIT_FSIZE, with SIGXFSZ
  // ignored so a write past it fails with EFBIG instead of killing the child).
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_env,
          const std::string& log_path, const std::string& stdin_path = "/dev/null",
          std::optional<unsigned long> max_file_bytes = std::nullopt);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int number) const;
  // The exit status once the process has ended within `timeout`; nullopt if still running.
  // A process killed by a signal reports 128 + signal.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Runs a command to completion and returns its exit status and combined output; one
// still running after `timeout` is killed, with status -1 and the output it had written.
struct CommandResult {
  int status;
  std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_path = "/dev/null",
                          const std::map<std::string, std::string>& extra_env = {},
                          std::chrono::seconds timeout = std::chrono::seconds(60));

// A datagram socket the child reports to through $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path);
  ~NotifySocket();
  const std::string& path() const { return path_; }
  // Waits for a message containing `needle`; returns the whole message.
  std::optional<std::string> wait_for(const std::string& needle, std::chrono::milliseconds timeout);
  // Every message received so far, in order.
  const std::vector<std::string>& received() const { return received_; }

 private:
  std::optional<std::string> receive(std::chrono::milliseconds timeout);
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> received_;
  std::size_t consumed_ = 0;
};

struct HttpResult {
  int status = 0;  // 0 when the connection failed
  std::string body;
  std::string head{};  // the status line and headers, as received
};
HttpResult http_get(const std::string& host, int port, const std::string& path);
HttpResult http_request(const std::string& method, const std::string& host, int port, const std::string& path,
                        const std::string& body);
HttpResult http_request(const std::string& method, const std::string& host, int port, const std::string& path,
                        const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers);
// Sends `request` as written (any bytes) and reads the answer until the server closes.
HttpResult http_send(const std::string& host, int port, const std::string& request);

// Polls `condition` every 50 ms until it holds or `timeout` passes.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    struct timespec pause {0, 50'000'000};
    nanosleep(&pause, nullptr);
  }
  return condition();
}

}  // namespace topupd::testing
