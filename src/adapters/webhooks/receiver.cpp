#include "topupd/adapters/webhooks/receiver.hpp"

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"

namespace topupd::adapters::webhooks {

using config::ProviderType;
namespace {

constexpr std::string_view kPrefix = "/webhooks/";

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "application/json; charset=utf-8" → "application/json"
std::string media_type(const std::optional<std::string>& content_type) {
  if (!content_type) return "";
  std::string_view text = *content_type;
  text = text.substr(0, text.find(';'));
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return lower(text);
}

std::string body_hash_id(std::string_view body) { return "sha256:" + crypto::hex(crypto::sha256(body)); }

bool allowed(const std::vector<core::Cidr>& list, const core::IpAddress& client) {
  return list.empty() || core::any_contains(list, client);
}

Verification verify(const Endpoint& endpoint, const Incoming& in) {
  if (endpoint.type == ProviderType::stripe) return verify_stripe(in, endpoint.secret, endpoint.tolerance);
  if (endpoint.type == ProviderType::snap) return verify_snap(in, endpoint.secret, endpoint.tolerance);
  if (endpoint.type == ProviderType::midtrans_iris) return verify_iris(in, endpoint.secret);
  if (endpoint.type == ProviderType::xendit) return verify_xendit(in, endpoint.secret);
  if (endpoint.type == ProviderType::flip) return verify_flip(in, endpoint.secret);
  GenericScheme scheme = endpoint.generic;
  scheme.tolerance = endpoint.tolerance;
  return verify_generic(in, endpoint.secret, scheme);
}

Outcome outcome_of(Verdict verdict) {
  switch (verdict) {
    case Verdict::accepted: return Outcome::accepted;
    case Verdict::bad_signature: return Outcome::bad_signature;
    case Verdict::stale: return Outcome::stale;
    case Verdict::malformed: return Outcome::malformed;
  }
  return Outcome::malformed;
}

int http_status(Outcome outcome) {
  switch (outcome) {
    case Outcome::accepted:
    case Outcome::duplicate: return 200;
    case Outcome::bad_signature:
    case Outcome::stale: return 401;
    case Outcome::forbidden_ip: return 403;
    case Outcome::too_large: return 413;
    case Outcome::malformed: return 400;
    case Outcome::not_found: return 404;
  }
  return 400;
}

std::string stripe_status(const std::string& topup_status) {
  if (topup_status == "succeeded") return "succeeded";
  if (topup_status == "failed" || topup_status == "canceled" || topup_status == "reversed") return "failed";
  if (topup_status == "pending") return "pending";
  return "";
}

std::optional<Event> stripe_event(const json::Value& body, std::string& why) {
  Event event;
  event.id = body.string_at("id").value_or("");
  event.type = body.string_at("type").value_or("");
  event.account = body.string_at("account").value_or("");  // Connect: the connected account
  if (event.id.empty() || event.type.empty()) {
    why = "a Stripe event needs an id and a type";
    return std::nullopt;
  }
  const json::Value* object = body.at_pointer("/data/object");
  if (object && object->string_at("object") == "topup") {
    event.reference = object->string_at("id").value_or("");
    event.status = stripe_status(object->string_at("status").value_or(""));
    if (const json::Value* key = object->at_pointer("/metadata/topupd_key"); key && key->is_string()) {
      event.key = key->text();
    } else if (const json::Value* request_key = body.at_pointer("/request/idempotency_key");
               request_key && request_key->is_string()) {
      event.key = request_key->text();
    }
  }
  return event;
}

std::optional<Event> snap_event(const json::Value& body, std::string& why) {
  Event event;
  event.type = "debit.notify";
  event.partner_reference = body.string_at("originalPartnerReferenceNo").value_or("");
  event.reference = body.string_at("originalReferenceNo").value_or("");
  const std::string code = body.string_at("latestTransactionStatus").value_or("");
  if ((event.partner_reference.empty() && event.reference.empty()) || code.empty()) {
    why = "a SNAP notification needs originalPartnerReferenceNo or originalReferenceNo and latestTransactionStatus";
    return std::nullopt;
  }
  // SNAP transaction status: 00 success, 01 initiated, 02 paying, 03 pending,
  // 04 refunded, 05 cancelled, 06 failed, 07 not found.
  if (code == "00") event.status = "succeeded";
  else if (code == "05" || code == "06") event.status = "failed";
  else if (code == "01" || code == "02" || code == "03") event.status = "pending";
  event.id = fmt::format("{}:{}:{}", event.partner_reference, event.reference, code);
  return event;
}

std::optional<Event> iris_event(const json::Value& body, std::string& why) {
  Event event;
  // Top-up notifications carry transaction_id and status "topup"; payouts reference_no.
  const std::string id = body.string_at("transaction_id").value_or(body.string_at("reference_no").value_or(""));
  const std::string status = body.string_at("status").value_or("");
  if (id.empty() || status.empty()) {
    why = "an Iris notification needs transaction_id or reference_no, and status";
    return std::nullopt;
  }
  event.id = id + ":" + status;
  event.type = status == "topup" ? "topup" : "payout." + status;
  event.reference = id;
  return event;
}

}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::accepted: return "accepted";
    case Outcome::duplicate: return "duplicate";
    case Outcome::bad_signature: return "bad_signature";
    case Outcome::stale: return "stale";
    case Outcome::forbidden_ip: return "forbidden_ip";
    case Outcome::too_large: return "too_large";
    case Outcome::malformed: return "malformed";
    case Outcome::not_found: return "not_found";
  }
  return "malformed";
}

const Endpoint* route(const Routes& routes, const std::string& path) {
  if (path.rfind(kPrefix, 0) == 0) {
    const std::string_view name = std::string_view(path).substr(kPrefix.size());
    for (const auto& endpoint : routes.endpoints) {
      if (endpoint.provider == name) return &endpoint;
    }
    return nullptr;
  }
  for (const auto& notify : kSnapNotifyPaths) {
    if (path != routes.snap_prefix + notify.path) continue;
    for (const auto& endpoint : routes.endpoints) {
      if (endpoint.type == ProviderType::snap) return &endpoint;
    }
  }
  return nullptr;
}

std::optional<Event> parse_event(const Endpoint& endpoint, const Incoming& in, std::string& why) {
  const ProviderType type = endpoint.type;
  if (type == ProviderType::flip) {
    // form: data=<JSON text>&token=…
    std::optional<json::Value> data;
    for (const auto& [name, value] : net::parse_form(in.body)) {
      if (name == "data") data = json::parse(value);
    }
    if (!data || !data->is_object()) {
      why = "Flip's data field is not a JSON object";
      return std::nullopt;
    }
    Event event;
    event.type = "disbursement";
    const json::Value* id = data->find("id");
    const std::string status = data->string_at("status").value_or("");
    event.id = id && (id->is_string() || id->is_number()) ? "flip:" + id->text() + ":" + status : body_hash_id(in.body);
    return event;
  }
  auto body = json::parse(in.body);
  if (!body || !body->is_object()) {
    why = "the body is not a JSON object";
    return std::nullopt;
  }
  if (type == ProviderType::stripe) return stripe_event(*body, why);
  if (type == ProviderType::snap) return snap_event(*body, why);
  if (type == ProviderType::midtrans_iris) return iris_event(*body, why);
  Event event;
  if (type == ProviderType::xendit && body->find("callback_virtual_account_id")) {
    // A fixed virtual account was paid: it names the deposit by external_id (the top-up's
    // key); repeats share the payment id.
    event.type = "virtual_account.paid";
    event.key = body->string_at("external_id").value_or("");
    event.reference = body->string_at("callback_virtual_account_id").value_or("");
    const std::string payment = body->string_at("payment_id").value_or(body->string_at("id").value_or(""));
    event.id = payment.empty() ? body_hash_id(in.body) : "fva:" + payment;
    event.payment = payment;
    event.status = "paid";
    if (const json::Value* amount = body->find("amount"); amount && (amount->is_number() || amount->is_string())) {
      event.paid = amount->text();
    }
    return event;
  }
  const json::Value* data = body->find("data");
  if (type == ProviderType::xendit && body->string_at("event").value_or("").rfind("payout.", 0) == 0 && data &&
      data->is_object()) {
    // Payouts v2: payout.succeeded | failed | reversed. It names the top-up by
    // reference_id (its key); repeats of one status share an id, a later status is news.
    event.type = *body->string_at("event");
    event.key = data->string_at("reference_id").value_or("");
    event.reference = data->string_at("id").value_or("");
    std::string status = data->string_at("status").value_or("");
    for (auto& c : status) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    event.status = status;
    if (event.reference.empty()) {
      why = "a payout callback without data.id";
      return std::nullopt;
    }
    event.id = "payout:" + event.reference + ":" + event.type;
    return event;
  }
  if (type == ProviderType::xendit && body->string_at("event").value_or("") == "qr.payment" && data &&
      data->is_object()) {
    // A QRIS code was paid: it names the deposit by reference_id (the top-up's key);
    // repeats share the payment id. SUCCEEDED (or COMPLETED) is paid; anything else is not.
    event.type = "qr.payment";
    event.key = data->string_at("reference_id").value_or("");
    event.reference = data->string_at("qr_id").value_or("");
    const std::string payment = data->string_at("id").value_or("");
    if (payment.empty()) {
      why = "a QR payment callback without data.id";
      return std::nullopt;
    }
    event.id = "qrpy:" + payment;
    const std::string status = data->string_at("status").value_or("");
    if (status == "SUCCEEDED" || status == "COMPLETED") {
      event.status = "paid";
      event.payment = payment;
      if (const json::Value* amount = data->find("amount"); amount && (amount->is_number() || amount->is_string())) {
        event.paid = amount->text();
      }
    }
    return event;
  }
  if (type == ProviderType::xendit) {
    event.type = body->string_at("event").value_or("callback");
    if (auto id = body->string_at("id")) event.id = *id;
    else if (auto header = net::find_header(in.headers, "webhook-id")) event.id = *header;
    else event.id = body_hash_id(in.body);
    return event;
  }
  event.type = "webhook";
  event.id = body_hash_id(in.body);
  if (!endpoint.event_id_pointer.empty()) {
    const json::Value* id = body->at_pointer(endpoint.event_id_pointer);
    if (!id || !(id->is_string() || id->is_number()) || id->text().empty()) {
      why = "no event id at " + endpoint.event_id_pointer;
      return std::nullopt;
    }
    event.id = id->text();
  }
  return event;
}

Delivery check_delivery(const Routes& routes, const net::ServerRequest& request, core::Timestamp now) {
  Delivery out;
  const Endpoint* first = route(routes, request.path);
  if (!first) {
    out.detail = "no webhook endpoint at this path";
    return out;
  }
  out.endpoint = first;
  for (const auto& notify : kSnapNotifyPaths) {
    if (request.path == routes.snap_prefix + notify.path) out.service_code = notify.service_code;
  }
  auto refuse = [&](Outcome outcome, std::string detail) {
    out.outcome = outcome;
    out.status = http_status(outcome);
    out.detail = std::move(detail);
    return out;
  };

  const auto peer = core::parse_ip(request.remote_address);
  if (!peer) return refuse(Outcome::forbidden_ip, "the peer address is unreadable");
  const auto client = core::client_address(*peer, request.header("X-Forwarded-For"), routes.trusted_proxies);
  if (!client) return refuse(Outcome::forbidden_ip, "a trusted proxy sent an unreadable X-Forwarded-For");
  if (!allowed(routes.allow_from, *client)) return refuse(Outcome::forbidden_ip, "client not in webhooks.allow_from");

  if (request.method != "POST") return refuse(Outcome::malformed, "only POST is accepted");
  const std::string media = media_type(request.header("Content-Type"));
  const char* expected = first->type == ProviderType::flip ? "application/x-www-form-urlencoded" : "application/json";
  if (media != expected) {
    refuse(Outcome::malformed, fmt::format("content type must be {}", expected));
    out.status = 415;
    return out;
  }

  const Incoming in{request.method, request.path, request.headers, request.body, now};
  // The standard SNAP paths are shared by every snap provider: the one whose key
  // verifies the signature (and whose allow-list admits the client) is the sender.
  const bool shared = request.path.rfind(kPrefix, 0) != 0;
  Verification verdict{Verdict::bad_signature, "no endpoint admits this client"};
  bool admitted = false;
  for (const auto& endpoint : routes.endpoints) {
    if (shared ? endpoint.type != ProviderType::snap : &endpoint != first) continue;
    if (!allowed(endpoint.allow_from, *client)) continue;
    admitted = true;
    out.endpoint = &endpoint;
    verdict = verify(endpoint, in);
    if (verdict.ok()) break;
  }
  if (!admitted) return refuse(Outcome::forbidden_ip, "client not in the provider's allow_from");
  if (!verdict.ok()) return refuse(outcome_of(verdict.verdict), verdict.detail);

  std::string why;
  auto event = parse_event(*out.endpoint, in, why);
  if (!event) return refuse(Outcome::malformed, why);
  out.event = std::move(*event);
  out.outcome = Outcome::accepted;
  out.status = 200;
  return out;
}

net::ServerResponse answer(const Delivery& delivery) {
  const int status = delivery.status;
  const Outcome outcome = delivery.outcome;
  const bool ok = status == 200;
  if (delivery.endpoint && delivery.endpoint->type == ProviderType::snap) {
    // SNAP answers carry HTTP status, service code and case: 2005600, 4015600, …
    const std::string code = fmt::format("{}{}00", status, delivery.service_code);
    const char* message = ok                ? "Successful"
                          : status == 401   ? (outcome == Outcome::stale ? "Unauthorized. [X-TIMESTAMP]"
                                                                         : "Unauthorized. [Signature]")
                          : status == 403   ? "Forbidden. [Client IP]"
                          : status == 413   ? "Bad Request. [Body too large]"
                                            : "Bad Request";
    return net::ServerResponse::json(status, json::Value::object()
                                                 .set("responseCode", json::Value::string(code))
                                                 .set("responseMessage", json::Value::string(message))
                                                 .serialize());
  }
  if (ok) return net::ServerResponse::json(200, R"({"received":true})");
  return net::ServerResponse::json(status, json::Value::object()
                                               .set("error", json::Value::string(to_string(outcome)))
                                               .serialize());
}

Delivery too_large(const Routes& routes, const std::string& path) {
  Delivery out;
  out.endpoint = route(routes, path);
  if (!out.endpoint) return out;
  for (const auto& notify : kSnapNotifyPaths) {
    if (path == routes.snap_prefix + notify.path) out.service_code = notify.service_code;
  }
  out.outcome = Outcome::too_large;
  out.status = http_status(Outcome::too_large);
  out.detail = "the body is over webhooks.max_body";
  return out;
}

Delivery duplicate_of(Delivery accepted) {
  accepted.outcome = Outcome::duplicate;
  accepted.status = 200;
  return accepted;
}

}  // namespace topupd::adapters::webhooks
