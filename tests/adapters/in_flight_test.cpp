// The in-flight budget: waiters served in order, and thousands of them giving up (their
// deadlines passing) neither strand the ones left nor lose a unit.
#include "topupd/adapters/net/in_flight.hpp"

#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace topupd::adapters::net {
namespace {

namespace asio = boost::asio;

// Runs every handler that is ready, without waiting for time to pass.
void settle(asio::io_context& io) {
  io.restart();
  while (io.poll() > 0) {
  }
}

// The io_context is declared after the budget, so that coroutines still waiting when a
// test ends are destroyed while the budget they wait on is alive.
class InFlightBudgetTest : public ::testing::Test {
 protected:
  InFlightBudget& budget(int limit) { return budget_.emplace(io.get_executor(), limit); }
  std::optional<InFlightBudget> budget_;
  asio::io_context io;
};

// A caller as the HTTP client is one: waits until there is room, then takes a unit.
asio::awaitable<void> take_a_unit(InFlightBudget& budget, int id, std::vector<int>& served) {
  for (;;) {
    co_await budget.wait();
    if (!budget.has_room()) continue;
    budget.take();
    served.push_back(id);
    co_return;
  }
}

TEST_F(InFlightBudgetTest, WaitersAreServedInTheOrderTheyCame) {
  InFlightBudget& budget = this->budget(2);
  std::vector<int> served;
  for (int id = 0; id < 6; ++id) asio::co_spawn(io, take_a_unit(budget, id, served), asio::detached);
  settle(io);
  EXPECT_EQ(served, (std::vector<int>{0, 1}));
  EXPECT_EQ(budget.waiting(), 4u);
  for (int round = 0; round < 4; ++round) {
    budget.release();
    settle(io);
  }
  EXPECT_EQ(served, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(budget.waiting(), 0u);
  EXPECT_EQ(budget.in_flight(), 2);
}

TEST_F(InFlightBudgetTest, WaitersThatGiveUpLeaveTheLineAndTheRestAreStillServed) {
  InFlightBudget& budget = this->budget(4);
  std::vector<int> served;
  constexpr int kWaiters = 20'000;
  std::vector<std::unique_ptr<asio::cancellation_signal>> deadlines;
  for (int id = 0; id < kWaiters; ++id) {
    deadlines.push_back(std::make_unique<asio::cancellation_signal>());
    asio::co_spawn(io, take_a_unit(budget, id, served),
                   asio::bind_cancellation_slot(deadlines.back()->slot(), asio::detached));
  }
  settle(io);
  ASSERT_EQ(served.size(), 4u);
  ASSERT_EQ(budget.waiting(), static_cast<std::size_t>(kWaiters - 4));
  // Every waiter but each hundredth gives up, as timed-out polls do.
  for (int id = 4; id < kWaiters; ++id) {
    if (id % 100 != 0) deadlines[id]->emit(asio::cancellation_type::terminal);
  }
  settle(io);
  const std::size_t staying = (kWaiters / 100) - 1;  // 100, 200, … (0 was served at once)
  EXPECT_EQ(budget.waiting(), staying);
  // Each unit given back serves the next one still waiting, in order.
  for (std::size_t i = 0; i < staying; ++i) {
    budget.release();
    settle(io);
  }
  settle(io);
  ASSERT_EQ(served.size(), 4 + staying);
  for (std::size_t i = 0; i < staying; ++i) EXPECT_EQ(served[4 + i], static_cast<int>((i + 1) * 100));
  EXPECT_EQ(budget.waiting(), 0u);
  EXPECT_EQ(budget.in_flight(), 4);
}

// A caller woken for a unit that then leaves without taking it hands the wake on.
TEST_F(InFlightBudgetTest, AWakeNotTakenIsPassedOn) {
  InFlightBudget& budget = this->budget(1);
  budget.take();
  std::vector<int> served;
  bool first_woken = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    co_await budget.wait();
    first_woken = true;  // and it goes away without taking the unit
    budget.pass_on();
  }, asio::detached);
  asio::co_spawn(io, take_a_unit(budget, 2, served), asio::detached);
  settle(io);
  EXPECT_EQ(budget.waiting(), 2u);
  budget.release();
  settle(io);
  EXPECT_TRUE(first_woken);
  EXPECT_EQ(served, std::vector<int>{2});
  EXPECT_EQ(budget.in_flight(), 1);
}

}  // namespace
}  // namespace topupd::adapters::net
