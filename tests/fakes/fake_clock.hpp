// A Clock that only moves when a test moves it.
#pragma once

#include "topupd/core/clock.hpp"

namespace topupd::testing {

class FakeClock final : public core::Clock {
 public:
  explicit FakeClock(core::Timestamp start = core::Timestamp(std::chrono::milliseconds(1'795'000'000'000)))
      : now_(start) {}
  core::Timestamp now() const override { return now_; }
  core::MonotonicTime monotonic() const override {
    return core::MonotonicTime(now_.time_since_epoch() - stepped_);
  }
  void advance(core::Duration by) { now_ += by; }
  // The wall clock stepped (an operator, NTP after an outage): time did not pass, so
  // the monotonic clock stays where it is.
  void step_wall(core::Duration by) {
    now_ += by;
    stepped_ += by;
  }

 private:
  core::Timestamp now_;
  core::Duration stepped_{};
};

}  // namespace topupd::testing
