// The kinds of provider and notifier a config can name, and their spelling in YAML.
//
// Small on purpose: the webhook receiver and the adapters' factories include it
// without the whole config model.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace topupd::config {

enum class ProviderType { sandbox, stripe, xendit, snap, midtrans_iris, flip, generic_http };
enum class NotifierType { log, email, slack, telegram, webhook, alertmanager };

std::string_view to_string(ProviderType type);
std::string_view to_string(NotifierType type);
// The type a YAML `type:` names; nullopt for a name topupd does not know.
std::optional<ProviderType> provider_type_named(std::string_view name);
std::optional<NotifierType> notifier_type_named(std::string_view name);
// "sandbox, stripe, …": every name, for error messages.
std::string provider_type_names();
std::string notifier_type_names();

}  // namespace topupd::config
