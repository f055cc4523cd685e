// A top-up's amount: the strategy, then each limit that shapes it, in the order the
// README gives (rules.hpp declares compute_amount).
#include <fmt/format.h>

#include "topupd/core/rules.hpp"

namespace topupd::core {

std::vector<CapUse> cap_uses(const Limits& limits, const std::optional<CapUsage>& usage) {
  const struct {
    const std::optional<Money>& cap;
    std::optional<Money> used;
    const char* name;
    const char* period;
  } caps[] = {
      {limits.per_day, usage ? std::optional(usage->amount) : std::nullopt, "per_day", "today"},
      {limits.per_week, usage ? usage->week_amount : std::nullopt, "per_week", "this week"},
      {limits.per_month, usage ? usage->month_amount : std::nullopt, "per_month", "this month"},
  };
  std::vector<CapUse> out;
  for (const auto& c : caps) {
    if (c.cap) out.push_back({c.name, c.period, *c.cap, c.used.value_or(Money(0, c.cap->currency()))});
  }
  return out;
}

AmountResult compute_amount(const TopUpSpec& spec, const std::optional<Money>& balance,
                            const std::optional<Money>& source_balance, const std::optional<CapUsage>& usage) {
  const AmountSpec& a = spec.amount;
  AmountResult out;
  // A sweep always reads its source; a direct debit when it names the account it takes from.
  const std::string& source = source_account(spec, 0);
  const bool reads_source = !source.empty();
  if (reads_source && !source_balance) {
    return {std::nullopt, fmt::format("no fresh balance of the source {}", source), {}, true};
  }
  std::optional<Money> amount;
  switch (a.kind) {
    case AmountSpec::Kind::fixed: amount = a.value; break;
    case AmountSpec::Kind::to_target:
      if (!balance) return {std::nullopt, "no fresh balance to compute the amount to target", {}};
      amount = a.value.checked_sub(*balance);
      if (!amount) return {std::nullopt, "target minus balance overflows", {}};
      break;
    case AmountSpec::Kind::percent_of_source: {
      if (!source_balance) return {std::nullopt, "no fresh balance of the source", {}};
      __extension__ typedef __int128 Wide;
      // Rounded down to the minor unit (toward zero for positive balances).
      const Wide scaled = static_cast<Wide>(source_balance->minor()) * a.percent_basis_points / 10'000;
      amount = Money(static_cast<std::int64_t>(scaled), source_balance->currency());
      break;
    }
  }
  auto shape = [&](const Money& shaped, const char* limit) {
    if (!(shaped == *amount)) {
      amount = shaped;
      out.shaped_by.emplace_back(limit);
    }
  };
  if (a.round_up_to && a.round_up_to->is_positive() && amount->is_positive()) {
    const std::int64_t step = a.round_up_to->minor();
    const std::int64_t remainder = amount->minor() % step;
    if (remainder != 0) {
      auto rounded = amount->checked_add(Money(step - remainder, amount->currency()));
      if (!rounded) return {std::nullopt, "rounding up overflows", {}};
      shape(*rounded, "round_up_to");
    }
  }
  if (a.min && *amount < *a.min) shape(*a.min, "min");
  if (a.max && *amount > *a.max) shape(*a.max, "max");
  if (reads_source) {
    const Money keep = spec.keep_in_source.value_or(Money(0, source_balance->currency()));
    auto available = source_balance->checked_sub(keep);
    if (!available) return {std::nullopt, "source balance minus keep_in_source overflows", {}};
    if (*amount > *available) shape(*available, "keep_in_source");
    if (!amount->is_positive()) {
      return {std::nullopt,
              fmt::format("source {} holds {}, not more than keep_in_source {}", source,
                          format_human(*source_balance), format_human(keep)),
              out.shaped_by, true};
    }
  }
  // The calendar caps, shortest first: what is left of each in its period.
  for (const auto& c : cap_uses(spec.limits, usage)) {
    const auto remaining = c.cap.checked_sub(c.used);
    if (!remaining) return {std::nullopt, fmt::format("{} minus what was used overflows", c.name), out.shaped_by};
    if (*amount > *remaining) shape(*remaining, c.name);
    if (!amount->is_positive()) {
      return {std::nullopt,
              fmt::format("{} {} already used {} ({})", c.name, format_human(c.cap), c.period, format_human(c.used)),
              out.shaped_by};
    }
  }
  if (!amount->is_positive()) {
    return {std::nullopt, fmt::format("amount {} is not positive", format_human(*amount)), out.shaped_by};
  }
  out.amount = amount;
  return out;
}

}  // namespace topupd::core
