// Helpers for tests that run the daemon's parts on a real io_context: a Random that
// always draws the same value, running the loop until a condition holds, and running
// one coroutine to its end.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "topupd/core/clock.hpp"

namespace topupd::testing {

class FixedRandom final : public core::Random {
 public:
  std::uint64_t next() override { return 0; }
};

// Runs `io` in short slices until `done()` holds or about a second has passed;
// returns whether it holds.
template <class Done>
bool run_until(boost::asio::io_context& io, Done done) {
  io.restart();
  for (int i = 0; i < 100 && !done(); ++i) io.run_for(std::chrono::milliseconds(10));
  return done();
}

// Runs `work` on `io` to its end (every coroutine it awaits must finish without
// waiting on a timer); returns whether it finished. Rethrows what it threw.
inline bool run_to_end(boost::asio::io_context& io, boost::asio::awaitable<void> work) {
  bool done = false;
  boost::asio::co_spawn(io, std::move(work), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    done = true;
  });
  io.restart();
  io.run();
  return done;
}

}  // namespace topupd::testing
