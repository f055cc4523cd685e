// Journal write latency: how long a durable journal write takes on this disk.
//
// Times N top-ups through their life in a SQLite store in a scratch directory: the plan
// (record + rule state, one transaction) and three transitions (submitted, pending,
// succeeded). Twice: as the daemon does it (the commit on the event loop without
// waiting for the disk, then the Durability thread's flush that a request waits for),
// and with every commit flushed in place (synchronous=FULL), the way a store without
// that thread works. Given a PostgreSQL connection string, the same writes once more in
// the PostgreSQL store (each durable when its COMMIT returns). The reference: after each
// top-up as the daemon writes it, 4 KiB appended to a file opened with O_DSYNC (as
// `dd oflag=dsync` writes), timed in this process, so no process start is in the figure
// and both see the disk at the same moments. Prints the percentiles in microseconds.
// Usage: journal_latency [N] [DIRECTORY] [POSTGRES-DSN]
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "topupd/adapters/store/durability.hpp"
#include "topupd/adapters/store/store.hpp"

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

long long percentile(std::vector<long long> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

long long micros_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
}

// The disk's own durable write, the reference: 4 KiB appended to a file opened with
// O_DSYNC, as `dd oflag=dsync` writes, one write at a time.
class DsyncFile {
 public:
  explicit DsyncFile(const std::filesystem::path& path)
      : path_(path.string()), fd_(::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DSYNC | O_CLOEXEC, 0600)) {
    if (fd_ < 0) throw std::runtime_error("cannot open " + path_);
  }
  ~DsyncFile() { ::close(fd_); }
  DsyncFile(const DsyncFile&) = delete;
  DsyncFile& operator=(const DsyncFile&) = delete;

  long long timed_write() {
    const auto start = Clock::now();
    if (::write(fd_, block_.data(), block_.size()) != static_cast<ssize_t>(block_.size())) {
      throw std::runtime_error("cannot write " + path_);
    }
    return micros_since(start);
  }

 private:
  std::string path_;
  int fd_;
  std::array<char, 4096> block_{};
};

struct Figures {
  std::vector<long long> plan;        // the commit, where the caller waits for it
  std::vector<long long> durable;     // plan until on disk (the daemon: commit + flush)
  std::vector<long long> transition;  // each transition's commit
  std::vector<long long> reference;   // a raw dsync write after each top-up (as the daemon only)
};

topupd::core::TopUpRecord record_of(int i) {
  const auto idr = *topupd::core::Currency::find("IDR");
  const topupd::core::Timestamp now{std::chrono::milliseconds(1'795'000'000'000LL + i)};
  return {"bench-" + std::to_string(i), "payout-low", "payout", "bank", topupd::core::TopUpMethod::direct_debit,
          "acct", "1234567890", topupd::core::Money(4'100'000'000, idr), topupd::core::TopUpState::planned, "", "",
          now, std::nullopt};
}

void transitions(topupd::adapters::Store& store, topupd::core::TopUpRecord& record, Figures& out) {
  for (auto next : {topupd::core::TopUpState::submitted, topupd::core::TopUpState::pending,
                    topupd::core::TopUpState::succeeded}) {
    const auto from = record.state;
    record.state = next;
    const auto start = Clock::now();
    store.record_transition(record, from, record.created_at, "");
    out.transition.push_back(micros_since(start));
  }
}

// Plans top-up `i`; returns it and when its write began.
std::pair<topupd::core::TopUpRecord, Clock::time_point> plan(topupd::adapters::Store& store, int i, Figures& out) {
  auto record = record_of(i);
  topupd::core::RuleState state;
  state.top_ups_in_episode = static_cast<std::uint32_t>(i);
  const auto start = Clock::now();
  store.plan_top_up(record, "payout-low", state);
  out.plan.push_back(micros_since(start));
  return {std::move(record), start};
}

Figures as_the_daemon(const std::filesystem::path& dir, int n) {
  Figures out;
  const std::string path = (dir / "daemon.db").string();
  auto store = topupd::adapters::open_sqlite_store(path, true);
  asio::io_context io;
  topupd::adapters::Durability durability(io.get_executor(), path);
  DsyncFile reference(dir / "dsync");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
          auto [record, start] = plan(*store, i, out);
          const bool ok = co_await durability.flushed();
          if (!ok) std::fprintf(stderr, "flush failed\n");
          out.durable.push_back(micros_since(start));
          transitions(*store, record, out);
          // The reference in alternation with the top-ups: both meet the disk as it is
          // at that moment, which drifts on a shared machine.
          out.reference.push_back(reference.timed_write());
        }
      },
      asio::detached);
  io.run();
  return out;
}

Figures flushed_in_place(const std::filesystem::path& dir, int n) {
  Figures out;
  auto store = topupd::adapters::open_sqlite_store((dir / "full.db").string());
  for (int i = 0; i < n; ++i) {
    auto [record, start] = plan(*store, i, out);
    out.durable.push_back(out.plan.back());
    transitions(*store, record, out);
  }
  return out;
}

// The PostgreSQL store: every commit is durable when it returns, so the plan's commit is
// also what a request waits for.
Figures on_postgres(const std::string& dsn, int n) {
  Figures out;
  auto store = topupd::adapters::open_pg_store(dsn);
  for (int i = 0; i < n; ++i) {
    auto [record, start] = plan(*store, i, out);
    out.durable.push_back(out.plan.back());
    transitions(*store, record, out);
  }
  return out;
}

void print(const char* prefix, const Figures& f) {
  std::printf("%splan_p50_us=%lld %splan_p99_us=%lld %splan_max_us=%lld %sdurable_p50_us=%lld %sdurable_p99_us=%lld "
              "%stransition_p50_us=%lld %stransition_p99_us=%lld %stransition_max_us=%lld ",
              prefix, percentile(f.plan, 0.5), prefix, percentile(f.plan, 0.99), prefix, percentile(f.plan, 1.0),
              prefix, percentile(f.durable, 0.5), prefix, percentile(f.durable, 0.99), prefix,
              percentile(f.transition, 0.5), prefix, percentile(f.transition, 0.99), prefix,
              percentile(f.transition, 1.0));
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::stoi(argv[1]) : 2000;
  const std::filesystem::path dir =
      std::filesystem::path(argc > 2 ? argv[2] : std::filesystem::temp_directory_path().string()) /
      ("topupd-journal-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Figures daemon = as_the_daemon(dir, n);
  const Figures full = flushed_in_place(dir, n);
  std::filesystem::remove_all(dir);
  std::printf("top_ups=%d ", n);
  const std::vector<long long>& dsync = daemon.reference;
  std::printf("dsync_writes=%zu dsync_p50_us=%lld dsync_p99_us=%lld dsync_mean_us=%lld ", dsync.size(),
              percentile(dsync, 0.5), percentile(dsync, 0.99),
              std::accumulate(dsync.begin(), dsync.end(), 0LL) / static_cast<long long>(dsync.size()));
  print("", daemon);
  print("full_", full);
  if (argc > 3) print("pg_", on_postgres(argv[3], n));
  std::printf("\n");
  return 0;
}
