// The in-flight budget of a client: see in_flight.hpp.
#include "topupd/adapters/net/in_flight.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace topupd::adapters::net {

namespace asio = boost::asio;

struct InFlightBudget::Waiter {
  asio::steady_timer timer;
  std::list<Waiter*>::iterator at;
  bool queued = true;  // false once woken
};

// Takes the waiter out of the line however its wait ends. One woken and then gone (its
// caller's deadline passed) before it could look for the unit passes the wake on, so a
// free unit never sits unused while others wait.
struct InFlightBudget::Queued {
  InFlightBudget& budget;
  Waiter& waiter;
  bool resumed = false;
  ~Queued() {
    if (waiter.queued) budget.waiters_.erase(waiter.at);
    else if (!resumed) budget.wake_next();
  }
};

InFlightBudget::InFlightBudget(asio::any_io_executor executor, int limit)
    : executor_(std::move(executor)), limit_(std::max(1, limit)) {}

asio::awaitable<void> InFlightBudget::wait() {
  if (in_flight_ < limit_) co_return;
  Waiter waiter{asio::steady_timer(executor_, asio::steady_timer::time_point::max()), {}};
  waiter.at = waiters_.insert(waiters_.end(), &waiter);
  Queued queued{*this, waiter};
  co_await waiter.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  queued.resumed = true;
}

void InFlightBudget::release() {
  --in_flight_;
  wake_next();
}

void InFlightBudget::wake_next() {
  if (waiters_.empty() || in_flight_ >= limit_) return;
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->queued = false;
  next->timer.cancel();
}

}  // namespace topupd::adapters::net
