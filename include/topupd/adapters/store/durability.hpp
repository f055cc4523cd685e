// Durability off the event loop: the disk flushes of the SQLite store, on a thread of
// their own.
//
// The daemon's store commits without waiting for the disk (WAL, synchronous=NORMAL):
// a commit is in the operating system's cache when it returns, so a killed process
// loses nothing, but a power cut could lose the last commits. This thread makes them
// durable: it flushes the write-ahead log (fdatasync) whenever someone waits and at
// least every kFlushEvery; a second thread checkpoints the log into the database on
// its own connection, so a waiter never waits behind a checkpoint's disk writes.
// Whoever must not act before a commit of the loop's connection is on disk — a top-up
// request leaving — commits, then co_awaits flushed(); every waiter of one flush shares
// it (group commit), and the event loop never waits on the disk. (The store's writer,
// writer.hpp, waits for the disk on its own thread, and checkpoints the log itself
// between its jobs once they made it long; here too, every kCheckpointEvery.)
//
// Built without a path (an in-memory store), flushed() answers at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace topupd::adapters {

class Durability {
 public:
  static constexpr std::chrono::milliseconds kFlushEvery{200};
  static constexpr std::chrono::seconds kCheckpointEvery{5};

  // Told on the loop of each failed flush or checkpoint ("flush", "checkpoint").
  using Failed = std::function<void(const char* operation)>;

  // `database`: the store's file ("" or ":memory:": nothing to flush). `loop`: where
  // flushed() is awaited and `on_failure` called.
  Durability(boost::asio::any_io_executor loop, const std::string& database, Failed on_failure = {});
  ~Durability();
  Durability(const Durability&) = delete;
  Durability& operator=(const Durability&) = delete;

  // Completes once everything committed before the call is on stable storage; false
  // when the flush failed (the disk refused: nothing may rely on it).
  boost::asio::awaitable<bool> flushed();

  // Flushes so far, for tests and the log.
  std::uint64_t flushes() const;

 private:
  struct Waiter;
  void run();
  void checkpoints();
  void wake_waiters(std::uint64_t done, bool ok);
  void failed(const char* operation);

  boost::asio::any_io_executor loop_;
  Failed on_failure_;
  std::string database_;
  std::string wal_;
  bool in_memory_;
  // Shared with the thread, under mutex_.
  mutable std::mutex mutex_;
  std::condition_variable wanted_;    // the flush thread's: a waiter, or stopping
  std::condition_variable stopping_cv_;  // the checkpoint thread's: stopping
  std::uint64_t requested_ = 0;  // flushes asked for
  std::uint64_t completed_ = 0;  // the last request the last good flush covered
  std::uint64_t flushes_ = 0;
  bool stopping_ = false;
  // The event loop's own: who waits for which request.
  std::vector<std::shared_ptr<Waiter>> waiters_;
  std::thread thread_;
  std::thread checkpoint_thread_;
};

}  // namespace topupd::adapters
