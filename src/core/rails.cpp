// A top-up's rails: the first in the spec's own fields, the rest in `more_rails`, and
// what each can move now (rules.hpp declares these).
#include <algorithm>

#include <fmt/format.h>

#include "topupd/core/rules.hpp"

namespace topupd::core {

std::size_t rail_count(const TopUpSpec& spec) { return 1 + spec.more_rails.size(); }

Rail rail_at(const TopUpSpec& spec, std::size_t index) {
  if (index == 0) return {spec.method, spec.via, spec.source, spec.keep_in_source, spec.check_balance_of, spec.deposit};
  return spec.more_rails.at(index - 1);
}

TopUpSpec on_rail(const TopUpSpec& spec, std::size_t index) {
  TopUpSpec out = spec;
  if (index == 0) return out;
  const Rail& rail = spec.more_rails.at(index - 1);
  out.method = rail.method;
  out.via = rail.via;
  out.source = rail.source;
  out.keep_in_source = rail.keep_in_source;
  out.check_balance_of = rail.check_balance_of;
  out.deposit = rail.deposit;
  return out;
}

const std::string& source_account(const Rail& rail) {
  return rail.method == TopUpMethod::sweep ? rail.source : rail.check_balance_of;
}

const std::string& source_account(const TopUpSpec& spec, std::size_t index) {
  if (index > 0) return source_account(spec.more_rails.at(index - 1));
  return spec.method == TopUpMethod::sweep ? spec.source : spec.check_balance_of;
}

std::string describe(const Rail& rail) {
  if (rail.deposit) {
    const DepositSpec& d = *rail.deposit;
    const std::string from = d.to.via.empty() ? "" : " from " + d.to.via;
    const std::string to = d.to.kind == DepositDestination::Kind::ticket ? fmt::format("a {} virtual account{}", d.to.bank, from)
                           : d.to.kind == DepositDestination::Kind::qris ? fmt::format("a QRIS code{}", from)
                                                                          : fmt::format("{} {}", d.to.bank, d.to.account_no);
    if (d.pay_with.kind == DepositPayment::Kind::assisted) return fmt::format("deposit to {} paid by a person", to);
    if (d.pay_with.kind == DepositPayment::Kind::payout) {
      return fmt::format("deposit to {} paid out of {} by {}", to, d.pay_with.from_account, d.pay_with.via);
    }
    return fmt::format("deposit to {} paid from {} via {}", to, d.pay_with.from_account, d.pay_with.via);
  }
  std::string out = fmt::format("{} from {}", to_string(rail.method), rail.source);
  if (!rail.via.empty()) out += " via " + rail.via;
  return out;
}

AmountResult amount_on_rail(const TopUpSpec& spec, std::size_t index, const RuleInputs& in) {
  // The first rail is the spec itself: no copy on the common path.
  const std::optional<TopUpSpec> copy = index == 0 ? std::nullopt : std::optional(on_rail(spec, index));
  const TopUpSpec& rail = copy ? *copy : spec;
  const std::optional<Money> balance = in.latest ? std::optional(in.latest->balance) : std::nullopt;
  const std::optional<Money> source_balance = index < kMaxRails ? in.source_balances[index] : std::nullopt;
  AmountResult amount = compute_amount(rail, balance, source_balance, in.usage);
  const bool cut_down_allowed = rail.method == TopUpMethod::sweep && index + 1 == rail_count(spec);
  if (amount.amount && !cut_down_allowed &&
      std::find(amount.shaped_by.begin(), amount.shaped_by.end(), "keep_in_source") != amount.shaped_by.end()) {
    const Money keep = rail.keep_in_source.value_or(Money(0, amount.amount->currency()));
    return {std::nullopt,
            fmt::format("source {} holds {}, which cannot cover the amount above keep_in_source {}",
                        source_account(rail, 0), format_human(*source_balance), format_human(keep)),
            amount.shaped_by, true};
  }
  return amount;
}

}  // namespace topupd::core
