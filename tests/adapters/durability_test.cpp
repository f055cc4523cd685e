// The store's flushes on their own thread: waiters hear of the flush that covers their
// commit, and an in-memory store needs none. (How many waiters share a flush depends
// on the disk's speed; bench/webhook_rate shows it.)
#include "topupd/adapters/store/durability.hpp"

#include <filesystem>

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

class DurabilityTest : public ::testing::Test {
 protected:
  DurabilityTest() {
    dir_ = fs::temp_directory_path() / fs::path("topupd-durability-" + std::to_string(::getpid()) + "-" +
                                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~DurabilityTest() override { fs::remove_all(dir_); }

  std::string path() const { return (dir_ / "topupd.db").string(); }

  // Runs `waiters` coroutines that each commit a setting and wait for its flush.
  std::vector<bool> commit_and_wait(Store& store, Durability& durability, int waiters) {
    std::vector<bool> answers;
    for (int i = 0; i < waiters; ++i) {
      asio::co_spawn(
          io_,
          [&, i]() -> asio::awaitable<void> {
            store.set_setting("key-" + std::to_string(i), "value");
            const bool ok = co_await durability.flushed();
            answers.push_back(ok);
          },
          asio::detached);
    }
    io_.run_for(std::chrono::seconds(10));
    io_.restart();
    return answers;
  }

  fs::path dir_;
  asio::io_context io_;
};

TEST_F(DurabilityTest, EveryWaiterHearsOfAFlushThatCoversItsCommit) {
  auto store = open_sqlite_store(path(), true);
  Durability durability(io_.get_executor(), path());
  const auto answers = commit_and_wait(*store, durability, 200);
  ASSERT_EQ(answers.size(), 200u);
  EXPECT_TRUE(std::all_of(answers.begin(), answers.end(), [](bool ok) { return ok; }));
  const auto flushes = durability.flushes();
  EXPECT_GE(flushes, 1u);
  EXPECT_LE(flushes, 201u) << "never more than one flush a waiter (and the periodic one)";
  // What was committed is there for another connection, as after a restart.
  store.reset();
  auto reopened = open_sqlite_store(path());
  EXPECT_EQ(reopened->setting("key-199"), "value");
}

TEST_F(DurabilityTest, AnInMemoryStoreHasNothingToFlush) {
  auto store = open_sqlite_store(":memory:", true);
  Durability durability(io_.get_executor(), ":memory:");
  const auto answers = commit_and_wait(*store, durability, 3);
  EXPECT_EQ(answers, (std::vector<bool>{true, true, true}));
  EXPECT_EQ(durability.flushes(), 0u);
}

TEST_F(DurabilityTest, CommitsWithoutWaitersAreFlushedToo) {
  auto store = open_sqlite_store(path(), true);
  Durability durability(io_.get_executor(), path());
  store->set_setting("paused", "yes");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (durability.flushes() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(Durability::kFlushEvery);
  }
  EXPECT_GE(durability.flushes(), 1u) << "a commit nobody waited for was never flushed";
}

}  // namespace
}  // namespace topupd::adapters
