// topupd as the soak runs it: one life after another (SIGKILL or SIGTERM, then start
// again on the same store), its wall clock under libfaketime's control file (the
// monotonic clock left alone), its resources read from /proc, and /healthz probed
// every second from a thread of its own while a life is meant to be serving.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "integration/harness.hpp"

namespace topupd::testing {

struct Resources {
  long rss_kib = 0;
  long heap_kib = 0;  // topupd_heap_in_use_bytes: what the allocator counts as not freed
  int fds = 0;
  std::map<std::string, int> descriptors{};  // what they are: see describe_descriptors
};

// A process's TCP sockets by inode: "listening on :P", "accepted on :P" or "to :P"
// (connections it opened, by the peer's port), each with its TCP state when not
// established.
inline std::map<std::string, std::string> tcp_sockets_of(pid_t pid) {
  struct Socket {
    int local, remote, state;
  };
  std::map<std::string, Socket> by_inode;
  for (const char* table : {"tcp", "tcp6"}) {
    std::istringstream lines(read_file(fmt::format("/proc/{}/net/{}", pid, table)));
    std::string line;
    std::getline(lines, line);  // the heading
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      auto port = [](const std::string& address) { return std::stoi(address.substr(address.find(':') + 1), nullptr, 16); };
      if (!inode.empty() && inode != "0") by_inode[inode] = {port(local), port(remote), std::stoi(state, nullptr, 16)};
    }
  }
  std::set<int> listening;
  for (const auto& [inode, s] : by_inode) {
    if (s.state == 0x0A) listening.insert(s.local);
  }
  static const std::map<int, std::string> kStates = {{2, "SYN_SENT"}, {4, "FIN_WAIT1"}, {5, "FIN_WAIT2"},
                                                     {6, "TIME_WAIT"}, {7, "CLOSE"}, {8, "CLOSE_WAIT"},
                                                     {9, "LAST_ACK"}};
  std::map<std::string, std::string> out;
  for (const auto& [inode, s] : by_inode) {
    std::string what = s.state == 0x0A             ? fmt::format("tcp listening on :{}", s.local)
                       : listening.count(s.local) ? fmt::format("tcp accepted on :{}", s.local)
                                                   : fmt::format("tcp to :{}", s.remote);
    if (auto state = kStates.find(s.state); state != kStates.end()) what += " " + state->second;
    out[inode] = what;
  }
  return out;
}

// Each open descriptor as a file's path, a TCP socket (above), or its kind (pipe,
// eventfd, a unix socket...), counted.
inline std::map<std::string, int> describe_descriptors(pid_t pid) {
  const auto sockets = tcp_sockets_of(pid);
  std::map<std::string, int> out;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid), error);
       !error && it != std::filesystem::directory_iterator(); ++it) {
    std::error_code unreadable;
    std::string target = std::filesystem::read_symlink(it->path(), unreadable).string();
    if (unreadable) continue;  // closed while being read
    if (target.rfind("socket:[", 0) == 0) {
      const auto tcp = sockets.find(target.substr(8, target.size() - 9));
      target = tcp != sockets.end() ? tcp->second : "socket (not TCP)";
    } else if (target.rfind("pipe:[", 0) == 0) {
      target = "pipe";
    }
    ++out[target];
  }
  return out;
}

inline Resources resources_of(pid_t pid) {
  Resources r;
  std::istringstream status(read_file(fmt::format("/proc/{}/status", pid)));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.rss_kib = std::stol(line.substr(6));
  }
  r.descriptors = describe_descriptors(pid);
  for (const auto& [what, n] : r.descriptors) r.fds += n;
  return r;
}

// Where a life's resident memory is, at one moment: anonymous (the heap, ASan's shadow
// and the allocator's caches), file-backed (the binary, libraries, mapped files) and
// shared; the heap the allocator counts as in use (topupd_heap_in_use_bytes) and the
// size of a /metrics scrape.
struct MemoryReading {
  double minutes = 0;  // into the life
  long rss_kib = 0, anon_kib = 0, file_kib = 0, shmem_kib = 0;
  long heap_kib = 0;
  std::size_t metrics_bytes = 0;
  int fds = 0;
};

inline MemoryReading memory_of(pid_t pid, const std::string& metrics) {
  MemoryReading m;
  std::istringstream status(read_file(fmt::format("/proc/{}/status", pid)));
  const std::map<std::string, long*> fields = {
      {"VmRSS:", &m.rss_kib}, {"RssAnon:", &m.anon_kib}, {"RssFile:", &m.file_kib}, {"RssShmem:", &m.shmem_kib}};
  for (std::string line; std::getline(status, line);) {
    for (const auto& [field, into] : fields) {
      if (line.rfind(field, 0) == 0) *into = std::stol(line.substr(field.size()));
    }
  }
  m.heap_kib = static_cast<long>(sample(metrics, "topupd_heap_in_use_bytes").value_or(0) / 1024);
  m.metrics_bytes = metrics.size();
  m.fds = static_cast<int>(sample(metrics, "process_open_fds").value_or(0));
  return m;
}

// What is open at `end` beyond `start`: "+2 tcp to :41234, +1 /path".
inline std::string descriptors_grown(const Resources& start, const Resources& end) {
  std::string out;
  for (const auto& [what, n] : end.descriptors) {
    const auto before = start.descriptors.find(what);
    const int grown = n - (before == start.descriptors.end() ? 0 : before->second);
    if (grown > 0) out += fmt::format("{}+{} {}", out.empty() ? "" : ", ", grown, what);
  }
  return out;
}

class SoakDaemon {
 public:
  explicit SoakDaemon(const TempDir& dir) : dir_(dir) {
    dir_.write("faketime", "+0\n");
    prober_ = std::thread([this] { probe(); });
  }
  ~SoakDaemon() {
    stop_probing_ = true;
    prober_.join();
  }

  // Starts a life and waits until it is ready (false: it did not become ready).
  bool start() {
    const int n = ++lives_;
    notify_ = std::make_unique<NotifySocket>(dir_.file(fmt::format("notify-{}.sock", n)));
    // The wall clock follows the control file; intervals use the real monotonic clock.
    auto env = faketime_env(TOPUPD_FAKETIME, dir_.file("faketime"));
    env["NOTIFY_SOCKET"] = notify_->path();
    // A small quarantine keeps the resident size a measure of what the daemon holds.
    env["ASAN_OPTIONS"] += ":quarantine_size_mb=16:allocator_release_to_os_interval_ms=1000";
    logs_.push_back(dir_.file(fmt::format("topupd-{}.log", n)));
    process_ = std::make_unique<Process>(std::vector<std::string>{TOPUPD_BINARY, "--config", dir_.file("topupd.yaml")},
                                         env, logs_.back());
    auto ready = notify_->wait_for("READY=1", std::chrono::seconds(60));
    std::smatch match;
    if (!ready || !std::regex_search(*ready, match, std::regex(R"(admin http on 127\.0\.0\.1:(\d+))"))) return false;
    admin_port_ = std::stoi(match[1]);
    serving_ = true;
    return true;
  }

  // Ends the life with `signal`; the exit status (nullopt: still running after 30 s).
  std::optional<int> stop(int signal) {
    serving_ = false;
    process_->signal(signal);
    auto status = process_->wait(std::chrono::seconds(30));
    if (!status) {
      process_->signal(SIGKILL);
      process_->wait(std::chrono::seconds(5));
    }
    return status;
  }

  // SIGHUP; waits for the reload's answer on the notify socket: true when accepted.
  std::optional<bool> reload() {
    process_->signal(SIGHUP);
    if (!notify_->wait_for("RELOADING=1", std::chrono::seconds(10))) return std::nullopt;
    auto ready = notify_->wait_for("READY=1", std::chrono::seconds(30));
    if (!ready) return std::nullopt;
    return ready->find("rejected") == std::string::npos;
  }

  // Lowers (or, with RLIM_INFINITY, lifts) the running life's file size limit: a write
  // that would grow a file past it fails as on a full disk.
  bool limit_file_size(rlim_t bytes) const {
    rlimit limit{};
    if (prlimit(process_->pid(), RLIMIT_FSIZE, nullptr, &limit) != 0) return false;
    limit.rlim_cur = bytes;
    return prlimit(process_->pid(), RLIMIT_FSIZE, &limit, nullptr) == 0;
  }

  // Moves the wall clock by `offset` ("+3h", "-2h", "+0") within about a second.
  void set_clock(const std::string& offset) const { dir_.write("faketime", offset + "\n"); }

  std::string metrics() const { return http_get("127.0.0.1", admin_port_, "/metrics").body; }

  MemoryReading memory() const { return memory_of(pid(), metrics()); }
  pid_t pid() const { return process_->pid(); }
  int life() const { return lives_; }
  // Five readings a second apart: the median resident size and heap in use, and the
  // fewest open files (a connection open at one reading is not a leak).
  Resources resources() const {
    std::vector<long> rss, heap;
    Resources fewest;
    fewest.fds = INT_MAX;
    for (int i = 0; i < 5; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
      Resources r = resources_of(process_->pid());
      rss.push_back(r.rss_kib);
      heap.push_back(static_cast<long>(sample(metrics(), "topupd_heap_in_use_bytes").value_or(0) / 1024));
      if (r.fds < fewest.fds) fewest = std::move(r);
    }
    std::sort(rss.begin(), rss.end());
    std::sort(heap.begin(), heap.end());
    fewest.rss_kib = rss[2];
    fewest.heap_kib = heap[2];
    return fewest;
  }
  const std::vector<std::string>& logs() const { return logs_; }
  int probes() const { return probes_; }
  int misses() const { return misses_; }
  long worst_probe_ms() const { return worst_ms_; }

 private:
  // Once a second while a life is serving: GET /healthz, answered 200 within 2 s or a miss.
  void probe() {
    while (!stop_probing_) {
      const auto t0 = std::chrono::steady_clock::now();
      if (serving_) {
        const int port = admin_port_;
        const auto result = http_get("127.0.0.1", port, "/healthz");
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        if (serving_ && port == admin_port_) {
          ++probes_;
          if (result.status != 200 || ms > 2000) ++misses_;
          worst_ms_ = std::max<long>(worst_ms_, ms);
        }
      }
      std::this_thread::sleep_until(t0 + std::chrono::seconds(1));
    }
  }

  const TempDir& dir_;
  std::unique_ptr<NotifySocket> notify_;
  std::unique_ptr<Process> process_;
  std::vector<std::string> logs_;
  std::atomic<int> admin_port_{0};
  std::atomic<bool> serving_{false};
  std::atomic<bool> stop_probing_{false};
  std::atomic<int> probes_{0}, misses_{0};
  std::atomic<long> worst_ms_{0};
  int lives_ = 0;
  std::thread prober_;
};

}  // namespace topupd::testing
