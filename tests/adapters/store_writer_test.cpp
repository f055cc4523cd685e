// The store's writer: jobs run in order on a thread and a connection of their own, the
// loop's connection sees what they committed once they answer, a store error reaches
// the caller, jobs asked before the writer goes still commit, the loop's own commits
// meanwhile wait their turn instead of failing, and the write-ahead log stays short
// while jobs never pause. In memory, jobs run on the loop.
#include "topupd/adapters/store/writer.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

class StoreWriterTest : public ::testing::Test {
 protected:
  StoreWriterTest() {
    dir_ = fs::temp_directory_path() / fs::path("topupd-writer-" + std::to_string(::getpid()) + "-" +
                                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~StoreWriterTest() override { fs::remove_all(dir_); }

  std::string path() const { return (dir_ / "topupd.db").string(); }
  StoreWriter::Open opener() const {
    return [path = path()] { return open_sqlite_writer(path); };
  }
  void run() {
    io_.run_for(std::chrono::seconds(20));
    io_.restart();
  }

  fs::path dir_;
  asio::io_context io_;
};

WebhookEventRecord event(int i) {
  return WebhookEventRecord{"stripe", "evt_" + std::to_string(i), "balance.available",
                            core::Timestamp{std::chrono::seconds(1'700'000'000 + i)}};
}

TEST_F(StoreWriterTest, JobsRunInOrderOnTheWritersThreadAndTheLoopSeesTheirCommits) {
  auto store = open_sqlite_store(path(), true);
  StoreWriter writer(io_.get_executor(), *store, opener());
  ASSERT_TRUE(writer.threaded());
  const auto loop_thread = std::this_thread::get_id();
  std::vector<std::thread::id> ran_on;
  std::vector<int> answered;
  std::vector<std::int64_t> seen_by_loop;
  for (int i = 0; i < 50; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          auto job = [&ran_on, i](WebhookInbox& inbox) {
            ran_on.push_back(std::this_thread::get_id());
            return inbox.remember_webhook_events({event(i), event(i)});
          };
          const std::vector<bool> fresh = co_await writer.write(std::move(job));
          EXPECT_EQ(fresh, (std::vector<bool>{true, false}));
          answered.push_back(i);
          seen_by_loop.push_back(store->count_webhook_events());
        },
        asio::detached);
  }
  run();
  ASSERT_EQ(answered.size(), 50u);
  ASSERT_EQ(ran_on.size(), 50u);
  for (const auto& id : ran_on) EXPECT_NE(id, loop_thread);
  // In the order asked; each answer comes after its commit, which the loop's own
  // connection then reads.
  for (int i = 0; i < 50; ++i) EXPECT_EQ(answered[static_cast<std::size_t>(i)], i);
  for (std::size_t i = 0; i < seen_by_loop.size(); ++i) {
    EXPECT_GE(seen_by_loop[i], static_cast<std::int64_t>(i + 1)) << "answer " << i;
  }
  EXPECT_EQ(store->count_webhook_events(), 50);
  EXPECT_EQ(writer.jobs_run(), 50u);
}

TEST_F(StoreWriterTest, AStoreErrorInAJobReachesTheCallerAndTheNextJobStillRuns) {
  auto store = open_sqlite_store(path(), true);
  StoreWriter writer(io_.get_executor(), *store, opener());
  std::string error;
  bool second = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        try {
          // What the engines throw when a statement fails.
          auto failing = [](Store&) -> int { throw StoreError("the disk refused"); };
          co_await writer.write(std::move(failing));
        } catch (const StoreError& e) {
          error = e.what();
        }
        auto next = [](WebhookInbox& inbox) { inbox.remember_webhook_events({event(1)}); };
        co_await writer.write(std::move(next));
        second = true;
      },
      asio::detached);
  run();
  EXPECT_EQ(error, "the disk refused");
  EXPECT_TRUE(second);
  EXPECT_EQ(store->count_webhook_events(), 1);
}

TEST_F(StoreWriterTest, JobsAskedBeforeTheWriterGoesAreCommitted) {
  {
    auto store = open_sqlite_store(path(), true);
    StoreWriter writer(io_.get_executor(), *store, opener());
    for (int i = 0; i < 20; ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> asio::awaitable<void> {
            auto job = [i](WebhookInbox& inbox) { inbox.remember_webhook_events({event(i)}); };
            co_await writer.write(std::move(job));
          },
          asio::detached);
    }
    // Start every coroutine (each submits its job) but hear no answer: the writer goes
    // with jobs still queued or running.
    io_.poll();
  }
  auto reopened = open_sqlite_store(path(), true);
  EXPECT_EQ(reopened->count_webhook_events(), 20);
}

TEST_F(StoreWriterTest, TheLoopsOwnCommitsWaitForTheWritersInsteadOfFailing) {
  auto store = open_sqlite_store(path(), true);
  StoreWriter writer(io_.get_executor(), *store, opener());
  // The writer commits batch after batch while the loop's connection commits settings.
  int batches = 0;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        for (int b = 0; b < 200; ++b) {
          auto job = [b](WebhookInbox& inbox) {
            std::vector<WebhookEventRecord> records;
            for (int i = 0; i < 50; ++i) records.push_back(event(b * 50 + i));
            inbox.remember_webhook_events(records);
          };
          co_await writer.write(std::move(job));
          ++batches;
        }
      },
      asio::detached);
  int settings = 0;
  std::thread::id loop_thread = std::this_thread::get_id();
  while (batches < 200) {
    io_.poll_one();
    ASSERT_EQ(std::this_thread::get_id(), loop_thread);
    store->set_setting("key-" + std::to_string(settings % 10), std::to_string(settings));  // throws if busy
    ++settings;
  }
  EXPECT_EQ(store->count_webhook_events(), 200 * 50);
  EXPECT_EQ(store->setting("key-" + std::to_string((settings - 1) % 10)), std::to_string(settings - 1));
}

TEST_F(StoreWriterTest, TheWritersLogStaysShortWhileItsJobsNeverPause) {
  // Job after job, each ~170 pages, with nothing else checkpointing (no Durability):
  // without the writer's own checkpoints the log would hold every frame of them,
  // ~35 MB. With them it starts again from its beginning whenever it passed 1,000
  // frames (~4 MB) and was copied into the database.
  auto store = open_sqlite_store(path(), true);
  StoreWriter writer(io_.get_executor(), *store, opener());
  constexpr int kJobs = 50;
  constexpr int kPerJob = 100;
  const std::string long_id(1000, 'x');
  std::uintmax_t longest_log = 0;
  int answered = 0;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        for (int j = 0; j < kJobs; ++j) {
          auto job = [&long_id, j](WebhookInbox& inbox) {
            std::vector<WebhookEventRecord> records;
            for (int i = 0; i < kPerJob; ++i) {
              WebhookEventRecord record = event(j * kPerJob + i);
              record.id += long_id;
              records.push_back(std::move(record));
            }
            return inbox.remember_webhook_events(records);
          };
          const std::vector<bool> fresh = co_await writer.write(std::move(job));
          EXPECT_EQ(fresh, std::vector<bool>(kPerJob, true));
          longest_log = std::max(longest_log, fs::file_size(path() + "-wal"));
          ++answered;
        }
      },
      asio::detached);
  run();
  ASSERT_EQ(answered, kJobs);
  EXPECT_GT(longest_log, 1'000'000u);  // it did grow: the jobs wrote enough to need checkpoints
  EXPECT_LT(longest_log, 8'000'000u) << "the log kept growing";
  // Every event is there, for this connection and for a new one.
  EXPECT_EQ(store->count_webhook_events(), kJobs * kPerJob);
  auto reopened = open_sqlite_store(path(), true);
  EXPECT_EQ(reopened->count_webhook_events(), kJobs * kPerJob);
}

TEST_F(StoreWriterTest, InMemoryJobsRunOnTheLoopsStoreAtOnce) {
  auto store = open_sqlite_store(":memory:");
  StoreWriter writer(io_.get_executor(), *store, {});
  EXPECT_FALSE(writer.threaded());
  const auto loop_thread = std::this_thread::get_id();
  std::thread::id ran_on;
  bool done = false;
  asio::co_spawn(
      io_,
      [&]() -> asio::awaitable<void> {
        auto job = [&ran_on](WebhookInbox& inbox) {
          ran_on = std::this_thread::get_id();
          return inbox.remember_webhook_events({event(7)});
        };
        const auto fresh = co_await writer.write(std::move(job));
        EXPECT_EQ(fresh, std::vector<bool>{true});
        done = true;
      },
      asio::detached);
  run();
  EXPECT_TRUE(done);
  EXPECT_EQ(ran_on, loop_thread);
  EXPECT_EQ(store->count_webhook_events(), 1);
}

}  // namespace
}  // namespace topupd::adapters
