// Destinations pinned outside the config: where topupd may send money at all.
//
// A separate file — `destinations:` in the config, default
// /etc/topupd/destinations.yaml, owned by root and not writable by the service — lists
// the accounts money may go to, by provider and the account's id there:
//
//   accounts:
//     - {provider: xendit, account_id: xendit-cash}
//
// It is read once, at start; a reload keeps the set read then. A rule whose top-up
// would send money to an account not listed is refused by `topupd check`, at start and
// at reload (the old config stays), so whoever can edit the config cannot send money
// elsewhere. Without the file, and without the key, nothing is pinned.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "topupd/config/config.hpp"

namespace topupd::config {

inline constexpr const char* kDefaultDestinationsPath = "/etc/topupd/destinations.yaml";

struct PinnedDestination {
  std::string provider;    // a provider's name in the config
  std::string account_id;  // the account's id at that provider
  bool operator==(const PinnedDestination&) const = default;
};

struct DestinationsLoadResult {
  std::optional<std::vector<PinnedDestination>> accounts;  // set when the file is valid
  std::vector<Diagnostic> diagnostics;                     // FILE:LINE:COL problems otherwise
};
DestinationsLoadResult load_destinations_string(const std::string& text, const std::string& path);

// Every rule whose top-up would send money to an account that `pinned` (read from
// `pinned_path`) does not list, as a problem at the rule's `account` in `config`'s file.
std::vector<Diagnostic> check_destinations(const Config& config, const std::vector<PinnedDestination>& pinned,
                                           const std::string& pinned_path);

}  // namespace topupd::config
