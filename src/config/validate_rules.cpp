// Semantic validation of rules: their account, condition, alert and top-up, and the
// amounts and currencies in them (checker.hpp). Pure: no I/O.
#include <set>

#include <fmt/format.h>

#include "checker.hpp"

namespace topupd::config {

using core::Money;

void Checker::check_rules() {
  std::set<std::string> names;
  for (std::size_t i = 0; i < config_.rules.size(); ++i) {
    const core::Rule& rule = config_.rules[i];
    const std::string path = rule_path(i);
    if (!rule.name.empty() && !names.insert(rule.name).second) {
      problem(path + ".name", fmt::format("duplicate rule name '{}'", rule.name));
    }
    if (rule.account.empty()) continue;  // reported while loading
    const AccountConfig* account = config_.find_account(rule.account);
    if (!account) {
      problem(path + ".account", fmt::format("unknown account '{}'{}", rule.account, known_accounts()));
      continue;
    }
    check_condition(path, rule, *account);
    if (rule.alert) check_alert(path, *rule.alert);
    if (rule.top_up) check_top_up(path, *rule.top_up, *account);
  }
}

void Checker::check_condition(const std::string& path, const core::Rule& rule, const AccountConfig& account) {
  using Kind = core::Condition::Kind;
  const core::Condition& when = rule.when;
  const bool threshold = when.kind == Kind::below || when.kind == Kind::above;
  if (threshold) currency_matches(path + ".when." + std::string(core::to_string(when.kind)), when.threshold, account);
  if (when.kind == Kind::runway_below) {
    if (when.duration.count() <= 0) problem(path + ".when.runway_below", "must be longer than 0s");
    if (when.window.count() <= 0) problem(path + ".when.window", "must be longer than 0s");
  }
  if (when.kind == Kind::stale_for && when.duration.count() <= 0) problem(path + ".when.stale_for", "must be longer than 0s");
  if (when.kind == Kind::cover_demands) {
    const std::string cover = path + ".when.cover_demands";
    if (when.duration.count() <= 0) problem(cover + ".within", "must be longer than 0s");
    if (when.window.count() <= 0) problem(cover + ".window", "must be longer than 0s");
    if (when.lead.count() < 0) problem(cover + ".lead", "must not be negative");
    if (when.lead >= when.duration && when.duration.count() > 0) {
      problem(cover + ".lead", "must be shorter than within, or every demand is already late when first seen");
    }
    currency_matches(cover + ".keep", when.threshold, account);
    if (when.threshold.is_negative()) problem(cover + ".keep", "must not be negative");
  }
  if (rule.hold_for.count() < 0) problem(path + ".when.for", "must not be negative");
  if (rule.clear) {
    const std::string clear_path = path + (rule.clear->above ? ".clear.above" : ".clear.below");
    currency_matches(clear_path, rule.clear->value, account);
    if (!threshold) {
      problem(clear_path, "clear applies to below/above conditions; other conditions resolve when they stop holding");
    } else if (rule.clear->above != (when.kind == Kind::below)) {
      problem(clear_path, when.kind == Kind::below ? "a below condition clears 'above' a balance"
                                                   : "an above condition clears 'below' a balance");
    } else if (rule.clear->value.currency() == when.threshold.currency() &&
               (rule.clear->above ? rule.clear->value < when.threshold : rule.clear->value > when.threshold)) {
      problem(clear_path, fmt::format("must not be {} when.{}, or the rule would resolve while still firing",
                                      rule.clear->above ? "below" : "above", core::to_string(when.kind)));
    }
  }
  if (when.kind == Kind::schedule) {
    if (rule.alert) problem(path + ".alert", "a schedule rule does not fire or resolve; its top-ups are logged and counted");
    if (!rule.top_up) problem(path + ".schedule", "a schedule rule needs a top_up to run");
    if (rule.hold_for.count() > 0) problem(path + ".schedule", "'for' does not apply to schedules");
  }
  if (when.kind == Kind::stale_for && rule.top_up) {
    problem(path + ".top_up", "a stale_for rule cannot top up: topupd never moves money on a stale balance");
  }
  if (when.kind == Kind::above && rule.top_up) {
    problem(path + ".top_up", "an above rule cannot top up; use it to alert on too much money");
  }
}

void Checker::check_alert(const std::string& path, const core::AlertSpec& alert) {
  static const std::set<std::string> kSeverities{"info", "warning", "critical"};
  if (!kSeverities.count(alert.severity)) {
    problem(path + ".alert.severity",
            fmt::format("unknown severity '{}'; expected info, warning or critical", alert.severity));
  }
  for (std::size_t j = 0; j < alert.notify.size(); ++j) {
    const NotifierConfig* notifier = config_.find_notifier(alert.notify[j]);
    if (!notifier || notifier->type == NotifierType::events) {
      problem(fmt::format("{}.alert.notify[{}]", path, j),
              fmt::format("unknown notifier '{}'{}", alert.notify[j], known_notifiers()));
    }
  }
}

// A deposit: the ticket comes from the gateway that holds the account, SNAP or a
// gateway's payout pays it in rupiah, Xendit and Flip take whole rupiah, and an
// interbank transfer stays within BI-FAST's per-transaction limit.
void Checker::check_deposit(const std::string& path, const core::Rail& rail, const core::TopUpSpec& top_up,
                            const AccountConfig& account) {
  const core::DepositSpec& deposit = *rail.deposit;
  using Pay = core::DepositPayment::Kind;
  if (account.currency.code() != "IDR") {
    problem(path + ".method", fmt::format("a deposit pays rupiah through SNAP or a payout; account '{}' is in {}",
                                          account.name, account.currency.code()));
  }
  const bool assisted = deposit.pay_with.kind == Pay::assisted;
  const bool payout = deposit.pay_with.kind == Pay::payout;
  const bool qris = deposit.to.kind == core::DepositDestination::Kind::qris;
  if (assisted && deposit.to.kind == core::DepositDestination::Kind::static_account) {
    problem(path + ".pay_with", "a person pays a ticket issued for the top-up (to: xendit_va or xendit_qris): a static "
                                "account cannot tell topupd which payment was this top-up's");
  }
  if (qris && !assisted) {
    problem(path + ".pay_with", "a QRIS code is scanned and paid by a person's app: pay_with: assisted");
  }
  const std::string pay_path = path + (payout ? ".pay_with.payout.via" : ".pay_with.snap_transfer.via");
  const ProviderConfig* bank = assisted ? nullptr : config_.find_provider(deposit.pay_with.via);
  if (assisted) {
    // No bank of ours pays it: nothing to check on that side.
  } else if (!bank) {
    problem(pay_path, fmt::format("unknown provider '{}'{}", deposit.pay_with.via, known_providers()));
  } else if (payout && bank->type != ProviderType::xendit && bank->type != ProviderType::flip &&
             bank->type != ProviderType::sandbox) {
    problem(pay_path, fmt::format("provider '{}' is {}; a payout between gateways is paid by a xendit or flip "
                                  "provider (or the sandbox)", bank->name, bank->type ? to_string(*bank->type) : "?"));
  } else if (!payout && bank->type != ProviderType::snap && bank->type != ProviderType::sandbox) {
    problem(pay_path, fmt::format("provider '{}' is {}; snap_transfer pays through a snap provider (or the sandbox)",
                                  bank->name, bank->type ? to_string(*bank->type) : "?"));
  }
  if (payout && bank) check_payout_source(path + ".pay_with.payout", deposit, *bank, account);
  const std::string amount_path = path.substr(0, path.find(".top_up") + 7) + ".amount";
  // Every amount that shapes a top-up this gateway takes must be whole rupiah.
  const auto whole = [&](const std::string& takes) {
    const auto check = [&](const std::string& field, const std::optional<Money>& money) {
      if (money && money->minor() % money->currency().minor_per_major() != 0) {
        problem(field, fmt::format("{} is not whole rupiah; {} whole rupiah", core::format_human(*money), takes));
      }
    };
    if (top_up.amount.kind != core::AmountSpec::Kind::percent_of_source) {
      check(amount_path + (top_up.amount.kind == core::AmountSpec::Kind::fixed ? ".fixed" : ".to_target"),
            top_up.amount.value);
    }
    check(amount_path + ".min", top_up.amount.min);
    check(amount_path + ".max", top_up.amount.max);
    check(amount_path + ".round_up_to", top_up.amount.round_up_to);
  };
  if (payout && bank && bank->type == ProviderType::xendit) whole("a Xendit payout takes");
  if (payout && bank && bank->type == ProviderType::flip) {
    whole("a Flip disbursement takes");
    // Flip disburses IDR 10,000 at least: an amount that is always smaller can never go.
    const bool fixed = top_up.amount.kind == core::AmountSpec::Kind::fixed;
    const std::optional<Money> most = fixed ? std::optional(top_up.amount.value) : top_up.amount.max;
    if (most && most->minor() < 10'000'00) {
      problem(amount_path, fmt::format("a Flip disbursement moves at least IDR 10,000; {} never reaches it",
                                       core::format_human(*most)));
    }
  }
  const core::DepositDestination& to = deposit.to;
  std::string destination_bank = to.bank;
  if (to.kind != core::DepositDestination::Kind::static_account) {
    const std::string via = to.via.empty() ? account.provider : to.via;
    const ProviderConfig* issuer = config_.find_provider(via);
    const std::string kind = qris ? "xendit_qris" : "xendit_va";
    const std::string via_path = path + ".to." + kind + ".via";
    if (!issuer) {
      problem(via_path, fmt::format("unknown provider '{}'{}", via, known_providers()));
    } else if (issuer->type != ProviderType::xendit && issuer->type != ProviderType::sandbox) {
      problem(via_path, fmt::format("provider '{}' is {}; {} tickets are issued by a xendit provider (or the "
                                    "sandbox)", issuer->name, issuer->type ? to_string(*issuer->type) : "?", kind));
    } else if (issuer->name != account.provider) {
      problem(via_path, fmt::format("provider '{}' does not hold account '{}' (it is at '{}'): the ticket must "
                                    "credit the account it funds", issuer->name, account.name, account.provider));
    }
    if (qris) whole("Xendit's QRIS codes take");
    else if (!payout || !bank || bank->type != ProviderType::xendit) whole("Xendit's virtual accounts take");
  } else if (to.account_no.empty() || to.account_no.find_first_not_of("0123456789") != std::string::npos) {
    problem(path + ".to.static.account_no", "must be the account's digits");
  }
  if (to.name.empty() && !qris) {
    problem(path + ".to", "the destination needs the holder's name the bank must find before paying");
  }
  // Interbank (BI-FAST): at most IDR 250,000,000 in one transfer; a payout between
  // gateways always leaves the paying gateway's bank.
  const bool interbank = bank && ((bank->type == ProviderType::snap &&
                                   core::bi_bank_code(destination_bank) != bank->snap.bank_code) ||
                                  (payout && bank->type != ProviderType::sandbox));
  if (interbank && account.currency.code() == "IDR") {
    std::optional<Money> most;
    if (top_up.amount.kind != core::AmountSpec::Kind::percent_of_source) most = top_up.amount.value;
    if (top_up.amount.max && (!most || *top_up.amount.max < *most)) most = top_up.amount.max;
    if (!most || most->minor() > core::kBiFastLimitMinor) {
      problem(path.substr(0, path.find(".top_up") + 7) + ".amount",
              fmt::format("an interbank (BI-FAST) transfer to {} moves at most IDR 250,000,000; set amount.max to at "
                          "most that{}", destination_bank,
                          bank->type == ProviderType::snap && bank->snap.bank_code.empty()
                              ? " (or give provider '" + bank->name + "' its bank_code if the account is at the same bank)"
                              : ""));
    }
  }
}

// A payout's source: a watched account at the paying gateway, not the one it funds,
// in the same currency.
void Checker::check_payout_source(const std::string& path, const core::DepositSpec& deposit,
                                  const ProviderConfig& gateway, const AccountConfig& account) {
  const std::string& from = deposit.pay_with.from_account;
  const AccountConfig* source = config_.find_account(from);
  if (!source) {
    problem(path + ".from", fmt::format("unknown account '{}'{}", from, known_accounts()));
  } else if (source->name == account.name) {
    problem(path + ".from", "a payout cannot be paid out of the account it funds");
  } else if (source->provider != gateway.name) {
    problem(path + ".from", fmt::format("account '{}' is at provider '{}', not at '{}' that pays", source->name,
                                        source->provider, gateway.name));
  } else if (!(source->currency == account.currency)) {
    problem(path + ".from", fmt::format("account '{}' is in {}, the rule's account in {}", source->name,
                                        source->currency.code(), account.currency.code()));
  }
}

void Checker::check_rail(const std::string& path, const core::Rail& rail, const AccountConfig& account) {
  std::string via = rail.via.empty() ? account.provider : rail.via;
  const ProviderConfig* provider = config_.find_provider(via);
  if (!provider) {
    problem(path + ".via", fmt::format("unknown provider '{}'{}", via, known_providers()));
  } else if (provider->name != account.provider) {
    problem(path + ".via", fmt::format("provider '{}' does not hold account '{}' (it is at '{}')",
                                       via, account.name, account.provider));
  }
  const bool sweep = rail.method == core::TopUpMethod::sweep;
  if (provider && provider->type && !provider->can_move_money()) {
    problem(path + ".method",
            fmt::format("provider '{}' is {}, which has no API to move money in; it can only be "
                        "monitored (use an alert rule, or top up through a stripe, snap or sandbox provider, "
                        "or a generic_http provider with a top_up block)",
                        provider->name, to_string(*provider->type)));
  } else if (provider && provider->type == ProviderType::stripe && sweep) {
    problem(path + ".method", fmt::format("provider '{}' is stripe: top-ups are direct debits "
                                          "(method: direct_debit); Stripe has no sweep between balances",
                                          provider->name));
  }
  if (sweep) {
    const AccountConfig* source = config_.find_account(rail.source);
    if (!source) {
      problem(path + ".from", fmt::format("unknown account '{}'{}", rail.source, known_accounts()));
    } else if (source->name == account.name) {
      problem(path + ".from", "a sweep needs a source account other than the rule's account");
    } else if (source->provider != account.provider || !(source->currency == account.currency)) {
      problem(path + ".from", fmt::format("cannot sweep from '{}' to '{}': they must be at the "
                                          "same provider and in the same currency",
                                          source->name, account.name));
    }
  } else if (!rail.check_balance_of.empty()) {
    const AccountConfig* source = config_.find_account(rail.check_balance_of);
    if (!source) {
      problem(path + ".check_balance_of",
              fmt::format("unknown account '{}'{}", rail.check_balance_of, known_accounts()));
    } else if (source->name == account.name) {
      problem(path + ".check_balance_of", "the account a direct debit takes from cannot be the one it funds");
    } else if (!(source->currency == account.currency)) {
      problem(path + ".check_balance_of", fmt::format("account '{}' is in {}, the rule's account in {}", source->name,
                                                      source->currency.code(), account.currency.code()));
    }
  }
  currency_matches(path + ".keep_in_source", rail.keep_in_source, account);
  if (rail.keep_in_source && rail.keep_in_source->is_negative()) {
    problem(path + ".keep_in_source", "must not be negative");
  }
}

void Checker::check_top_up(const std::string& path, const core::TopUpSpec& top_up,
                  const AccountConfig& account) {
  const std::string base = path + ".top_up";
  const bool listed = config_.locations.has(base + ".rails");
  bool every_rail_reads_source = true;
  for (std::size_t i = 0; i < core::rail_count(top_up); ++i) {
    const core::Rail rail = core::rail_at(top_up, i);
    const std::string rail_path = listed ? fmt::format("{}.rails[{}]", base, i) : base;
    if (rail.deposit) {
      check_deposit(rail_path, rail, top_up, account);
      // A payout reads its source's balance; the other deposits read none.
      const bool payout = rail.deposit->pay_with.kind == core::DepositPayment::Kind::payout;
      if (payout) {
        currency_matches(rail_path + ".pay_with.payout.keep_in_source", rail.keep_in_source, account);
        if (rail.keep_in_source && rail.keep_in_source->is_negative()) {
          problem(rail_path + ".pay_with.payout.keep_in_source", "must not be negative");
        }
      }
      every_rail_reads_source = every_rail_reads_source && payout;
      continue;
    }
    check_rail(rail_path, rail, account);
    every_rail_reads_source = every_rail_reads_source && !core::source_account(rail).empty();
  }
  const auto& amount = top_up.amount;
  const std::string amount_path = base + ".amount";
  using Kind = core::AmountSpec::Kind;
  if (amount.kind == Kind::percent_of_source && !every_rail_reads_source) {
    problem(amount_path + ".percent_of_source",
            "percent_of_source needs a source balance on every rail: a sweep's, or a direct debit's check_balance_of");
  }
  if (amount.kind != Kind::percent_of_source) {
    const std::string value_path = amount_path + (amount.kind == Kind::fixed ? ".fixed" : ".to_target");
    currency_matches(value_path, amount.value, account);
    if (amount.kind == Kind::fixed && !amount.value.is_positive()) problem(value_path, "must be positive");
  }
  positive_amount(amount_path + ".min", amount.min, account);
  positive_amount(amount_path + ".max", amount.max, account);
  positive_amount(amount_path + ".round_up_to", amount.round_up_to, account);
  positive_amount(base + ".limits.per_day", top_up.limits.per_day, account);
  positive_amount(base + ".limits.per_week", top_up.limits.per_week, account);
  positive_amount(base + ".limits.per_month", top_up.limits.per_month, account);
  positive_amount(base + ".limits.approval_above", top_up.limits.approval_above, account);
  positive_amount(base + ".limits.dual_approval_above", top_up.limits.dual_approval_above, account);
  if (top_up.limits.dual_approval_above) {
    const auto& dual = *top_up.limits.dual_approval_above;
    const auto& single = top_up.limits.approval_above;
    if (!single) {
      problem(base + ".limits.dual_approval_above",
              "needs approval_above: only a top-up that waits for approval can wait for two");
    } else if (single->currency() == dual.currency() && dual < *single) {
      problem(base + ".limits.dual_approval_above",
              fmt::format("{} is below approval_above {}: two approvers are asked for only above one",
                          core::format_human(dual), core::format_human(*single)));
    }
  }
  if (amount.min && amount.max && amount.min->currency() == amount.max->currency() && *amount.min > *amount.max) {
    problem(amount_path + ".min", fmt::format("min {} is greater than max {}", core::format_human(*amount.min),
                                              core::format_human(*amount.max)));
  }
  if (top_up.limits.cooldown.count() < 0) problem(base + ".limits.cooldown", "must not be negative");
  if (top_up.limits.approval_expires.count() <= 0) problem(base + ".limits.approval_expires", "must be longer than 0s");
  if (top_up.verify.within.count() <= 0) problem(base + ".verify.within", "must be longer than 0s");
  if (top_up.stuck_after.count() <= 0) problem(base + ".stuck_after", "must be longer than 0s");
}

void Checker::positive_amount(const std::string& field, const std::optional<Money>& money, const AccountConfig& account) {
  if (!money) return;
  if (!(money->currency() == account.currency)) {
    currency_matches(field, money, account);
  } else if (!money->is_positive()) {
    problem(field, "must be positive");
  }
}

// Rules that failed to load are not in config_.rules, so their list index is kept
// beside them rather than recomputed.
std::string Checker::rule_path(std::size_t loaded_index) const {
  return loaded_index < config_.rule_paths.size() ? config_.rule_paths[loaded_index]
                                                   : fmt::format("rules[{}]", loaded_index);
}

}  // namespace topupd::config
