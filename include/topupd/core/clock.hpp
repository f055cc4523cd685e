// The Clock and Random ports: the only way code outside `core` learns the time or
// draws randomness, so that every loop can be driven by a fake in tests.
//
// `core` itself never calls these; it receives `now` and random draws as parameters.
#pragma once

#include <cstdint>

#include "topupd/core/time.hpp"

namespace topupd::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: for calendars (daily limits, schedules), logs and records.
  virtual Timestamp now() const = 0;
  // Monotonic time: for intervals, timeouts and latencies.
  virtual MonotonicTime monotonic() const = 0;
};

class Random {
 public:
  virtual ~Random() = default;
  // A uniformly distributed 64-bit value.
  virtual std::uint64_t next() = 0;
};

}  // namespace topupd::core
