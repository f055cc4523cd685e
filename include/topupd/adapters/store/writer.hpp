// The store's writer: writes the event loop need not make itself, committed on one
// thread of their own, on a connection of their own, in the order they were asked.
//
// The loop co_awaits write(job): the job runs on the writer's thread against the
// writer's own Store (a second connection to the same database: SQLite's write-ahead
// log lets the loop's connection read meanwhile, and its write lock orders the two
// connections' commits; PostgreSQL orders them itself), and the coroutine resumes on
// the loop with the job's result, or with the job's StoreError thrown again. The
// writer's commits wait for the disk there (SQLite synchronous=FULL, which also
// carries to disk whatever the loop's connection committed before; a PostgreSQL COMMIT
// is durable when it returns), so what a job wrote is durable when write() answers.
// Jobs asked while one runs wait their turn: one at a time, each a group commit of
// whatever its caller gathered meanwhile. After each answer the writer does the store's
// upkeep (Store::between_writes: SQLite checkpoints a long log), which the next job may
// wait for and the answered one does not.
//
// Built without a way to open a second connection (an in-memory SQLite store, which
// another connection would not see, and which has no disk to wait for), a job runs at
// once on the loop's own store.
//
// Destroying the writer runs the jobs already asked for, then closes its connection;
// it must go before the event loop that hears the answers.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {

class StoreWriter {
 public:
  using Open = std::function<std::unique_ptr<Store>()>;

  // `open`: the writer's own connection, opened here (a StoreError goes to the caller);
  // empty: jobs run on `loop_store`, on the loop.
  StoreWriter(boost::asio::any_io_executor loop, Store& loop_store, const Open& open);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Runs `job(store)` on the writer and answers with what it returned.
  template <typename Job>
  boost::asio::awaitable<std::invoke_result_t<Job&, Store&>> write(Job job) {
    using Result = std::invoke_result_t<Job&, Store&>;
    if (!own_) co_return job(loop_store_);
    auto answer = std::make_shared<Answer<Result>>(loop_);
    submit([answer, job = std::move(job)](Store& store) mutable {
      try {
        if constexpr (std::is_void_v<Result>) {
          job(store);
        } else {
          answer->value.emplace(job(store));
        }
      } catch (...) {
        answer->error = std::current_exception();
      }
    }, [answer] { answer->done.cancel(); });
    auto [cancelled] = co_await answer->done.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)cancelled;  // the writer cancels the wait once the job ran
    if (answer->error) std::rethrow_exception(answer->error);
    if constexpr (!std::is_void_v<Result>) co_return std::move(*answer->value);
  }

  // Whether jobs run on a thread of their own (false: on the loop).
  bool threaded() const { return own_ != nullptr; }
  // Jobs run so far, for tests.
  std::uint64_t jobs_run() const;

 private:
  template <typename Result>
  struct Answer {
    explicit Answer(const boost::asio::any_io_executor& loop)
        : done(loop, boost::asio::steady_timer::time_point::max()) {}
    boost::asio::steady_timer done;
    std::optional<std::conditional_t<std::is_void_v<Result>, bool, Result>> value;
    std::exception_ptr error;
  };
  struct Task {
    std::function<void(Store&)> run;  // on the writer's thread
    std::function<void()> answered;   // then on the loop
  };

  void submit(std::function<void(Store&)> run, std::function<void()> answered);
  void work();

  boost::asio::any_io_executor loop_;
  Store& loop_store_;
  std::unique_ptr<Store> own_;
  mutable std::mutex mutex_;
  std::condition_variable wanted_;
  std::deque<Task> jobs_;  // under mutex_
  std::uint64_t jobs_run_ = 0;  // under mutex_
  bool stopping_ = false;  // under mutex_
  std::thread thread_;
};

}  // namespace topupd::adapters
