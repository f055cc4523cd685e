// The real Clock and Random: the operating system's clocks and a seeded PRNG.
#pragma once

#include <random>

#include "topupd/core/clock.hpp"

namespace topupd::adapters {

class SystemClock final : public core::Clock {
 public:
  core::Timestamp now() const override;
  core::MonotonicTime monotonic() const override;
};

class SystemRandom final : public core::Random {
 public:
  SystemRandom();
  std::uint64_t next() override;

 private:
  std::mt19937_64 engine_;
};

}  // namespace topupd::adapters
