// Events for the backend: ids, bodies and Standard Webhooks signatures (events.hpp).
#include "topupd/adapters/notify/events.hpp"

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/notify/message.hpp"

namespace topupd::adapters::notify {

using json::Value;

namespace {

// Minor units and the decimal string beside them: exact either way.
Value amount_json(const core::Money& money) {
  return Value::object()
      .set("minor", Value::number(static_cast<long long>(money.minor())))
      .set("value", Value::string(core::format_decimal(money)))
      .set("currency", Value::string(std::string(money.currency().code())));
}

}  // namespace

std::string event_id(const Notification& event) {
  // What the outbox keeps, hashed: the same for every delivery of this event.
  return "evt_" + crypto::hex(crypto::sha256(to_json(event))).substr(0, 32);
}

std::string event_body(const Notification& event) {
  Value data = Value::object().set("account", Value::string(event.account)).set("rule", Value::string(event.rule));
  if (event.top_up) {
    const TopUpSummary& t = *event.top_up;
    data.set("top_up", Value::object()
                           .set("key", Value::string(t.key))
                           .set("reference", t.reference.empty() ? Value() : Value::string(t.reference))
                           .set("state", Value::string(t.state))
                           .set("method", Value::string(t.method))
                           .set("amount", amount_json(t.amount)));
  }
  if (event.balance) data.set("balance", amount_json(*event.balance));
  if (event.threshold) data.set("threshold", amount_json(*event.threshold));
  data.set("reason", Value::string(event.reason));
  return Value::object()
      .set("id", Value::string(event_id(event)))
      .set("type", Value::string(event.event))
      .set("timestamp", Value::string(core::format_rfc3339(event.at)))
      .set("data", std::move(data))
      .serialize();
}

std::optional<std::string> standard_webhooks_signature(std::string_view secret, std::string_view id,
                                                       std::string_view timestamp, std::string_view body) {
  constexpr std::string_view prefix = "whsec_";
  if (secret.substr(0, prefix.size()) == prefix) secret.remove_prefix(prefix.size());
  const auto key = crypto::unbase64(secret);
  if (!key || key->empty()) return std::nullopt;
  std::string signed_content;
  signed_content.reserve(id.size() + timestamp.size() + body.size() + 2);
  signed_content.append(id).append(".").append(timestamp).append(".").append(body);
  return "v1," + crypto::base64(crypto::hmac_sha256(*key, signed_content));
}

}  // namespace topupd::adapters::notify
