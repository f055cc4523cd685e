#include <fmt/format.h>

#include "topupd/config/config.hpp"
#include "topupd/core/money.hpp"

namespace topupd::config {

const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off", nullptr};

std::string Diagnostic::to_string() const {
  std::string out = file;
  if (at.line > 0) out += fmt::format(":{}:{}", at.line, at.column);
  out += ": ";
  if (!field.empty()) out += field + ": ";
  out += message;
  return out;
}

SourceLocation SourceMap::find(const std::string& field) const {
  std::string path = field;
  while (!path.empty()) {
    auto it = locations_.find(path);
    if (it != locations_.end()) return it->second;
    const auto cut = path.find_last_of(".[");
    if (cut == std::string::npos) break;
    path.resize(cut);
  }
  return {};
}

const SandboxAccountConfig* ProviderConfig::find_sandbox_account(const std::string& id) const {
  for (const auto& account : accounts) {
    if (account.id == id) return &account;
  }
  return nullptr;
}

bool ProviderConfig::can_move_money() const {
  return type == ProviderType::sandbox || type == ProviderType::stripe || type == ProviderType::snap ||
         (type == ProviderType::generic_http && generic.top_up.enabled);
}

std::string SandboxGatewayConfig::setting(const std::string& key) const {
  auto it = settings.find(key);
  return it == settings.end() ? "" : it->second;
}

const SandboxGatewayConfig* SandboxServerConfig::find(const std::string& type) const {
  for (const auto& gateway : gateways) {
    if (gateway.type == type) return &gateway;
  }
  return nullptr;
}

bool ProviderConfig::same_settings(const ProviderConfig& other) const {
  if (!(http == other.http) || api_key != other.api_key || !(snap == other.snap) || !(generic == other.generic)) {
    return false;
  }
  if (type != other.type || settle_after != other.settle_after || seed != other.seed ||
      lose_answers_percent != other.lose_answers_percent ||
      fail_before_apply_percent != other.fail_before_apply_percent || decline_percent != other.decline_percent ||
      phantom_percent != other.phantom_percent || decline_from != other.decline_from ||
      pay_tickets_after != other.pay_tickets_after ||
      accounts.size() != other.accounts.size()) {
    return false;
  }
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const auto& a = accounts[i];
    const auto& b = other.accounts[i];
    if (a.id != b.id || !(a.opening_balance.currency() == b.opening_balance.currency()) ||
        a.opening_balance.minor() != b.opening_balance.minor() ||
        a.drain_per_minute.minor() != b.drain_per_minute.minor() ||
        a.inflow_per_minute.minor() != b.inflow_per_minute.minor() ||
        a.noise_percent != b.noise_percent || a.fail_percent != b.fail_percent) {
      return false;
    }
  }
  return true;
}

SandboxServerConfig default_sandbox_config() {
  auto money = [](const char* text) { return *core::parse_money(text).value; };
  auto gateway = [](std::string type, std::map<std::string, std::string> settings) {
    SandboxGatewayConfig g;
    g.type = type;
    g.settings = std::move(settings);
    g.simulation.name = type;
    g.simulation.type = ProviderType::sandbox;
    g.simulation.settle_after = std::chrono::seconds(5);
    return g;
  };
  auto account = [&](const char* id, const char* balance, const char* drain) {
    const auto opening = money(balance);
    return SandboxAccountConfig{id, opening, money(drain), core::Money(0, opening.currency()), 10, 0};
  };
  SandboxServerConfig out;
  auto stripe = gateway("stripe", {{"secret_key", "sk_test_sandbox"}, {"webhook_secret", "whsec_sandbox"}});
  stripe.simulation.accounts = {account("acct_payouts", "USD 5_000", "USD 200")};
  auto xendit = gateway("xendit", {{"secret_key", "xnd_development_sandbox"}, {"callback_token", "xendit-sandbox-token"}});
  xendit.simulation.accounts = {account("master", "IDR 50_000_000", "IDR 1_000_000")};
  auto iris = gateway("midtrans_iris", {{"api_key", "IRIS-sandbox"}, {"merchant_key", "iris-merchant-sandbox"}});
  iris.simulation.accounts = {account("aggregator", "IDR 80_000_000", "IDR 1_500_000")};
  auto flip = gateway("flip", {{"secret_key", "flip-sandbox-secret"}, {"validation_token", "flip-sandbox-token"}});
  flip.simulation.accounts = {account("main", "IDR 30_000_000", "IDR 500_000")};
  auto generic = gateway("generic", {{"token", "generic-sandbox-token"}});
  generic.simulation.accounts = {account("wallet", "IDR 10_000_000", "IDR 100_000")};
  // A flaky API: one balance read in five fails, so a demo shows what topupd does then.
  generic.simulation.accounts.front().fail_percent = 20;
  out.gateways = {stripe, xendit, iris, flip, generic};
  return out;
}

const ProviderConfig* Config::find_provider(const std::string& name) const {
  for (const auto& provider : providers) {
    if (provider.name == name) return &provider;
  }
  return nullptr;
}

const AccountConfig* Config::find_account(const std::string& name) const {
  if (const auto it = account_index.find(name);
      it != account_index.end() && it->second < accounts.size() && accounts[it->second].name == name) {
    return &accounts[it->second];
  }
  for (const auto& account : accounts) {
    if (account.name == name) return &account;
  }
  return nullptr;
}

void Config::index_accounts() {
  account_index.clear();
  account_index.reserve(accounts.size());
  for (std::size_t i = 0; i < accounts.size(); ++i) account_index.emplace(accounts[i].name, i);
}

const NotifierConfig* Config::find_notifier(const std::string& name) const {
  for (const auto& notifier : notifiers) {
    if (notifier.name == name) return &notifier;
  }
  return nullptr;
}

}  // namespace topupd::config
