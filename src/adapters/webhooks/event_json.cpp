// An accepted webhook event as JSON, for the inbox that several instances share
// (receiver.hpp, `event_to_json`): every field, as text.
#include <array>
#include <utility>

#include "topupd/adapters/json.hpp"
#include "topupd/adapters/webhooks/receiver.hpp"

namespace topupd::adapters::webhooks {
namespace {

// The fields by name, in one place for both directions.
std::array<std::pair<const char*, std::string Event::*>, 9> fields() {
  return {{{"id", &Event::id},
           {"type", &Event::type},
           {"key", &Event::key},
           {"reference", &Event::reference},
           {"partner_reference", &Event::partner_reference},
           {"account", &Event::account},
           {"status", &Event::status},
           {"paid", &Event::paid},
           {"payment", &Event::payment}}};
}

}  // namespace

std::string event_to_json(const Event& event) {
  json::Value out = json::Value::object();
  for (const auto& [name, member] : fields()) out.set(name, json::Value::string(event.*member));
  return out.serialize();
}

std::optional<Event> event_from_json(std::string_view text) {
  const auto document = json::parse(text);
  if (!document || !document->is_object()) return std::nullopt;
  Event event;
  for (const auto& [name, member] : fields()) {
    auto value = document->string_at(name);
    if (!value) return std::nullopt;
    event.*member = std::move(*value);
  }
  if (event.id.empty()) return std::nullopt;
  return event;
}

}  // namespace topupd::adapters::webhooks
