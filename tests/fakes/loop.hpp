// Helpers for tests that run the daemon's parts on a real io_context: a Random that
// always draws the same value, and running the loop until a condition holds.
#pragma once

#include <chrono>
#include <cstdint>

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

}  // namespace topupd::testing
