#include "topupd/core/runway.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace topupd::core {
namespace {
__extension__ typedef __int128 Wide;

// a × b ÷ c for positive b and c, without overflowing: when a × b would not fit, b and
// c are halved together (the ratio, and so the estimate, barely changes).
Wide mul_div(Wide a, Wide b, Wide c) {
  Wide product = 0;
  while (__builtin_mul_overflow(a, b, &product)) {
    b >>= 1;
    c >>= 1;
    if (c == 0) return a >= 0 ? INT64_MAX : INT64_MIN;
  }
  return product / c;
}

std::int64_t saturate(Wide value) {
  return value > INT64_MAX ? INT64_MAX : value < INT64_MIN ? INT64_MIN : static_cast<std::int64_t>(value);
}
}  // namespace

RunwayEstimate estimate_runway(std::span<const Observation> history, std::span<const Credit> own_credits,
                               Timestamp now, Duration window) {
  RunwayEstimate out;
  const Timestamp start = now - window;
  // The least-squares sums over the points (ms since start, adjusted minor), in one pass.
  Wide n = 0, st = 0, sb = 0, stt = 0, stb = 0;
  std::int64_t first_t = 0, last_t = 0;
  // Remove what topupd added since the window began, so only the outside world's
  // movements (payouts, incoming payments) shape the slope. A credit is dated by the
  // first observation that showed it, so it counts for that one and every later one:
  // the window's credits, oldest first, are added up as the observations pass them.
  std::vector<std::pair<Timestamp, std::int64_t>> credits;
  for (const auto& credit : own_credits) {
    if (credit.at > start && credit.at <= now) credits.emplace_back(credit.at, credit.amount.minor());
  }
  std::sort(credits.begin(), credits.end());
  std::size_t next_credit = 0;
  Wide credited = 0;
  // Oldest first: skip to the window's start rather than looking at every older row.
  const auto first = std::lower_bound(history.begin(), history.end(), start,
                                      [](const Observation& o, Timestamp at) { return o.at < at; });
  for (const auto& observation : std::span(first, history.end())) {
    if (observation.at > now) break;
    while (next_credit < credits.size() && credits[next_credit].first <= observation.at) {
      credited += credits[next_credit++].second;
    }
    const Wide adjusted = Wide{observation.balance.minor()} - credited;
    if (adjusted > INT64_MAX || adjusted < INT64_MIN) return out;
    const std::int64_t t = (observation.at - start).count();
    const Wide b = adjusted;
    if (n == 0) first_t = t;
    last_t = t;
    n += 1;
    st += t;
    sb += b;
    stt += static_cast<Wide>(t) * t;
    stb += static_cast<Wide>(t) * b;
  }
  if (n < 3 || last_t - first_t < window.count() / 2) return out;
  out.enough_data = true;

  // slope = (nΣtb − ΣtΣb) / (nΣt² − (Σt)²), in minor units per millisecond, kept as a fraction.
  const Wide numerator = n * stb - st * sb;
  const Wide denominator = n * stt - st * st;
  if (denominator <= 0 || numerator >= 0) return out;  // flat or rising: no runway limit

  out.burn_per_hour_minor = saturate(mul_div(-numerator, 3'600'000, denominator));
  const std::int64_t balance = history.back().balance.minor();
  if (balance <= 0) {
    out.runway = Duration(0);
    return out;
  }
  // runway_ms = balance ÷ (−slope) = balance × denominator ÷ (−numerator)
  out.runway = Duration(saturate(mul_div(balance, denominator, -numerator)));
  return out;
}

}  // namespace topupd::core
