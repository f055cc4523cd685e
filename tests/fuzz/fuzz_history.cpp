// Fuzzes the CSV files `topupd simulate` reads (src/app/history_csv.cpp): the balance
// history and the demands. Any input yields rows or a FILE:LINE message, never a crash;
// rows come in time order, only for configured accounts and in their currency; a file
// with an error yields nothing.
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "history_csv.hpp"

namespace {

const topupd::config::Config& config() {
  static const topupd::config::Config loaded = [] {
    topupd::config::SecretSources secrets;
    secrets.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    secrets.read_file = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    auto result = topupd::config::load_string(R"(providers: {sim: {type: sandbox, accounts: {payout: {balance: IDR 1}, usd: {balance: USD 1}}}}
accounts:
  payout: {provider: sim, currency: IDR}
  usd: {provider: sim, currency: USD}
)",
                                              "fuzz.yaml", secrets);
    if (!result.config) std::abort();
    return *result.config;
  }();
  return loaded;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The first byte picks the file; the rest is its text.
  const bool demands = size > 0 && (data[0] & 1);
  std::istringstream in(size > 0 ? text.substr(1) : text);
  if (!demands) {
    const auto history = topupd::app::read_history(in, "h.csv", config());
    if (!history.error.empty()) {
      if (!history.rows.empty() || history.error.rfind("h.csv:", 0) != 0) std::abort();
      return 0;
    }
    for (std::size_t i = 0; i < history.rows.size(); ++i) {
      const auto& row = history.rows[i];
      const auto* account = config().find_account(row.account);
      if (!account || row.balance.currency() != account->currency) std::abort();
      if (i > 0 && row.at < history.rows[i - 1].at) std::abort();
    }
    return 0;
  }
  const auto read = topupd::app::read_demands(in, "d.csv", config());
  if (!read.error.empty()) {
    if (read.error.rfind("d.csv:", 0) != 0) std::abort();
    return 0;
  }
  for (const auto& [account, due] : read.by_account) {
    const auto* configured = config().find_account(account);
    if (!configured) std::abort();
    for (const auto& demand : due) {
      if (!demand.amount.is_positive() || demand.amount.currency() != configured->currency) std::abort();
    }
  }
  return 0;
}
