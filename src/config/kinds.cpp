// Provider and notifier types and their YAML names (kinds.hpp).
#include "topupd/config/kinds.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace topupd::config {

namespace {

constexpr std::array<std::pair<ProviderType, std::string_view>, 7> kProviders = {{
    {ProviderType::sandbox, "sandbox"},
    {ProviderType::stripe, "stripe"},
    {ProviderType::xendit, "xendit"},
    {ProviderType::snap, "snap"},
    {ProviderType::midtrans_iris, "midtrans_iris"},
    {ProviderType::flip, "flip"},
    {ProviderType::generic_http, "generic_http"},
}};

constexpr std::array<std::pair<NotifierType, std::string_view>, 7> kNotifiers = {{
    {NotifierType::log, "log"},
    {NotifierType::email, "email"},
    {NotifierType::slack, "slack"},
    {NotifierType::telegram, "telegram"},
    {NotifierType::webhook, "webhook"},
    {NotifierType::alertmanager, "alertmanager"},
    {NotifierType::events, "events"},
}};

template <typename Table, typename Type>
std::string_view name_in(const Table& table, Type type) {
  for (const auto& [value, name] : table) {
    if (value == type) return name;
  }
  return "?";
}

template <typename Table>
auto named_in(const Table& table, std::string_view name) -> std::optional<typename Table::value_type::first_type> {
  for (const auto& [value, text] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

template <typename Table>
std::string names_in(const Table& table) {
  std::string out;
  for (const auto& [value, name] : table) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace

std::string_view to_string(ProviderType type) { return name_in(kProviders, type); }
std::string_view to_string(NotifierType type) { return name_in(kNotifiers, type); }
std::optional<ProviderType> provider_type_named(std::string_view name) { return named_in(kProviders, name); }
std::optional<NotifierType> notifier_type_named(std::string_view name) { return named_in(kNotifiers, name); }

bool is_event_type(std::string_view type) {
  return std::find(kEventTypes.begin(), kEventTypes.end(), type) != kEventTypes.end();
}

std::string event_type_names() {
  std::string out;
  for (const auto type : kEventTypes) out += (out.empty() ? "" : ", ") + std::string(type);
  return out;
}
std::string provider_type_names() { return names_in(kProviders); }
std::string notifier_type_names() { return names_in(kNotifiers); }

}  // namespace topupd::config
