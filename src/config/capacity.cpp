// Whether each gateway's rate limit can carry the polls its accounts ask for (config.hpp).
#include <cstdint>
#include <map>

#include <fmt/format.h>

#include "topupd/config/config.hpp"

namespace topupd::config {

namespace {

// Per-second rates in thousandths, so that one account polled every 30 s counts.
std::string rate_text(std::int64_t milli) { return fmt::format("{}.{}", milli / 1000, milli % 1000 / 100); }

}  // namespace

std::vector<Diagnostic> capacity_warnings(const Config& config) {
  struct Demand {
    std::int64_t milli_per_second = 0;
    std::size_t accounts = 0;
  };
  std::map<std::string, Demand> demand;
  for (const auto& account : config.accounts) {
    const auto every = std::chrono::duration_cast<std::chrono::milliseconds>(account.poll.every).count();
    if (every <= 0) continue;  // refused by validate()
    Demand& d = demand[account.provider];
    d.milli_per_second += 1'000'000 / every;
    d.accounts += 1;
  }
  std::vector<Diagnostic> out;
  for (const auto& provider : config.providers) {
    if (!provider.type || *provider.type == ProviderType::sandbox) continue;  // no HTTP, no limit
    const auto it = demand.find(provider.name);
    if (it == demand.end()) continue;
    const std::int64_t limit = std::int64_t{provider.http.rate_per_second} * 1000;
    if (it->second.milli_per_second <= limit) continue;
    const std::string field = "providers." + provider.name + ".rate_limit.per_second";
    out.push_back({config.path, config.locations.find(field), field,
                   fmt::format("its {} {} for {} balance reads per second (each account's poll.every), more "
                               "than the {} this process may send{}: polls would queue inside topupd, start late and "
                               "fail as queued while the gateway is well, and top-ups wait behind them; poll less "
                               "often or raise rate_limit.per_second to what the gateway allows",
                               it->second.accounts, it->second.accounts == 1 ? "account asks" : "accounts ask",
                               rate_text(it->second.milli_per_second), provider.http.rate_per_second,
                               config.store_dsn.empty() ? ""
                                                        : " (counting every account: with several instances, each "
                                                          "polls only those it holds)")});
  }
  return out;
}

}  // namespace topupd::config
