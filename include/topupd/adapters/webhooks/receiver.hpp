// The webhook receiver's decisions, free of sockets and of the store.
//
// `check_delivery` takes one HTTP request as received and decides, in this order:
// which configured endpoint it is for (`/webhooks/{provider}`, or for `snap`
// providers also the standard SNAP notification path under an optional prefix),
// whether the client may send it (the global and the provider's allow-lists, with
// X-Forwarded-For honoured only from trusted proxies), whether it is a POST of the
// right content type, whether its signature verifies (constant-time, with the
// provider's tolerance), and what the verified body says (`Event`). Only an
// `accepted` delivery carries an event; nothing here changes any state. The caller
// persists the event id (a second delivery of the same id is a `duplicate`),
// answers with `answer(...)` and then acts on the event.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "topupd/config/kinds.hpp"
#include "topupd/core/ip_network.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/webhooks/verify.hpp"

namespace topupd::adapters::webhooks {

// `topupd_webhooks_total{outcome}`; not_found is a path no endpoint serves.
enum class Outcome { accepted, duplicate, bad_signature, stale, forbidden_ip, too_large, malformed, not_found };
const char* to_string(Outcome outcome);

struct Endpoint {
  std::string provider;  // the provider's name in the config: the route is /webhooks/{provider}
  config::ProviderType type = config::ProviderType::generic_http;  // the wire format
  // stripe: the endpoint secret (whsec_…); snap: the sender's PEM public key;
  // midtrans_iris: the merchant key; xendit: the callback token; flip: the validation
  // token; generic_http: the HMAC-SHA512 secret.
  std::string secret;
  core::Duration tolerance{std::chrono::minutes(5)};  // stripe, snap, generic_http with a timestamp
  GenericScheme generic;                               // generic_http
  std::string event_id_pointer;  // generic_http: JSON Pointer to the event id; empty: a hash of the body
  std::vector<core::Cidr> allow_from;  // empty: only the global list applies
};

struct Routes {
  std::vector<Endpoint> endpoints;
  std::vector<core::Cidr> allow_from;       // empty: any client
  std::vector<core::Cidr> trusted_proxies;  // whose X-Forwarded-For is believed
  std::string snap_prefix;                 // before the standard SNAP paths, e.g. "/snap"
};

// The standard SNAP notification paths served for every snap endpoint (under
// `snap_prefix`), each with the SNAP service code its answers carry.
struct SnapNotifyPath {
  const char* path;
  const char* service_code;
};
inline constexpr SnapNotifyPath kSnapNotifyPaths[] = {{"/v1.0/debit/notify", "56"}};

// What a verified delivery says. Fields the body does not carry stay empty.
struct Event {
  std::string id;                 // the identity duplicates share
  std::string type;               // e.g. topup.succeeded, debit.notify, balance.credited
  std::string key;                // our idempotency key, when the event carries it
  std::string reference;          // the gateway's id of the movement
  std::string partner_reference;  // SNAP originalPartnerReferenceNo
  std::string account;            // the gateway's id of the account concerned, when named
  std::string status;             // succeeded | failed | pending; empty: not about a top-up
  std::string paid{};             // a deposit's destination was paid this much (a decimal, major units)
  std::string payment{};          // and the gateway's id of that payment
};

// An accepted event as JSON and back, for the inbox several instances share
// (event_json.cpp); nullopt for text that is not one.
std::string event_to_json(const Event& event);
std::optional<Event> event_from_json(std::string_view text);

struct Delivery {
  Outcome outcome = Outcome::not_found;
  const Endpoint* endpoint = nullptr;  // set unless not_found
  std::string service_code = "56";     // snap: the code answers carry
  int status = 404;                    // the HTTP status to answer with
  std::string detail;                  // for logs: never a secret or an expected MAC
  Event event;                         // accepted only
};

Delivery check_delivery(const Routes& routes, const net::ServerRequest& request, core::Timestamp now);

// Reads the event out of a body whose signature verified. nullopt (with `why`) when
// the body lacks what identifies the event.
std::optional<Event> parse_event(const Endpoint& endpoint, const Incoming& in, std::string& why);

// The response the sender expects (SNAP: responseCode 2005600 on success, 4015600 for
// a bad signature); refusals never say more than the outcome.
net::ServerResponse answer(const Delivery& delivery);

// The endpoint a path is for (the first snap endpoint for a standard SNAP path), or nullptr.
const Endpoint* route(const Routes& routes, const std::string& path);
// A request whose body was over the limit (the server never read it).
Delivery too_large(const Routes& routes, const std::string& path);
// The same delivery, seen before: answered like an accepted one.
Delivery duplicate_of(Delivery accepted);

}  // namespace topupd::adapters::webhooks
