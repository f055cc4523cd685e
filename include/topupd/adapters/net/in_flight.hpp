// How many requests a client has on the wire at once (`concurrency`): callers beyond it
// wait their turn, woken in the order they came. Each waits on a timer of its own, so a
// caller that gives up — its deadline passed, which cancels its wait — leaves in O(1);
// one timer shared by every waiter made each such cancellation walk all of them, and a
// client with tens of thousands of polls queued spent its time there instead of polling.
// Single-threaded: used from the event loop only.
#pragma once

#include <list>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace topupd::adapters::net {

class InFlightBudget {
 public:
  InFlightBudget(boost::asio::any_io_executor executor, int limit);
  InFlightBudget(const InFlightBudget&) = delete;
  InFlightBudget& operator=(const InFlightBudget&) = delete;

  bool has_room() const { return in_flight_ < limit_; }
  // Takes a unit; only when has_room().
  void take() { ++in_flight_; }
  // Until a unit may be free: at once when one is, else when a release wakes this caller
  // (a caller that came meanwhile may have taken it: ask has_room() again).
  boost::asio::awaitable<void> wait();
  // Gives a unit back and wakes the next waiter.
  void release();
  // Wakes the next waiter if there is room: for a caller that leaves without taking the
  // unit it may have been woken for (its deadline passed while it waited for the rate).
  void pass_on() { wake_next(); }

  int in_flight() const { return in_flight_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter;
  struct Queued;
  void wake_next();

  boost::asio::any_io_executor executor_;
  int limit_;
  int in_flight_ = 0;
  std::list<Waiter*> waiters_;
};

}  // namespace topupd::adapters::net
