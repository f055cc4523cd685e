// Destinations pinned outside the config: where topupd may send money at all.
//
// A separate file — `destinations:` in the config, default
// /etc/topupd/destinations.yaml, owned by root and not writable by the service — lists
// the accounts money may go to, by provider and the account's id there, and for
// deposits the bank accounts they may pay and the virtual-account prefixes a ticket's
// number must start with:
//
//   accounts:
//     - {provider: xendit, account_id: xendit-cash}
//   bank_accounts:
//     - {bank: "014", account_no: "7770001234"}
//   virtual_accounts:
//     - {bank: BNI, prefix: "8808"}
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

// A bank account a deposit may pay (a gateway's static top-up account).
struct PinnedBankAccount {
  std::string bank;  // Bank Indonesia's code; a name in the file ("BCA") is kept as its code
  std::string account_no;
  bool operator==(const PinnedBankAccount&) const = default;
};

// The virtual accounts a ticket may be: at this bank, numbered from this prefix.
struct PinnedVirtualAccounts {
  std::string bank;  // Bank Indonesia's code, as above
  std::string prefix;
  bool operator==(const PinnedVirtualAccounts&) const = default;
};

struct Pins {
  std::vector<PinnedDestination> accounts;
  std::vector<PinnedBankAccount> bank_accounts{};
  std::vector<PinnedVirtualAccounts> virtual_accounts{};

  bool allows_account(const std::string& provider, const std::string& account_id) const;
  // A deposit's destination, by the bank (a name or a code) and the account number.
  bool allows_bank_account(const std::string& bank, const std::string& account_no) const;
  bool allows_virtual_account(const std::string& bank, const std::string& account_no) const;
  bool lists_virtual_accounts_at(const std::string& bank) const;
};

struct DestinationsLoadResult {
  std::optional<Pins> pins;             // set when the file is valid
  std::vector<Diagnostic> diagnostics;  // FILE:LINE:COL problems otherwise
};
DestinationsLoadResult load_destinations_string(const std::string& text, const std::string& path);

// Every rule whose top-up would send money to an account that `pins` (read from
// `pinned_path`) does not list, as a problem at the rule's `account` (or its deposit's
// `to`) in `config`'s file. A deposit's static account must be listed; a deposit to a
// ticket needs virtual-account prefixes at the ticket's bank (its number is checked
// against them when it is issued).
std::vector<Diagnostic> check_destinations(const Config& config, const Pins& pins, const std::string& pinned_path);

}  // namespace topupd::config
