// The sandbox speaking Stripe: balance, top-ups, and their look-ups. See gateway_wire.hpp.
#include "gateway_wire.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

// ---------------------------------------------------------------- Stripe

std::string Gateway::stripe_topup_json(const StripeTopUp& topup) {
  Family& f = *family("stripe");
  const auto found = f.sim->look_up_now(topup.key);
  const SandboxLedgerEntry* entry = nullptr;
  for (const auto& e : f.sim->ledger()) {
    if (e.idempotency_key == topup.key) entry = &e;
  }
  auto metadata = Value::object();
  for (const auto& [k, v] : topup.metadata) metadata.set(k, Value::string(v));
  const bool settled = found && found->status == ProviderTopUpStatus::succeeded;
  const bool declined = found && found->status == ProviderTopUpStatus::failed;
  Value body = Value::object();
  body.set("id", Value::string(topup.id))
      .set("object", Value::string("topup"))
      .set("amount", Value::number(static_cast<long long>(entry ? entry->amount.minor() : 0)))
      .set("balance_transaction", settled ? Value::string("txn_" + topup.id.substr(3)) : Value())
      .set("created", Value::number(static_cast<long long>(topup.created)))
      .set("currency", Value::string(entry ? lower(std::string(entry->amount.currency().code())) : "usd"))
      .set("description", topup.description.empty() ? Value() : Value::string(topup.description))
      .set("expected_availability_date",
           Value::number(static_cast<long long>(entry ? unix_seconds(entry->settles_at) : topup.created)))
      .set("failure_code", declined ? Value::string("bank_declined") : Value())
      .set("failure_message", declined ? Value::string(found->failure) : Value())
      .set("livemode", Value::boolean(false))
      .set("metadata", std::move(metadata))
      .set("source", topup.source.empty() ? Value() : Value::string(topup.source))
      .set("statement_descriptor", Value())
      .set("status", Value::string(settled ? "succeeded" : declined ? "failed" : "pending"))
      .set("transfer_group", Value());
  return body.serialize();
}

net::ServerResponse Gateway::stripe(Family& f, const ServerRequest& request) {
  const std::string key = f.config.setting("secret_key");
  std::string given = bearer(request);
  if (given.empty()) given = basic_user(request);
  if (given.empty() || !crypto::constant_time_equal(given, key)) {
    return stripe_error(401, "invalid_request_error",
                        given.empty() ? "You did not provide an API key." : "Invalid API Key provided.");
  }
  const std::string account = request.header("Stripe-Account").value_or(f.default_account);
  if (!f.sim->has_account(account)) {
    return stripe_error(403, "invalid_request_error", "The provided key does not have access to account '" + account + "'.",
                        "account_invalid");
  }
  if (request.method == "GET" && request.path == "/v1/balance") {
    auto available = f.sim->balance_now(account);
    if (!available) return stripe_error(500, "api_error", "An unknown error occurred.");
    const auto pending = f.sim->pending_total(account).value_or(Money(0, available->currency()));
    auto entry = [](const Money& m) {
      return Value::array().push(Value::object()
                                     .set("amount", Value::number(static_cast<long long>(m.minor())))
                                     .set("currency", Value::string(lower(std::string(m.currency().code()))))
                                     .set("source_types", Value::object().set("card", Value::number(static_cast<long long>(m.minor())))));
    };
    return json_response(200, Value::object()
                                  .set("object", Value::string("balance"))
                                  .set("available", entry(*available))
                                  .set("livemode", Value::boolean(false))
                                  .set("pending", entry(pending)));
  }
  if (request.method == "POST" && request.path == "/v1/topups") {
    auto form = net::parse_form(request.body);
    std::sort(form.begin(), form.end());
    std::string parameters = account;
    for (const auto& [k, v] : form) parameters += "&" + k + "=" + v;
    const auto idempotency_key = request.header("Idempotency-Key");
    if (idempotency_key) {
      if (auto known = stripe_keys_.find(*idempotency_key); known != stripe_keys_.end()) {
        if (known->second.parameters != parameters) {
          return stripe_error(400, "idempotency_error",
                              "Keys for idempotent requests can only be used with the same parameters they were "
                              "first used with. Try using a key other than '" + *idempotency_key +
                                  "' if you meant to execute a different request.");
        }
        ServerResponse replay = ServerResponse::json(known->second.status, known->second.body);
        replay.headers.emplace_back("Idempotent-Replayed", "true");
        replay.headers.emplace_back("Idempotency-Key", *idempotency_key);
        return replay;
      }
    }
    std::string amount_text, currency_text, description, source;
    StripeTopUp topup;
    for (const auto& [k, v] : form) {
      if (k == "amount") amount_text = v;
      else if (k == "currency") currency_text = v;
      else if (k == "description") topup.description = v;
      else if (k == "source") topup.source = v;
      else if (k.rfind("metadata[", 0) == 0 && k.back() == ']') topup.metadata.emplace_back(k.substr(9, k.size() - 10), v);
    }
    auto balance = f.sim->balance_now(account);
    if (!balance) return stripe_error(500, "api_error", "An unknown error occurred.");
    const auto currency = core::Currency::find(upper(currency_text));
    if (amount_text.empty() || amount_text.size() > 15 || amount_text.find_first_not_of("0123456789") != std::string::npos ||
        amount_text == "0") {
      return stripe_error(400, "invalid_request_error", "Invalid positive integer", "parameter_invalid_integer");
    }
    if (!currency || !(*currency == balance->currency())) {
      return stripe_error(400, "invalid_request_error", "Invalid currency: " + currency_text, "parameter_invalid_string");
    }
    ++sequence_;
    topup.id = fmt::format("tu_sbx{:08}", sequence_);
    topup.account = account;
    topup.key = "stripe:" + (idempotency_key ? *idempotency_key : topup.id);
    topup.created = unix_seconds(clock_.now());
    const TopUpRequest movement{topup.key, core::TopUpMethod::direct_debit, account, topup.source,
                                Money(std::stoll(amount_text), *currency)};
    auto receipt = f.sim->submit_now(movement);
    if (!receipt) return stripe_error(400, "invalid_request_error", receipt.error().message);
    stripe_topups_[topup.id] = topup;
    const std::string body = stripe_topup_json(topup);
    if (idempotency_key) stripe_keys_[*idempotency_key] = StoredResponse{parameters, 200, body};
    ServerResponse created = ServerResponse::json(200, body);
    if (idempotency_key) created.headers.emplace_back("Idempotency-Key", *idempotency_key);
    return created;
  }
  if (request.method == "GET" && request.path.rfind("/v1/topups/", 0) == 0) {
    auto it = stripe_topups_.find(request.path.substr(11));
    if (it == stripe_topups_.end() || it->second.account != account) {
      return stripe_error(404, "invalid_request_error", "No such topup: '" + request.path.substr(11) + "'",
                          "resource_missing");
    }
    return ServerResponse::json(200, stripe_topup_json(it->second));
  }
  if (request.method == "GET" && request.path == "/v1/topups") {
    const std::string since_text = query_param(request.query, "created[gte]");
    const std::int64_t since = since_text.empty() || since_text.size() > 12 ||
                                       since_text.find_first_not_of("0123456789") != std::string::npos
                                   ? 0
                                   : std::stoll(since_text);
    std::string data;
    for (auto it = stripe_topups_.rbegin(); it != stripe_topups_.rend(); ++it) {
      if (it->second.account != account || it->second.created < since) continue;
      data += (data.empty() ? "" : ",") + stripe_topup_json(it->second);
    }
    return ServerResponse::json(200, "{\"object\":\"list\",\"data\":[" + data +
                                         "],\"has_more\":false,\"url\":\"/v1/topups\"}");
  }
  return stripe_error(404, "invalid_request_error", "Unrecognized request URL (" + request.method + ": " + request.path + ").");
}

}  // namespace topupd::adapters::sandbox
