#include "topupd/adapters/sys/system_clock.hpp"

namespace topupd::adapters {

core::Timestamp SystemClock::now() const {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

core::MonotonicTime SystemClock::monotonic() const {
  return std::chrono::steady_clock::now();
}

SystemRandom::SystemRandom() : engine_(std::random_device{}()) {}

std::uint64_t SystemRandom::next() { return engine_(); }

}  // namespace topupd::adapters
