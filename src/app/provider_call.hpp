// Bounded provider calls for the parts of src/app that talk to gateways (the poller
// and the top-up executor). Private to src/app.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "topupd/adapters/providers/provider.hpp"
#include "topupd/core/time.hpp"
#include "topupd/core/topup_machine.hpp"

namespace topupd::app {

namespace asio = boost::asio;

// A provider's word on a top-up, as the top-up machine takes it.
inline core::ProviderOutcome outcome_of(adapters::ProviderTopUpStatus status) {
  switch (status) {
    case adapters::ProviderTopUpStatus::pending: return core::ProviderOutcome::pending;
    case adapters::ProviderTopUpStatus::succeeded: return core::ProviderOutcome::succeeded;
    case adapters::ProviderTopUpStatus::failed: return core::ProviderOutcome::failed;
  }
  return core::ProviderOutcome::pending;
}

// A top-up request gets longer than a balance read: banks are slow to debit.
constexpr core::Duration kTopUpTimeout{10'000};

// co_spawn hands back what a coroutine returns only if it has a default value.
template <class T>
asio::awaitable<std::optional<T>> as_optional(asio::awaitable<T> call) {
  co_return co_await std::move(call);
}

// The deadline of one provider call: a plain timer that cancels it. On the path that
// matters (an answer in time) it costs one timer and no exception, which a race of two
// awaitables (`call || timer`) does not. With a queue bound, a wait of the call's
// request for a connection slot (net::Request::on_queue) is bounded by that instead,
// and the timeout starts again, whole, once the request holds its slot: requests
// queued behind the provider's own rate limit are not a gateway's timeout.
//
// The timer is armed once, at the start, for the timeout. A wait for a slot only moves
// the due time; the timer, when it fires before it, waits again for it, and is armed
// anew only when the due time comes before the timer's. So where the queue bound is at
// least the timeout (the poller's), a call that waits for its slot for less than the
// timeout costs no more timer operations than one that does not wait.
class CallDeadline : public std::enable_shared_from_this<CallDeadline> {
 public:
  using Clock = asio::steady_timer::clock_type;

  CallDeadline(asio::any_io_executor executor, core::Duration timeout, std::optional<core::Duration> queue_bound)
      : timer_(std::move(executor)), timeout_(timeout), queue_bound_(queue_bound) {}

  // For BalanceQuery::on_queue; nothing when there is no queue bound. It holds this
  // deadline by address (small enough for std::function to keep without allocating):
  // `bounded` holds the deadline until the call, and the request that holds the hook,
  // have ended.
  std::function<void(bool)> queue_hook() {
    if (!queue_bound_) return {};
    return [self = this](bool waiting) { self->queued(waiting); };
  }
  // From now: the timeout.
  void start() {
    due_ = Clock::now() + timeout_;
    arm(due_);
  }
  void disarm() {
    ++generation_;
    timer_.cancel();
  }
  asio::cancellation_slot slot() { return cancel_.slot(); }
  bool passed() const { return passed_; }
  adapters::ProviderError error(adapters::FailureKind on_timeout) const {
    if (queued_) {
      return {adapters::FailureKind::retryable, "queued",
              fmt::format("no connection slot within {}: more requests wait for this provider than its rate_limit "
                          "and concurrency let through",
                          core::format_duration(*queue_bound_))};
    }
    return {on_timeout, "timeout", fmt::format("no answer within {}", core::format_duration(timeout_))};
  }

 private:
  void queued(bool waiting) {
    if (passed_) return;
    queued_ = waiting;
    due_ = Clock::now() + (waiting ? *queue_bound_ : timeout_);
    if (due_ < timer_.expiry()) arm(due_);
  }
  void arm(Clock::time_point at) {
    timer_.expires_at(at);  // a wait already set is cancelled: its handler sees an error
    timer_.async_wait([self = shared_from_this(), generation = ++generation_](const boost::system::error_code& error) {
      if (error || generation != self->generation_) return;
      if (Clock::now() < self->due_) {
        self->arm(self->due_);
        return;
      }
      self->passed_ = true;
      self->cancel_.emit(asio::cancellation_type::terminal);
    });
  }

  asio::steady_timer timer_;
  core::Duration timeout_;
  std::optional<core::Duration> queue_bound_;
  Clock::time_point due_{};
  asio::cancellation_signal cancel_;
  std::uint64_t generation_ = 0;
  bool passed_ = false;
  bool queued_ = false;
};

// Bounds a provider call by `deadline`, started here. A timeout of a
// call that may have changed state at the provider is `outcome_unknown` (look it up
// before anything else); of a read, retryable.
template <class T>
asio::awaitable<adapters::ProviderResult<T>> bounded(asio::awaitable<adapters::ProviderResult<T>> call,
                                                     const std::shared_ptr<CallDeadline>& deadline,
                                                     adapters::FailureKind on_timeout) {
  const auto executor = co_await asio::this_coro::executor;
  deadline->start();
  std::optional<adapters::ProviderResult<T>> result;
  std::exception_ptr thrown;
  try {
    auto running = asio::co_spawn(executor, as_optional(std::move(call)),
                                  asio::bind_cancellation_slot(deadline->slot(), asio::use_awaitable));
    result = co_await std::move(running);
  } catch (...) {
    thrown = std::current_exception();
  }
  deadline->disarm();
  // An answer that made it is kept even when the deadline passed in the same instant.
  if (result && *result) co_return std::move(*result);
  if (deadline->passed()) co_return deadline->error(on_timeout);
  if (thrown) std::rethrow_exception(thrown);
  co_return std::move(*result);
}

// Bounds a provider call by `timeout` alone, from now.
template <class T>
asio::awaitable<adapters::ProviderResult<T>> with_timeout(asio::awaitable<adapters::ProviderResult<T>> call,
                                                          core::Duration timeout, adapters::FailureKind on_timeout) {
  // Named, not a temporary: GCC 12 destroys temporaries inside co_await expressions twice.
  const auto executor = co_await asio::this_coro::executor;
  const auto deadline = std::make_shared<CallDeadline>(executor, timeout, std::nullopt);
  co_return co_await bounded(std::move(call), deadline, on_timeout);
}

}  // namespace topupd::app
