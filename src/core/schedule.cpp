#include "topupd/core/schedule.hpp"

#include <algorithm>

namespace topupd::core {

Duration jittered(Duration every, int jitter_percent, std::uint64_t random) {
  const std::int64_t base = every.count();
  if (jitter_percent <= 0 || base <= 0) return every;
  const std::int64_t spread = base * std::min(jitter_percent, 100) / 100;
  if (spread == 0) return every;
  // Uniform in [-spread, +spread].
  const auto offset = static_cast<std::int64_t>(random % static_cast<std::uint64_t>(2 * spread + 1)) - spread;
  return Duration(std::max<std::int64_t>(1, base + offset));
}

Duration first_delay(Duration every, int jitter_percent, std::uint64_t random) {
  const std::int64_t base = every.count();
  if (jitter_percent <= 0 || base <= 1) return every;
  return Duration(1 + static_cast<std::int64_t>(random % static_cast<std::uint64_t>(base)));
}

Duration failure_backoff(Duration every, Duration cap, int consecutive_failures,
                         int jitter_percent, std::uint64_t random) {
  const Duration ceiling = std::max(cap, every);
  std::int64_t delay = every.count();
  for (int i = 0; i < consecutive_failures && delay < ceiling.count(); ++i) {
    delay = std::min<std::int64_t>(delay * 2, ceiling.count());
  }
  return jittered(Duration(delay), jitter_percent, random);
}

}  // namespace topupd::core
