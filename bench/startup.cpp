// Start-up, reload and idle memory of one topupd: starts it under a fake systemd
// notify socket, times the first READY=1, lets it idle, reads its RSS, then sends
// SIGHUP RELOADS times and times each reload to its READY=1 (RELOADING=1 comes first).
// Prints one line: ready_ms=… reload_ms=…(median) rss_kb=…
//
//   startup TOPUPD CONFIG [RELOADS] [IDLE_SECONDS]
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double since_ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Waits for a datagram containing `what`; false after 30 s.
bool wait_for(int fd, const char* what) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  char buffer[4096];
  while (Clock::now() < deadline) {
    timeval timeout{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    const ssize_t n = recv(fd, buffer, sizeof(buffer) - 1, 0);
    if (n <= 0) continue;
    buffer[n] = '\0';
    if (std::strstr(buffer, what)) return true;
  }
  return false;
}

long rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: startup TOPUPD CONFIG [RELOADS] [IDLE_SECONDS]\n");
    return 2;
  }
  const int reloads = argc > 3 ? std::stoi(argv[3]) : 5;
  const int idle_seconds = argc > 4 ? std::stoi(argv[4]) : 3;
  char directory[] = "/tmp/topupd-startup-XXXXXX";
  if (!mkdtemp(directory)) return 1;
  const std::string socket_path = std::string(directory) + "/notify.sock";
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return 1;

  const auto started = Clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    setenv("NOTIFY_SOCKET", socket_path.c_str(), 1);
    std::freopen("/dev/null", "w", stdout);
    std::freopen((std::string(directory) + "/topupd.log").c_str(), "w", stderr);
    execl(argv[1], argv[1], "--config", argv[2], static_cast<char*>(nullptr));
    _exit(127);
  }
  if (!wait_for(fd, "READY=1")) {
    std::fprintf(stderr, "no READY=1; see %s/topupd.log\n", directory);
    kill(pid, SIGKILL);
    return 1;
  }
  const double ready_ms = since_ms(started);
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  const long rss = rss_kb(pid);
  std::vector<double> reload_ms;
  for (int i = 0; i < reloads; ++i) {
    const auto sent = Clock::now();
    kill(pid, SIGHUP);
    if (!wait_for(fd, "RELOADING=1") || !wait_for(fd, "READY=1")) {
      std::fprintf(stderr, "reload %d did not finish\n", i + 1);
      kill(pid, SIGKILL);
      return 1;
    }
    reload_ms.push_back(since_ms(sent));
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::sort(reload_ms.begin(), reload_ms.end());
  std::printf("ready_ms=%.1f reload_ms=%.1f rss_kb=%ld\n", ready_ms,
              reload_ms.empty() ? 0.0 : reload_ms[reload_ms.size() / 2], rss);
  unlink(socket_path.c_str());
  return 0;
}
