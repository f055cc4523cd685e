// The store's disk flushes on a thread of their own (durability.hpp).
#include "topupd/adapters/store/durability.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "topupd/adapters/sys/logging.hpp"

namespace topupd::adapters {

namespace asio = boost::asio;

struct Durability::Waiter {
  std::uint64_t request;
  asio::steady_timer timer;
  bool ok = false;
};

namespace {

// The write-ahead log, kept open between flushes and opened again if SQLite replaced it.
class WalFile {
 public:
  explicit WalFile(std::string path) : path_(std::move(path)) {}
  ~WalFile() { close(); }

  // fdatasync of the log. A log that does not exist yet holds nothing to flush.
  bool flush() {
    if (fd_ >= 0) {
      struct stat st {};
      if (fstat(fd_, &st) != 0 || st.st_nlink == 0) close();  // removed: open the new one
    }
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return errno == ENOENT;
    }
    if (::fdatasync(fd_) == 0) return true;
    spdlog::error("cannot flush the store's write-ahead log to disk: {} path={}", std::strerror(errno), field(path_));
    return false;
  }

  // Size and modification time: whether anything was written since the last look.
  bool changed() {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return false;
    const bool different = st.st_size != size_ || st.st_mtim.tv_sec != mtime_.tv_sec ||
                           st.st_mtim.tv_nsec != mtime_.tv_nsec || st.st_ino != inode_;
    size_ = st.st_size;
    mtime_ = st.st_mtim;
    inode_ = st.st_ino;
    return different;
  }

 private:
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string path_;
  int fd_ = -1;
  off_t size_ = -1;
  timespec mtime_{};
  ino_t inode_ = 0;
};

// Moves what the log holds into the database file, on a connection of this thread's
// own; PASSIVE: it never waits for the daemon's connection, which keeps writing.
class Checkpointer {
 public:
  explicit Checkpointer(const std::string& database) {
    if (sqlite3_open_v2(database.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      spdlog::error("cannot open the store for checkpoints: {} path={}", db_ ? sqlite3_errmsg(db_) : "out of memory",
                    field(database));
      sqlite3_close(db_);
      db_ = nullptr;
      return;
    }
    sqlite3_busy_timeout(db_, 100);
    sqlite3_exec(db_, "PRAGMA synchronous = FULL", nullptr, nullptr, nullptr);
  }
  ~Checkpointer() { sqlite3_close(db_); }

  // False when the checkpoint failed (a full disk, a read-only file); busy is not a failure.
  bool run() {
    if (!db_) return true;
    int log_frames = 0;
    int moved = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &moved);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
      spdlog::warn("store checkpoint failed: {}", sqlite3_errmsg(db_));
      return false;
    }
    return true;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

Durability::Durability(asio::any_io_executor loop, const std::string& database, Failed on_failure)
    : loop_(std::move(loop)),
      on_failure_(std::move(on_failure)),
      database_(database),
      wal_(database + "-wal"),
      in_memory_(database.empty() || database == ":memory:") {
  if (in_memory_) return;
  thread_ = std::thread([this] { run(); });
  checkpoint_thread_ = std::thread([this] { checkpoints(); });
}

Durability::~Durability() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_all();
  stopping_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

std::uint64_t Durability::flushes() const {
  std::lock_guard lock(mutex_);
  return flushes_;
}

asio::awaitable<bool> Durability::flushed() {
  if (in_memory_) co_return true;
  std::uint64_t request = 0;
  {
    std::lock_guard lock(mutex_);
    request = ++requested_;
  }
  wanted_.notify_one();
  auto waiter = std::make_shared<Waiter>(Waiter{request, asio::steady_timer(loop_, asio::steady_timer::time_point::max())});
  waiters_.push_back(waiter);
  auto [cancelled] = co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)cancelled;  // wake_waiters cancels the wait once the flush is done
  co_return waiter->ok;
}

void Durability::wake_waiters(std::uint64_t done, bool ok) {
  std::erase_if(waiters_, [&](const std::shared_ptr<Waiter>& waiter) {
    if (waiter->request > done) return false;
    waiter->ok = ok;
    waiter->timer.cancel();
    return true;
  });
}

void Durability::run() {
  WalFile wal(wal_);
  std::unique_lock lock(mutex_);
  while (true) {
    wanted_.wait_for(lock, kFlushEvery, [&] { return stopping_ || requested_ > completed_; });
    const std::uint64_t target = requested_;
    const bool asked = target > completed_;
    if (stopping_ && !asked) break;
    lock.unlock();
    // Unasked, every kFlushEvery: what was committed without a waiter (transitions,
    // rule states, the outbox) reaches the disk soon as well.
    const bool flush = asked || wal.changed();
    const bool ok = !flush || wal.flush();
    if (!ok) failed("flush");
    lock.lock();
    if (flush) flushes_ += 1;
    if (ok) completed_ = std::max(completed_, target);
    if (asked) {
      asio::post(loop_, [this, target, ok] { wake_waiters(target, ok); });
      // A failed flush is not retried for the same waiters: they hear false and stop.
      if (!ok) completed_ = std::max(completed_, target);
    }
  }
  // Stopping: what was committed since the last flush goes to disk before the store closes.
  lock.unlock();
  if (wal.changed()) wal.flush();
}

void Durability::failed(const char* operation) {
  if (on_failure_) asio::post(loop_, [callback = on_failure_, operation] { callback(operation); });
}

void Durability::checkpoints() {
  Checkpointer checkpointer(database_);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    stopping_cv_.wait_for(lock, kCheckpointEvery, [&] { return stopping_; });
    lock.unlock();
    if (!checkpointer.run()) failed("checkpoint");  // once more when stopping
    lock.lock();
  }
}

}  // namespace topupd::adapters
