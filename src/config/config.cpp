#include <fmt/format.h>

#include "topupd/config/config.hpp"

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

bool ProviderConfig::same_settings(const ProviderConfig& other) const {
  if (type != other.type || settle_after != other.settle_after || seed != other.seed ||
      lose_answers_percent != other.lose_answers_percent ||
      fail_before_apply_percent != other.fail_before_apply_percent || accounts.size() != other.accounts.size()) {
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

const ProviderConfig* Config::find_provider(const std::string& name) const {
  for (const auto& provider : providers) {
    if (provider.name == name) return &provider;
  }
  return nullptr;
}

const AccountConfig* Config::find_account(const std::string& name) const {
  for (const auto& account : accounts) {
    if (account.name == name) return &account;
  }
  return nullptr;
}

const NotifierConfig* Config::find_notifier(const std::string& name) const {
  for (const auto& notifier : notifiers) {
    if (notifier.name == name) return &notifier;
  }
  return nullptr;
}

}  // namespace topupd::config
