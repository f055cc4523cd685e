// The pinned destinations file and the check of a config against it (see
// config/destinations.hpp).
#include <fmt/format.h>

#include "loader.hpp"

namespace topupd::config {
namespace detail {

void Loader::load_destinations(const YAML::Node& root, std::vector<PinnedDestination>& out) {
  if (root.IsNull()) {
    error("", {1, 1}, "the file is empty; list the accounts money may go to under 'accounts:'");
    return;
  }
  Map top(*this, root, "", {"accounts"});
  if (!top.valid()) return;
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
    if (provider && account_id) out.push_back({*provider, *account_id});
  }
}

}  // namespace detail

std::vector<Diagnostic> check_destinations(const Config& config, const std::vector<PinnedDestination>& pinned,
                                           const std::string& pinned_path) {
  std::vector<Diagnostic> out;
  for (std::size_t i = 0; i < config.rules.size(); ++i) {
    const core::Rule& rule = config.rules[i];
    if (!rule.top_up) continue;
    const AccountConfig* account = config.find_account(rule.account);
    if (!account) continue;  // validate reports it
    // Every rail of a rule funds the rule's account at its own provider.
    const PinnedDestination destination{account->provider, account->id};
    if (std::find(pinned.begin(), pinned.end(), destination) != pinned.end()) continue;
    const std::string path = i < config.rule_paths.size() ? config.rule_paths[i] : fmt::format("rules[{}]", i);
    out.push_back({config.path, config.locations.find(path + ".account"), path + ".account",
                   fmt::format("money may not go to account '{}' (provider {}, id {}): {} does not list it; add "
                               "{{provider: {}, account_id: {}}} there (the file is root's, read at start)",
                               account->name, account->provider, account->id, pinned_path, account->provider,
                               account->id)});
  }
  return out;
}

}  // namespace topupd::config
