// The kinds of provider, notifier and event a config can name, and their spelling in YAML.
//
// Small on purpose: the webhook receiver and the adapters' factories include it
// without the whole config model.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace topupd::config {

enum class ProviderType { sandbox, stripe, xendit, snap, midtrans_iris, flip, generic_http };
// `events` is an event subscription of the backend (`events:` in the config), not a
// notifier people name.
enum class NotifierType { log, email, slack, telegram, webhook, alertmanager, events };

std::string_view to_string(ProviderType type);
std::string_view to_string(NotifierType type);
// The type a YAML `type:` names; nullopt for a name topupd does not know.
std::optional<ProviderType> provider_type_named(std::string_view name);
std::optional<NotifierType> notifier_type_named(std::string_view name);
// "sandbox, stripe, …": every name, for error messages.
std::string provider_type_names();
std::string notifier_type_names();

// The events a backend may subscribe to (`events:`; adapters/notify/events.hpp).
inline constexpr std::array<std::string_view, 7> kEventTypes = {
    "top_up.planned", "top_up.succeeded", "top_up.failed",    "top_up.needs_attention",
    "balance.low",    "balance.recovered", "rule.suspended"};
bool is_event_type(std::string_view type);
std::string event_type_names();

}  // namespace topupd::config
