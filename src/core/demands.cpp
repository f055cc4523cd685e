// What announced demands ask of an account: see core/demands.hpp.
#include "topupd/core/demands.hpp"

namespace topupd::core {
namespace {

// per_hour × millis / one hour, rounded down, without overflowing on the way; nullopt
// when the result itself does not fit. (per_hour = q·hour + r, so per_hour × rest / hour
// = q × rest + r × rest / hour exactly.)
std::optional<std::int64_t> per_hour_over(std::int64_t per_hour, std::int64_t millis) {
  constexpr std::int64_t kHour = 3'600'000;
  const std::int64_t hours = millis / kHour;
  const std::int64_t rest = millis % kHour;
  std::int64_t whole = 0, part = 0, total = 0;
  if (__builtin_mul_overflow(per_hour, hours, &whole)) return std::nullopt;
  if (__builtin_mul_overflow(per_hour / kHour, rest, &part)) return std::nullopt;
  if (__builtin_add_overflow(part, (per_hour % kHour) * rest / kHour, &part)) return std::nullopt;
  if (__builtin_add_overflow(whole, part, &total)) return std::nullopt;
  return total;
}

}  // namespace

DemandCover cover_needed(const Condition& c, std::span<const DueDemand> demands, const Money& balance,
                         const RunwayEstimate& estimate, Timestamp now) {
  const Currency currency = balance.currency();
  DemandCover out{0, Money(0, currency), Money(0, currency), c.threshold};
  const Timestamp until = now + c.duration;
  for (const auto& demand : demands) {
    if (demand.due_at <= now || demand.due_at > until || !(demand.amount.currency() == currency)) continue;
    const auto sum = out.due.checked_add(demand.amount);
    if (!sum) {
      out.overflow = true;
      return out;
    }
    out.due = *sum;
    out.count += 1;
    if (!out.first_due || demand.due_at < *out.first_due) out.first_due = demand.due_at;
    if (!out.last_due || demand.due_at > *out.last_due) out.last_due = demand.due_at;
  }
  if (out.count == 0) return out;
  // The burn rate the account has shown goes on until the last demand is paid: what
  // leaves through other payouts meanwhile must be there too.
  if (estimate.enough_data && estimate.burn_per_hour_minor > 0) {
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(*out.last_due - now).count();
    const auto burn = per_hour_over(estimate.burn_per_hour_minor, millis);
    if (!burn) {
      out.overflow = true;
      return out;
    }
    out.burn = Money(*burn, currency);
  }
  const auto with_due = c.threshold.checked_add(out.due);
  const auto target = with_due ? with_due->checked_add(out.burn) : std::nullopt;
  if (!target) {
    out.overflow = true;
    return out;
  }
  out.target = *target;
  return out;
}

}  // namespace topupd::core
