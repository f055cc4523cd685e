// Poll scheduling: jittered intervals and exponential backoff after failures.
//
// Pure functions of the configured interval and a random draw (from the Random
// port), so the poller's timing is reproducible in tests.
#pragma once

#include <cstdint>

#include "topupd/core/time.hpp"

namespace topupd::core {

// `every` spread uniformly over ±`jitter_percent` %, using `random` as the draw.
// Jitter keeps thousands of accounts from polling in lockstep.
Duration jittered(Duration every, int jitter_percent, std::uint64_t random);

// Delay after an account's first poll: uniform in (0, every] when jitter is on, so
// that thousands of accounts started together spread over one interval at once rather
// than drifting apart over many; `every` when jitter is 0 (the user wants lockstep).
Duration first_delay(Duration every, int jitter_percent, std::uint64_t random);

// Delay before the next poll after `consecutive_failures` (≥ 1) failed polls:
// every × 2^failures, capped at `cap` (but never below `every`), then jittered.
Duration failure_backoff(Duration every, Duration cap, int consecutive_failures,
                         int jitter_percent, std::uint64_t random);

}  // namespace topupd::core
