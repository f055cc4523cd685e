// A provider call's deadline (provider_call.hpp) on a real io_context with real timers:
// a scripted call that waits for its connection slot as the HTTP client's request
// does (BalanceQuery::on_queue), then answers or hangs. Outcomes only; the durations
// leave seconds of slack either way.
#include "provider_call.hpp"

#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "fakes/loop.hpp"

namespace topupd::app {
namespace {

using namespace std::chrono_literals;

// Waits `queued` for a slot (told through `on_queue` when it is not zero), then
// answers IDR 1.00, or never answers when `hangs`.
asio::awaitable<adapters::ProviderResult<core::Money>> scripted(std::function<void(bool)> on_queue,
                                                                core::Duration queued, bool hangs) {
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor);
  if (queued.count() > 0) {
    if (on_queue) on_queue(true);
    timer.expires_after(queued);
    co_await timer.async_wait(asio::use_awaitable);
    if (on_queue) on_queue(false);
  }
  if (hangs) {
    timer.expires_after(1h);
    co_await timer.async_wait(asio::use_awaitable);  // cancelled by the deadline
  }
  co_return core::Money(100, *core::Currency::find("IDR"));
}

class CallDeadlineTest : public ::testing::Test {
 protected:
  // The call bounded by `timeout`, with a wait for a slot bounded by `queue_bound`.
  adapters::ProviderResult<core::Money> run(core::Duration timeout, std::optional<core::Duration> queue_bound,
                                            core::Duration queued, bool hangs) {
    std::optional<adapters::ProviderResult<core::Money>> out;
    const auto deadline = std::make_shared<CallDeadline>(io_.get_executor(), timeout, queue_bound);
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          auto call = scripted(deadline->queue_hook(), queued, hangs);
          out = co_await bounded(std::move(call), deadline, adapters::FailureKind::retryable);
        },
        asio::detached);
    io_.restart();
    const auto give_up = std::chrono::steady_clock::now() + 20s;
    while (!out && std::chrono::steady_clock::now() < give_up) io_.run_for(10ms);
    if (!out) ADD_FAILURE() << "the bounded call never ended";
    return out.value_or(adapters::ProviderError{adapters::FailureKind::retryable, "never", ""});
  }

  asio::io_context io_;
};

TEST_F(CallDeadlineTest, AWaitForASlotLongerThanTheTimeoutIsNotTheGatewaysTimeout) {
  // 1.5 s behind the rate limit, then an answer at once: the 1 s timeout starts at the slot.
  const auto answered = run(1s, 10s, 1500ms, false);
  ASSERT_TRUE(answered) << answered.error().reason;
  EXPECT_EQ(answered->minor(), 100);
  // Without a queue bound the same wait is the timeout, as for a top-up's request.
  const auto timed_out = run(1s, std::nullopt, 1500ms, false);
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().reason, "timeout");
}

TEST_F(CallDeadlineTest, AWaitForASlotPastTheQueueBoundFailsAsQueued) {
  const auto queued = run(10s, 300ms, 5s, false);
  ASSERT_FALSE(queued);
  EXPECT_EQ(queued.error().reason, "queued");
  EXPECT_EQ(queued.error().kind, adapters::FailureKind::retryable);
  EXPECT_NE(queued.error().message.find("rate_limit"), std::string::npos) << queued.error().message;
}

TEST_F(CallDeadlineTest, AGatewayThatHangsOnceTheRequestHasItsSlotTimesOut) {
  // At once, and after a wait for the slot: either way the gateway's own silence.
  for (const core::Duration queued : {core::Duration(0), core::Duration(200)}) {
    const auto hung = run(300ms, 10s, queued, true);
    ASSERT_FALSE(hung);
    EXPECT_EQ(hung.error().reason, "timeout") << "after waiting " << queued.count() << " ms for a slot";
    EXPECT_EQ(hung.error().message, "no answer within 300ms");
  }
}

TEST_F(CallDeadlineTest, AGatewayThatHangsAfterAWaitLongerThanTheTimeoutTimesOutFromItsSlot) {
  // The timer, armed for the timeout at the start, has moved on to the queue bound
  // (60 s, past this test's patience) by the time the slot comes: the timeout from the
  // slot comes before it, so the timer must be brought forward.
  const auto hung = run(300ms, 60s, 500ms, true);
  ASSERT_FALSE(hung);
  EXPECT_EQ(hung.error().reason, "timeout");
  EXPECT_EQ(hung.error().message, "no answer within 300ms");
}

}  // namespace
}  // namespace topupd::app
