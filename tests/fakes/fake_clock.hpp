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
    return core::MonotonicTime(now_.time_since_epoch());
  }
  void advance(core::Duration by) { now_ += by; }

 private:
  core::Timestamp now_;
};

}  // namespace topupd::testing
