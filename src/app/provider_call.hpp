// Bounded provider calls for the parts of src/app that talk to gateways (the poller
// and the top-up executor). Private to src/app.
#pragma once

#include <exception>
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

// Bounds a provider call. A timeout of a call that may have changed state at the
// provider is `outcome_unknown` (look it up before anything else); of a read, retryable.
// The deadline is a plain timer that cancels the call: on the path that matters (an
// answer in time) it costs one timer and no exception, which a race of two awaitables
// (`call || timer`) does not.
template <class T>
asio::awaitable<adapters::ProviderResult<T>> with_timeout(asio::awaitable<adapters::ProviderResult<T>> call,
                                                core::Duration timeout, adapters::FailureKind on_timeout) {
  const auto executor = co_await asio::this_coro::executor;
  // Shared with the timer's handler, which may run after this frame is gone.
  struct Deadline {
    asio::cancellation_signal cancel;
    bool passed = false;
  };
  const auto deadline = std::make_shared<Deadline>();
  asio::steady_timer timer(executor, timeout);
  timer.async_wait([deadline](const boost::system::error_code& error) {
    if (error) return;
    deadline->passed = true;
    deadline->cancel.emit(asio::cancellation_type::terminal);
  });
  std::optional<adapters::ProviderResult<T>> result;
  std::exception_ptr thrown;
  try {
    auto bounded = asio::co_spawn(executor, as_optional(std::move(call)),
                                  asio::bind_cancellation_slot(deadline->cancel.slot(), asio::use_awaitable));
    result = co_await std::move(bounded);
  } catch (...) {
    thrown = std::current_exception();
  }
  timer.cancel();
  // An answer that made it is kept even when the deadline passed in the same instant.
  if (result && *result) co_return std::move(*result);
  if (deadline->passed) {
    co_return adapters::ProviderError{on_timeout, "timeout", fmt::format("no answer within {}", core::format_duration(timeout))};
  }
  if (thrown) std::rethrow_exception(thrown);
  co_return std::move(*result);
}

}  // namespace topupd::app
