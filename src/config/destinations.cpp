// The pinned destinations file and the check of a config against it (see
// config/destinations.hpp).
#include <fmt/format.h>

#include "loader.hpp"
#include "topupd/core/deposit.hpp"

namespace topupd::config {
namespace detail {

void Loader::load_destinations(const YAML::Node& root, Pins& out) {
  if (root.IsNull()) {
    error("", {1, 1}, "the file is empty; list the accounts money may go to under 'accounts:'");
    return;
  }
  Map top(*this, root, "", {"accounts", "bank_accounts", "virtual_accounts"});
  if (!top.valid()) return;
  // Deposits' destinations: lists of {bank, account_no} and {bank, prefix}.
  const auto digits = [](const std::string& text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  };
  for (const auto& [key, second] : {std::pair<std::string, std::string>{"bank_accounts", "account_no"},
                                    std::pair<std::string, std::string>{"virtual_accounts", "prefix"}}) {
    const YAML::Node* list = top.get(key);
    if (!list) continue;
    if (!list->IsSequence()) {
      error(key, location_of(list->Mark()), fmt::format("expected a list, e.g. [{{bank: \"014\", {}: \"…\"}}]", second));
      continue;
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string path = fmt::format("{}[{}]", key, i);
      Map entry(*this, (*list)[i], path, {"bank", second});
      if (!entry.valid()) continue;
      auto bank = string_at(entry, "bank");
      auto number = string_at(entry, second);
      if (!bank && !entry.has("bank")) entry.missing("bank", "Bank Indonesia's code (014) or the bank's name (BCA)");
      if (!number && !entry.has(second)) entry.missing(second, "its digits");
      if (number && !digits(*number)) {
        error(path + "." + second, config_.locations.find(path + "." + second), "must be digits");
        continue;
      }
      if (!bank || !number) continue;
      if (key == "bank_accounts") out.bank_accounts.push_back({core::bi_bank_code(*bank), *number});
      else out.virtual_accounts.push_back({core::bi_bank_code(*bank), *number});
    }
  }
  const YAML::Node* accounts = top.get("accounts");
  if (!accounts) {
    top.missing("accounts", "the accounts money may go to, e.g. [{provider: xendit, account_id: xendit-cash}]");
    return;
  }
  if (!accounts->IsSequence()) {
    error("accounts", location_of(accounts->Mark()),
          "expected a list, e.g. [{provider: xendit, account_id: xendit-cash}]");
    return;
  }
  for (std::size_t i = 0; i < accounts->size(); ++i) {
    const std::string path = fmt::format("accounts[{}]", i);
    Map entry(*this, (*accounts)[i], path, {"provider", "account_id"});
    if (!entry.valid()) continue;
    auto provider = string_at(entry, "provider");
    auto account_id = string_at(entry, "account_id");
    if (!provider && !entry.has("provider")) entry.missing("provider", "the provider's name in the config");
    if (!account_id && !entry.has("account_id")) entry.missing("account_id", "the account's id at that provider");
    if (provider && account_id) out.accounts.push_back({*provider, *account_id});
  }
}

}  // namespace detail

bool Pins::allows_account(const std::string& provider, const std::string& account_id) const {
  const PinnedDestination wanted{provider, account_id};
  return std::find(accounts.begin(), accounts.end(), wanted) != accounts.end();
}

bool Pins::allows_bank_account(const std::string& bank, const std::string& account_no) const {
  const PinnedBankAccount wanted{core::bi_bank_code(bank), account_no};
  return std::find(bank_accounts.begin(), bank_accounts.end(), wanted) != bank_accounts.end();
}

bool Pins::allows_virtual_account(const std::string& bank, const std::string& account_no) const {
  const std::string code = core::bi_bank_code(bank);
  return std::any_of(virtual_accounts.begin(), virtual_accounts.end(), [&](const PinnedVirtualAccounts& v) {
    return v.bank == code && account_no.size() > v.prefix.size() && account_no.rfind(v.prefix, 0) == 0;
  });
}

bool Pins::lists_virtual_accounts_at(const std::string& bank) const {
  const std::string code = core::bi_bank_code(bank);
  return std::any_of(virtual_accounts.begin(), virtual_accounts.end(),
                     [&](const PinnedVirtualAccounts& v) { return v.bank == code; });
}

std::vector<Diagnostic> check_destinations(const Config& config, const Pins& pins, const std::string& pinned_path) {
  std::vector<Diagnostic> out;
  for (std::size_t i = 0; i < config.rules.size(); ++i) {
    const core::Rule& rule = config.rules[i];
    if (!rule.top_up) continue;
    const AccountConfig* account = config.find_account(rule.account);
    if (!account) continue;  // validate reports it
    const std::string path = i < config.rule_paths.size() ? config.rule_paths[i] : fmt::format("rules[{}]", i);
    // A deposit's rails pay a bank account or a ticket: each must be pinned too.
    for (std::size_t r = 0; r < core::rail_count(*rule.top_up); ++r) {
      const std::optional<core::DepositSpec> deposit = core::rail_at(*rule.top_up, r).deposit;
      if (!deposit) continue;
      const core::DepositDestination& to = deposit->to;
      const std::string to_path = config.locations.has(path + ".top_up.rails")
                                      ? fmt::format("{}.top_up.rails[{}].to", path, r)
                                      : path + ".top_up.to";
      if (to.kind == core::DepositDestination::Kind::static_account && !pins.allows_bank_account(to.bank, to.account_no)) {
        out.push_back({config.path, config.locations.find(to_path), to_path,
                       fmt::format("money may not go to bank {} account {}: {} does not list it; add {{bank: \"{}\", "
                                   "account_no: \"{}\"}} under bank_accounts there",
                                   to.bank, to.account_no, pinned_path, core::bi_bank_code(to.bank), to.account_no)});
      }
      if (to.kind == core::DepositDestination::Kind::ticket && !pins.lists_virtual_accounts_at(to.bank)) {
        out.push_back({config.path, config.locations.find(to_path), to_path,
                       fmt::format("{} lists no virtual accounts at {}: add {{bank: {}, prefix: \"…\"}} (the "
                                   "gateway's merchant prefix) under virtual_accounts there, or a ticket could "
                                   "be any account", pinned_path, to.bank, to.bank)});
      }
    }
    // Every rail of a rule funds the rule's account at its own provider.
    if (pins.allows_account(account->provider, account->id)) continue;
    out.push_back({config.path, config.locations.find(path + ".account"), path + ".account",
                   fmt::format("money may not go to account '{}' (provider {}, id {}): {} does not list it; add "
                               "{{provider: {}, account_id: {}}} there (the file is root's, read at start)",
                               account->name, account->provider, account->id, pinned_path, account->provider,
                               account->id)});
  }
  return out;
}

}  // namespace topupd::config
