#include "topupd/core/runway.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace topupd::core {
namespace {
using Wide = RunwayIndex::Wide;

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

// The least-squares sums over the window's points (ms since the window's start,
// balance less what topupd added since then).
struct Sums {
  Wide n = 0, st = 0, sb = 0, stt = 0, stb = 0;
  std::int64_t first_t = 0, last_t = 0;
};

using Credits = std::vector<std::pair<Timestamp, std::int64_t>>;

// The credits made since the window began, oldest first. A credit is dated by the first
// observation that showed it, so it counts for that one and every later one.
Credits window_credits(std::span<const Credit> own_credits, Timestamp start, Timestamp now) {
  Credits credits;
  for (const auto& credit : own_credits) {
    if (credit.at > start && credit.at <= now) credits.emplace_back(credit.at, credit.amount.minor());
  }
  std::sort(credits.begin(), credits.end());
  return credits;
}

// One pass over the window's rows. nullopt when an adjusted balance leaves int64.
std::optional<Sums> sums_by_rows(std::span<const Observation> history, const Credits& credits, Timestamp start,
                                 Timestamp now) {
  Sums s;
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
    const Wide b = Wide{observation.balance.minor()} - credited;
    if (b > INT64_MAX || b < INT64_MIN) return std::nullopt;
    const std::int64_t t = (observation.at - start).count();
    if (s.n == 0) s.first_t = t;
    s.last_t = t;
    s.n += 1;
    s.st += t;
    s.sb += b;
    s.stt += static_cast<Wide>(t) * t;
    s.stb += static_cast<Wide>(t) * b;
  }
  return s;
}

bool add_to(Wide& into, Wide value) { return !__builtin_add_overflow(into, value, &into); }
bool mul(Wide a, Wide b, Wide& out) { return !__builtin_mul_overflow(a, b, &out); }
bool sub_from(Wide& from, Wide value) { return !__builtin_sub_overflow(from, value, &from); }

// The same sums from the index: differences of running sums for the window, less each
// credit times the rows (and their times) that come after it, then moved from the
// index's origin to the window's start. nullopt when that cannot be done exactly; the
// caller then reads the rows.
std::optional<Sums> sums_by_index(std::span<const Observation> history, const RunwayIndex& index,
                                  const Credits& credits, Timestamp start, Timestamp now) {
  const auto before = [](Timestamp at) { return [at](const Observation& o) { return o.at < at; }; };
  const auto rows_begin = history.begin();
  const std::size_t i = std::partition_point(rows_begin, history.end(), before(start)) - rows_begin;
  const std::size_t j =
      std::partition_point(rows_begin + i, history.end(), [now](const Observation& o) { return o.at <= now; }) -
      rows_begin;
  Sums s;
  if (i == j) return s;
  const auto range = [&](std::size_t from) {
    RunwayIndex::Sums r = index.prefix[j - 1];
    if (from > 0) {
      const auto& p = index.prefix[from - 1];
      r.t -= p.t, r.b -= p.b, r.tt -= p.tt, r.tb -= p.tb;  // each was a sum of the other and more rows
    }
    return r;
  };
  RunwayIndex::Sums raw = range(i);
  Wide total_credited = 0;
  for (const auto& [at, amount] : credits) {
    if (amount < 0 || !add_to(total_credited, amount)) return std::nullopt;
    const std::size_t k = std::partition_point(rows_begin + i, rows_begin + j, before(at)) - rows_begin;
    if (k == j) continue;
    Wide times = 0;
    if (!mul(amount, Wide(j - k), times) || !sub_from(raw.b, times)) return std::nullopt;
    if (!mul(amount, range(k).t, times) || !sub_from(raw.tb, times)) return std::nullopt;
  }
  // Every adjusted balance stays within int64, as the row-by-row pass requires.
  if (Wide{index.max_abs_balance} + total_credited > INT64_MAX) return std::nullopt;
  s.n = Wide(j - i);
  s.first_t = (history[i].at - start).count();
  s.last_t = (history[j - 1].at - start).count();
  // t = t' − shift, where t' counts from the index's origin.
  const Wide shift = (start - index.origin).count();
  Wide a = 0, b = 0;
  s.st = raw.t;
  if (!mul(s.n, shift, a) || !sub_from(s.st, a)) return std::nullopt;
  // Σt² = Σt'² − 2·shift·Σt' + n·shift²
  s.stt = raw.tt;
  if (!mul(shift, raw.t, a) || !mul(a, 2, a) || !sub_from(s.stt, a)) return std::nullopt;
  if (!mul(shift, shift, b) || !mul(b, s.n, b) || !add_to(s.stt, b)) return std::nullopt;
  // Σt·b = Σt'·b − shift·Σb
  s.sb = raw.b;
  s.stb = raw.tb;
  if (!mul(shift, s.sb, a) || !sub_from(s.stb, a)) return std::nullopt;
  return s;
}

bool add_row(RunwayIndex& index, const Observation& row) {
  RunwayIndex::Sums s = index.prefix.empty() ? RunwayIndex::Sums{} : index.prefix.back();
  const Wide t = (row.at - index.origin).count();
  const Wide b = row.balance.minor();
  Wide tt = 0, tb = 0;
  if (!add_to(s.t, t) || !add_to(s.b, b) || !mul(t, t, tt) || !add_to(s.tt, tt) || !mul(t, b, tb) ||
      !add_to(s.tb, tb)) {
    return false;
  }
  index.max_abs_balance = std::max<std::int64_t>(index.max_abs_balance, b < 0 ? saturate(-b) : saturate(b));
  index.prefix.push_back(s);
  return true;
}

}  // namespace

void RunwayIndex::append(std::span<const Observation> history) {
  if (history.empty() || prefix.size() + 1 != history.size()) return rebuild(history);
  if (!valid) return;
  // Rows out of time order (a wall clock that jumped back): the binary searches would
  // not find the window, so estimates read the rows until the history is trimmed.
  if (history.size() >= 2 && history.back().at < history[history.size() - 2].at) {
    valid = false;
    return;
  }
  valid = add_row(*this, history.back());
}

void RunwayIndex::rebuild(std::span<const Observation> history) {
  prefix.clear();
  max_abs_balance = 0;
  valid = true;
  origin = history.empty() ? Timestamp{} : history.front().at;
  for (std::size_t k = 0; k < history.size() && valid; ++k) {
    valid = (k == 0 || history[k - 1].at <= history[k].at) && add_row(*this, history[k]);
  }
}

RunwayEstimate estimate_runway(std::span<const Observation> history, std::span<const Credit> own_credits,
                               Timestamp now, Duration window, const RunwayIndex* index) {
  RunwayEstimate out;
  const Timestamp start = now - window;
  const Credits credits = window_credits(own_credits, start, now);
  std::optional<Sums> sums;
  if (index && index->valid && index->prefix.size() == history.size()) {
    sums = sums_by_index(history, *index, credits, start, now);
  }
  if (!sums) sums = sums_by_rows(history, credits, start, now);
  if (!sums) return out;
  const Sums& s = *sums;
  if (s.n < 3 || s.last_t - s.first_t < window.count() / 2) return out;
  out.enough_data = true;

  // slope = (nΣtb − ΣtΣb) / (nΣt² − (Σt)²), in minor units per millisecond, kept as a fraction.
  const Wide numerator = s.n * s.stb - s.st * s.sb;
  const Wide denominator = s.n * s.stt - s.st * s.st;
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
