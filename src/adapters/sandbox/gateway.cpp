#include "topupd/adapters/sandbox/gateway.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"

namespace topupd::adapters::sandbox {

using core::Money;
using json::Value;
using net::ServerRequest;
using net::ServerResponse;

namespace {

// "12345.67" (or "12345" with decimals 0) from minor units, with the currency's exponent.
std::string decimal_text(const Money& money, int decimals) {
  const int exponent = money.currency().exponent();
  const std::int64_t per = money.currency().minor_per_major();
  const bool negative = money.minor() < 0;
  const std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(money.minor())
                                           : static_cast<std::uint64_t>(money.minor());
  const std::uint64_t major = magnitude / static_cast<std::uint64_t>(per);
  std::uint64_t fraction = magnitude % static_cast<std::uint64_t>(per);
  std::string out = (negative ? "-" : "") + std::to_string(major);
  if (decimals > 0) {
    std::string digits = exponent > 0 ? fmt::format("{:0{}}", fraction, exponent) : "";
    digits.resize(static_cast<std::size_t>(decimals), '0');
    out += "." + digits;
  }
  return out;
}

ServerResponse json_response(int status, const Value& body) { return ServerResponse::json(status, body.serialize()); }

Value money_json(const Money& money) {
  return Value::object()
      .set("value", Value::string(decimal_text(money, 2)))
      .set("currency", Value::string(std::string(money.currency().code())));
}

std::string basic_user(const ServerRequest& request) {
  auto header = request.header("Authorization");
  if (!header || header->rfind("Basic ", 0) != 0) return "";
  auto decoded = crypto::unbase64(header->substr(6));
  if (!decoded) return "";
  return decoded->substr(0, decoded->find(':'));
}

std::string bearer(const ServerRequest& request) {
  auto header = request.header("Authorization");
  if (!header || header->rfind("Bearer ", 0) != 0) return "";
  return header->substr(7);
}

std::string query_param(const std::string& query, const std::string& name) {
  for (const auto& [key, value] : net::parse_form(query)) {
    if (key == name) return value;
  }
  return "";
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::int64_t unix_seconds(core::Timestamp at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

// Stripe's webhook signature: HMAC-SHA256 of "<t>.<body>" in Stripe-Signature.
void sign_stripe(net::Request& hook, const std::string& secret, core::Timestamp now) {
  const std::string t = std::to_string(unix_seconds(now));
  const std::string signature = crypto::hex(crypto::hmac_sha256(secret, t + "." + hook.body));
  hook.headers.emplace_back("Stripe-Signature", "t=" + t + ",v1=" + signature);
}

// SNAP's X-TIMESTAMP, as banks send it: local time with the offset.
std::string snap_timestamp(core::Timestamp at) {
  const auto local = at + std::chrono::hours(7);
  const auto days = std::chrono::floor<std::chrono::days>(local);
  const std::chrono::year_month_day date(days);
  const std::chrono::hh_mm_ss time(std::chrono::floor<std::chrono::seconds>(local - days));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+07:00", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count());
}

ServerResponse snap_error(int http, const std::string& service, const std::string& code_case, std::string message) {
  return json_response(http, Value::object()
                                 .set("responseCode", Value::string(fmt::format("{}{}{}", http, service, code_case)))
                                 .set("responseMessage", Value::string(std::move(message))));
}

ServerResponse stripe_error(int status, const std::string& type, const std::string& message,
                            const std::string& code = "") {
  auto error = Value::object().set("type", Value::string(type)).set("message", Value::string(message));
  if (!code.empty()) error.set("code", Value::string(code));
  return json_response(status, Value::object().set("error", std::move(error)));
}

}  // namespace

bool Fault::affects_requests() const {
  return remaining != 0 && (latency.count() > 0 || status != 0 || malformed || reset || hang);
}

struct Gateway::Family {
  config::SandboxGatewayConfig config;
  std::unique_ptr<SandboxProvider> sim;
  Fault fault;
  std::string default_account;
};

struct Gateway::StripeTopUp {
  std::string id;
  std::string account;
  std::string key;  // the sandbox ledger key
  std::string description;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string source;
  std::int64_t created = 0;
};

struct Gateway::SnapTransaction {
  std::string service;  // "54" debit, "17" intrabank transfer
  std::string key;      // the sandbox ledger key
  std::string external_id;
};

struct Gateway::StoredResponse {
  std::string parameters;
  int status = 200;
  std::string body;
};

Gateway::Gateway(const config::SandboxServerConfig& config, const core::Clock& clock) : clock_(clock) {
  for (const auto& gateway : config.gateways) {
    auto f = std::make_unique<Family>();
    f->config = gateway;
    f->sim = std::make_unique<SandboxProvider>(gateway.simulation, clock_);
    if (!gateway.simulation.accounts.empty()) f->default_account = gateway.simulation.accounts.front().id;
    families_[gateway.type] = std::move(f);
  }
}

Gateway::~Gateway() = default;

Gateway::Family* Gateway::family(const std::string& type) {
  auto it = families_.find(type);
  return it == families_.end() ? nullptr : it->second.get();
}

bool Gateway::draw(int percent) { return percent >= 100 || (percent > 0 && static_cast<int>(random_() % 100) < percent); }

net::ServerResponse Gateway::handle(const ServerRequest& request) {
  if (request.path.rfind("/_sandbox/", 0) == 0) return control(request);
  // Which wire format the path belongs to decides the fault that applies.
  std::string type;
  const std::string& p = request.path;
  if (p.rfind("/v1/", 0) == 0) type = "stripe";
  else if (p == "/balance") type = "xendit";
  else if (p.rfind("/iris/", 0) == 0) type = "midtrans_iris";
  else if (p.rfind("/v2/general/", 0) == 0 || p.rfind("/v3/general/", 0) == 0) type = "flip";
  else if (p.rfind("/generic/", 0) == 0) type = "generic";
  else if (p.find("/v1.0/") != std::string::npos) type = "snap";
  Family* f = type.empty() ? nullptr : family(type);
  if (!f) return json_response(404, Value::object().set("error", Value::string("no such endpoint in the sandbox")));
  Fault& fault = f->fault;
  const bool hit = fault.affects_requests() && draw(fault.rate_percent);
  if (hit && fault.remaining > 0) --fault.remaining;
  auto misbehave = [&](ServerResponse response) {
    response.delay = fault.latency;
    if (fault.reset) response.action = ServerResponse::Action::reset;
    else if (fault.hang) response.action = ServerResponse::Action::hang;
    else if (fault.malformed) response = ServerResponse{200, {{"Content-Type", "application/json"}}, "<html>Bad Gateway", fault.latency};
    else if (fault.status != 0) {
      response = json_response(fault.status, Value::object().set("error", Value::string("sandbox fault")));
      response.delay = fault.latency;
    }
    return response;
  };
  if (hit && !fault.after_apply) return misbehave(ServerResponse{});
  ServerResponse response = dispatch(request);
  if (hit) return misbehave(std::move(response));
  return response;
}

net::ServerResponse Gateway::dispatch(const ServerRequest& request) {
  const std::string& p = request.path;
  if (p.rfind("/v1/", 0) == 0) return stripe(*family("stripe"), request);
  if (p == "/balance") return xendit(*family("xendit"), request);
  if (p.rfind("/iris/", 0) == 0) return iris(*family("midtrans_iris"), request);
  if (p.rfind("/v2/general/", 0) == 0 || p.rfind("/v3/general/", 0) == 0) return flip(*family("flip"), request);
  if (p.rfind("/generic/", 0) == 0) return generic(*family("generic"), request);
  Family& f = *family("snap");
  const std::string prefix = f.config.setting("path_prefix");
  if (p.rfind(prefix + "/v1.0/", 0) != 0) {
    return snap_error(404, "00", "00", "Not Found");
  }
  return snap(f, request, p.substr(prefix.size() + 6));
}

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

// ---------------------------------------------------------------- Xendit, Iris, Flip, generic

net::ServerResponse Gateway::xendit(Family& f, const ServerRequest& request) {
  const std::string user = basic_user(request);
  if (user.empty() || !crypto::constant_time_equal(user, f.config.setting("secret_key"))) {
    return json_response(401, Value::object()
                                  .set("error_code", Value::string("INVALID_API_KEY"))
                                  .set("message", Value::string("API key is not authorized for this API service")));
  }
  const std::string account_type = upper(query_param(request.query, "account_type"));
  if (!account_type.empty() && account_type != "CASH" && account_type != "HOLDING" && account_type != "TAX") {
    return json_response(400, Value::object()
                                  .set("error_code", Value::string("API_VALIDATION_ERROR"))
                                  .set("message", Value::string("account_type must be one of CASH, HOLDING, TAX")));
  }
  std::string account = request.header("for-user-id").value_or(f.default_account);
  if (account_type == "HOLDING" || account_type == "TAX") account += "." + lower(account_type);
  if (!f.sim->has_account(account)) {
    if (account.find('.') != std::string::npos) return json_response(200, Value::object().set("balance", Value::number(0LL)));
    return json_response(404, Value::object()
                                  .set("error_code", Value::string("SUB_ACCOUNT_NOT_FOUND"))
                                  .set("message", Value::string("The for-user-id was not found")));
  }
  auto balance = f.sim->balance_now(account);
  if (!balance) return json_response(503, Value::object().set("error_code", Value::string("SERVER_ERROR")));
  const bool whole = balance->minor() % balance->currency().minor_per_major() == 0;
  return json_response(200, Value::object().set("balance", Value::number(decimal_text(*balance, whole ? 0 : 2))));
}

net::ServerResponse Gateway::iris(Family& f, const ServerRequest& request) {
  const std::string user = basic_user(request);
  if (user.empty() || !crypto::constant_time_equal(user, f.config.setting("api_key"))) {
    return json_response(401, Value::object().set("error_message", Value::string("Unauthorized")));
  }
  std::string account;
  if (request.path == "/iris/api/v1/balance") {
    account = f.default_account;
  } else if (request.path.rfind("/iris/api/v1/bank_accounts/", 0) == 0 && request.path.size() > 35 &&
             request.path.substr(request.path.size() - 8) == "/balance") {
    account = request.path.substr(27, request.path.size() - 27 - 8);
  } else {
    return json_response(404, Value::object().set("error_message", Value::string("Not Found")));
  }
  auto balance = f.sim->balance_now(account);
  if (!balance) {
    return json_response(balance.error().reason == "unknown_account" ? 404 : 500,
                         Value::object().set("error_message", Value::string(balance.error().message)));
  }
  return json_response(200, Value::object().set("balance", Value::string(decimal_text(*balance, 2))));
}

net::ServerResponse Gateway::flip(Family& f, const ServerRequest& request) {
  const std::string user = basic_user(request);
  if (user.empty() || !crypto::constant_time_equal(user, f.config.setting("secret_key"))) {
    return json_response(401, Value::object()
                                  .set("code", Value::string("UNAUTHORIZED"))
                                  .set("errors", Value::array().push(Value::object().set("message", Value::string("Invalid secret key")))));
  }
  if (!request.path.ends_with("/general/balance")) {
    return json_response(404, Value::object().set("code", Value::string("NOT_FOUND")));
  }
  auto balance = f.sim->balance_now(f.default_account);
  if (!balance) return json_response(500, Value::object().set("code", Value::string("INTERNAL_SERVER_ERROR")));
  return json_response(200, Value::object().set("balance", Value::number(decimal_text(*balance, 0))));
}

net::ServerResponse Gateway::generic(Family& f, const ServerRequest& request) {
  const std::string token = bearer(request);
  if (token.empty() || !crypto::constant_time_equal(token, f.config.setting("token"))) {
    return json_response(401, Value::object().set("error", Value::string("unauthorized")));
  }
  // /generic/accounts/{id}/balance
  const std::string prefix = "/generic/accounts/";
  if (request.path.rfind(prefix, 0) != 0 || !request.path.ends_with("/balance")) {
    return json_response(404, Value::object().set("error", Value::string("not found")));
  }
  const std::string account = request.path.substr(prefix.size(), request.path.size() - prefix.size() - 8);
  auto balance = f.sim->balance_now(account);
  if (!balance) {
    return json_response(balance.error().reason == "unknown_account" ? 404 : 503,
                         Value::object().set("error", Value::string(balance.error().reason)));
  }
  return json_response(
      200, Value::object().set(
               "data", Value::object()
                           .set("account", Value::string(account))
                           .set("balance", Value::object()
                                               .set("amount", Value::string(decimal_text(*balance, balance->currency().exponent())))
                                               .set("minor", Value::number(static_cast<long long>(balance->minor())))
                                               .set("currency", Value::string(std::string(balance->currency().code()))))));
}

// ---------------------------------------------------------------- SNAP

net::ServerResponse Gateway::snap(Family& f, const ServerRequest& request, const std::string& service_path) {
  const auto now = clock_.now();
  const std::string timestamp = request.header("X-TIMESTAMP").value_or("");
  const auto parsed_time = core::parse_rfc3339(timestamp);
  if (service_path == "access-token/b2b") {
    if (!parsed_time) return snap_error(400, "73", "01", "Invalid Field Format [X-TIMESTAMP]");
    const std::string client = request.header("X-CLIENT-KEY").value_or("");
    if (!crypto::constant_time_equal(client, f.config.setting("client_id"))) {
      return snap_error(401, "73", "00", "Unauthorized. [Unknown client]");
    }
    auto signature = crypto::unbase64(request.header("X-SIGNATURE").value_or(""));
    if (!signature || !crypto::rsa_sha256_verify(f.config.setting("client_public_key"), client + "|" + timestamp, *signature)) {
      return snap_error(401, "73", "00", "Unauthorized. [Signature]");
    }
    auto body = json::parse(request.body);
    const auto grant = body ? body->string_at("grantType") : std::nullopt;
    if (!grant || *grant != "client_credentials") return snap_error(400, "73", "02", "Invalid Mandatory Field [grantType]");
    const std::string token = crypto::hex(crypto::random_bytes(24));
    snap_tokens_[token] = now + std::chrono::seconds(900);
    return json_response(200, Value::object()
                                  .set("responseCode", Value::string("2007300"))
                                  .set("responseMessage", Value::string("Successful"))
                                  .set("accessToken", Value::string(token))
                                  .set("tokenType", Value::string("Bearer"))
                                  .set("expiresIn", Value::string("900")));
  }
  static const std::map<std::string, std::string> kServices = {
      {"balance-inquiry", "11"}, {"debit/payment-host-to-host", "54"}, {"debit/status", "55"},
      {"transfer-intrabank", "17"}, {"transfer/status", "36"}};
  const auto service_it = kServices.find(service_path);
  if (service_it == kServices.end() || request.method != "POST") return snap_error(404, "00", "00", "Not Found");
  const std::string& sc = service_it->second;
  const std::string token = bearer(request);
  auto known_token = snap_tokens_.find(token);
  if (token.empty() || known_token == snap_tokens_.end() || known_token->second <= now) {
    return snap_error(401, sc, "01", "Invalid Token (B2B)");
  }
  if (!parsed_time) return snap_error(400, sc, "01", "Invalid Field Format [X-TIMESTAMP]");
  auto body = json::parse(request.body);
  if (!body || !body->is_object()) return snap_error(400, sc, "00", "Bad Request");
  // The signature covers the path as sent (with the prefix and any query) and the
  // compact body.
  const std::string string_to_sign = request.method + ":" + request.target + ":" + token + ":" +
                                     crypto::hex(crypto::sha256(body->serialize())) + ":" + timestamp;
  const std::string mac = crypto::hmac_sha512(f.config.setting("client_secret"), string_to_sign);
  const std::string given = request.header("X-SIGNATURE").value_or("");
  if (!crypto::constant_time_equal(given, crypto::base64(mac)) && !crypto::constant_time_equal(given, crypto::hex(mac))) {
    return snap_error(401, sc, "00", "Unauthorized. [Signature]");
  }
  const std::string partner = f.config.setting("partner_id").empty() ? f.config.setting("client_id") : f.config.setting("partner_id");
  if (!crypto::constant_time_equal(request.header("X-PARTNER-ID").value_or(""), partner)) {
    return snap_error(401, sc, "00", "Unauthorized. [X-PARTNER-ID]");
  }
  const std::string external = request.header("X-EXTERNAL-ID").value_or("");
  if (external.empty() || external.size() > 36 || external.find_first_not_of("0123456789") != std::string::npos) {
    return snap_error(400, sc, "02", "Invalid Mandatory Field [X-EXTERNAL-ID]");
  }
  if (!request.header("CHANNEL-ID")) return snap_error(400, sc, "02", "Invalid Mandatory Field [CHANNEL-ID]");
  const std::string partner_reference = body->string_at("partnerReferenceNo").value_or("");
  const std::string day = core::format_rfc3339(now).substr(0, 10);
  const std::string external_key = day + "|" + external;
  if (auto used = snap_external_ids_.find(external_key); used != snap_external_ids_.end()) {
    // The same X-EXTERNAL-ID is allowed again only for a retry of the same transaction.
    if (used->second.empty() || used->second != partner_reference) {
      return snap_error(409, sc, "00", "Conflict. Cannot use same X-EXTERNAL-ID in same day");
    }
  }
  auto remember_external = [&] { snap_external_ids_.emplace(external_key, partner_reference); };

  auto parse_amount = [&](const Value* amount) -> std::optional<Money> {
    if (!amount) return std::nullopt;
    const auto value = amount->string_at("value");
    const auto currency = core::Currency::find(amount->string_at("currency").value_or(""));
    if (!value || !currency) return std::nullopt;
    const auto dot = value->find('.');
    if (dot == std::string::npos || value->size() - dot != 3) return std::nullopt;  // String(16,2)
    return core::parse_decimal_amount(*value, *currency).value;
  };

  if (sc == "11") {
    remember_external();
    const std::string account = body->string_at("accountNo").value_or("");
    if (!f.sim->has_account(account)) return snap_error(404, sc, "11", "Invalid Account");
    auto balance = f.sim->balance_now(account);
    if (!balance) return snap_error(500, sc, "01", "Internal Server Error");
    auto info = Value::object()
                    .set("balanceType", Value::string("CASH"))
                    .set("amount", money_json(*balance))
                    .set("availableBalance", money_json(*balance))
                    .set("ledgerBalance", money_json(*balance))
                    .set("status", Value::string("0001"));
    return json_response(200, Value::object()
                                  .set("responseCode", Value::string("2001100"))
                                  .set("responseMessage", Value::string("Successful"))
                                  .set("referenceNo", Value::string(fmt::format("{:012}", ++sequence_)))
                                  .set("partnerReferenceNo", Value::string(partner_reference))
                                  .set("accountNo", Value::string(account))
                                  .set("name", Value::string("Sandbox " + account))
                                  .set("accountInfos", Value::array().push(std::move(info))));
  }
  if (sc == "54" || sc == "17") {
    if (partner_reference.empty() || partner_reference.size() > 64) {
      return snap_error(400, sc, "02", "Invalid Mandatory Field [partnerReferenceNo]");
    }
    if (snap_transactions_.count(partner_reference)) {
      return snap_error(409, sc, "01", "Duplicate partnerReferenceNo");
    }
    const auto amount = parse_amount(body->find("amount"));
    if (!amount || !amount->is_positive()) return snap_error(400, sc, "01", "Invalid Field Format [amount]");
    TopUpRequest movement{"snap:" + partner_reference, core::TopUpMethod::direct_debit, "", "", *amount};
    if (sc == "54") {
      movement.method = core::TopUpMethod::direct_debit;
      movement.source = body->string_at("bankCardToken").value_or("");
      const Value* info = body->find("additionalInfo");
      movement.destination_id = (info ? info->string_at("beneficiaryAccountNo") : std::nullopt).value_or(f.default_account);
    } else {
      movement.method = core::TopUpMethod::sweep;
      movement.source = body->string_at("sourceAccountNo").value_or("");
      movement.destination_id = body->string_at("beneficiaryAccountNo").value_or("");
      if (!f.sim->has_account(movement.source) || !f.sim->has_account(movement.destination_id)) {
        return snap_error(404, sc, "11", "Invalid Account");
      }
    }
    if (!f.sim->has_account(movement.destination_id)) return snap_error(404, sc, "11", "Invalid Account");
    auto receipt = f.sim->submit_now(movement);
    if (!receipt) {
      if (receipt.error().reason == "insufficient_funds") return snap_error(403, sc, "14", "Insufficient Funds");
      return snap_error(400, sc, "01", receipt.error().message);
    }
    remember_external();
    snap_transactions_[partner_reference] = SnapTransaction{sc, movement.idempotency_key, external};
    auto out = Value::object()
                   .set("responseCode", Value::string(fmt::format("200{}00", sc)))
                   .set("responseMessage", Value::string("Successful"))
                   .set("referenceNo", Value::string(receipt->reference))
                   .set("partnerReferenceNo", Value::string(partner_reference))
                   .set("amount", money_json(*amount));
    if (sc == "17") {
      out.set("beneficiaryAccountNo", Value::string(movement.destination_id))
          .set("sourceAccountNo", Value::string(movement.source));
    }
    return json_response(200, out);
  }
  // Status inquiries (55 for debits, 36 for transfers).
  remember_external();
  const std::string original = body->string_at("originalPartnerReferenceNo").value_or("");
  auto transaction = snap_transactions_.find(original);
  const std::string wanted_service = sc == "55" ? "54" : "17";
  if (transaction == snap_transactions_.end() || transaction->second.service != wanted_service) {
    return snap_error(404, sc, "01", "Transaction Not Found");
  }
  auto receipt = f.sim->look_up_now(transaction->second.key);
  const bool settled = receipt && receipt->status == ProviderTopUpStatus::succeeded;
  const bool declined = receipt && receipt->status == ProviderTopUpStatus::failed;
  Money amount(0, *core::Currency::find("IDR"));
  for (const auto& e : f.sim->ledger()) {
    if (e.idempotency_key == transaction->second.key) amount = e.amount;
  }
  return json_response(200, Value::object()
                                .set("responseCode", Value::string(fmt::format("200{}00", sc)))
                                .set("responseMessage", Value::string("Successful"))
                                .set("originalPartnerReferenceNo", Value::string(original))
                                .set("originalReferenceNo", Value::string(receipt ? receipt->reference : ""))
                                .set("originalExternalId", Value::string(transaction->second.external_id))
                                .set("serviceCode", Value::string(wanted_service))
                                .set("latestTransactionStatus", Value::string(settled ? "00" : declined ? "06" : "03"))
                                .set("transactionStatusDesc",
                                     Value::string(settled ? "Success" : declined ? "Failed" : "Pending"))
                                .set("amount", money_json(amount)));
}

// ---------------------------------------------------------------- control and webhooks

net::ServerResponse Gateway::control(const ServerRequest& request) {
  if (request.path == "/_sandbox/ledger" && request.method == "GET") return ServerResponse::json(200, ledger_json());
  if (request.path == "/_sandbox/healthz") return ServerResponse::json(200, "{\"ok\":true}");
  auto body = json::parse(request.body.empty() ? "{}" : request.body);
  if (!body || !body->is_object()) return json_response(400, Value::object().set("error", Value::string("expected a JSON object")));
  if (request.path == "/_sandbox/faults" && request.method == "DELETE") {
    for (auto& [type, f] : families_) f->fault = Fault{};
    return ServerResponse::json(200, "{\"cleared\":true}");
  }
  if (request.path == "/_sandbox/faults" && request.method == "POST") {
    const std::string type = body->string_at("provider").value_or("");
    Family* f = family(type);
    if (!f) return json_response(400, Value::object().set("error", Value::string("unknown provider '" + type + "'")));
    Fault fault;
    auto integer = [&](const char* key, long long low, long long high) -> std::optional<long long> {
      const Value* v = body->find(key);
      if (!v || !v->is_number() || v->text().find_first_not_of("0123456789") != std::string::npos || v->text().size() > 9) {
        return std::nullopt;
      }
      const long long n = std::stoll(v->text());
      return n < low || n > high ? std::nullopt : std::optional(n);
    };
    if (auto v = integer("latency_ms", 0, 3'600'000)) fault.latency = core::Duration(*v);
    if (auto v = integer("status", 100, 599)) fault.status = static_cast<int>(*v);
    if (auto v = integer("rate", 0, 100)) fault.rate_percent = static_cast<int>(*v);
    if (auto v = integer("count", 1, 1'000'000)) fault.remaining = static_cast<int>(*v);
    for (const char* flag : {"malformed", "reset", "hang", "after_apply", "duplicate_webhooks"}) {
      const Value* v = body->find(flag);
      const bool on = v && v->as_bool();
      if (std::string(flag) == "malformed") fault.malformed = on;
      else if (std::string(flag) == "reset") fault.reset = on;
      else if (std::string(flag) == "hang") fault.hang = on;
      else if (std::string(flag) == "after_apply") fault.after_apply = on;
      else fault.duplicate_webhooks = on;
    }
    f->fault = fault;
    return ServerResponse::json(200, "{\"ok\":true}");
  }
  if (request.path == "/_sandbox/snap/expire-tokens" && request.method == "POST") {
    // Every issued SNAP token stops working at once: clients must mint a new one.
    snap_tokens_.clear();
    return ServerResponse::json(200, "{\"ok\":true}");
  }
  if (request.path.rfind("/_sandbox/accounts/", 0) == 0 && request.method == "POST") {
    const std::string id = request.path.substr(19);
    Family* f = nullptr;
    if (auto named = body->string_at("provider")) {
      f = family(*named);
    } else {
      for (auto& [type, candidate] : families_) {
        if (candidate->sim->has_account(id)) f = candidate.get();
      }
    }
    if (!f || !f->sim->has_account(id)) {
      return json_response(404, Value::object().set("error", Value::string("no sandbox account '" + id + "'")));
    }
    SandboxProvider::AccountChange change;
    std::string problem;
    auto money_field = [&](const char* key, std::optional<Money>& out) {
      if (auto text = body->string_at(key)) {
        auto parsed = core::parse_money(*text);
        if (parsed.value) out = parsed.value;
        else problem = std::string(key) + ": " + parsed.error;
      }
    };
    std::optional<Money> credit;
    money_field("balance", change.balance);
    money_field("drain_per_minute", change.drain_per_minute);
    money_field("inflow_per_minute", change.inflow_per_minute);
    money_field("credit", credit);
    if (const Value* fail = body->find("fail"); fail && fail->is_number() && fail->text().size() <= 3 &&
                                                fail->text().find_first_not_of("0123456789") == std::string::npos) {
      change.fail_percent = std::min(100, std::stoi(fail->text()));
    }
    if (!problem.empty()) return json_response(400, Value::object().set("error", Value::string(problem)));
    if (!f->sim->set_account(id, change)) {
      return json_response(400, Value::object().set("error", Value::string("amounts must be in the account's currency")));
    }
    if (change.balance && f->config.type == "stripe" && !f->config.webhook_url.empty()) balance_events_.push_back(id);
    if (credit) {
      // A deposit from outside (e.g. a bank transfer into the gateway): a movement
      // that settles like a top-up and is announced by webhook.
      const TopUpRequest deposit{fmt::format("deposit:{}", ++sequence_), core::TopUpMethod::direct_debit, id,
                                 "external", *credit};
      auto receipt = f->sim->submit_now(deposit);
      if (!receipt) return json_response(400, Value::object().set("error", Value::string(receipt.error().message)));
    }
    return ServerResponse::json(200, "{\"ok\":true}");
  }
  return json_response(404, Value::object().set("error", Value::string("unknown sandbox control endpoint")));
}

std::string Gateway::ledger_json() {
  std::string entries, accounts;
  for (auto& [type, f] : families_) {
    auto document = json::parse(f->sim->ledger_json());
    if (!document) continue;
    if (const Value* list = document->find("entries")) {
      for (const auto& e : list->items()) {
        Value copy = Value::object().set("provider", Value::string(type));
        for (const auto& [k, v] : e.members()) copy.set(k, k == "id" ? Value::string(type + ":" + v.text()) : v);
        entries += (entries.empty() ? "" : ",") + copy.serialize();
      }
    }
    if (const Value* list = document->find("accounts")) {
      for (const auto& a : list->items()) {
        Value copy = Value::object().set("provider", Value::string(type));
        for (const auto& [k, v] : a.members()) copy.set(k, v);
        accounts += (accounts.empty() ? "" : ",") + copy.serialize();
      }
    }
  }
  return "{\"entries\":[" + entries + "],\"accounts\":[" + accounts + "]}";
}

std::vector<net::Request> Gateway::take_webhooks() {
  std::vector<net::Request> out;
  const auto now = clock_.now();
  if (Family* f = family("stripe"); f && !balance_events_.empty()) {
    // Stripe Connect names the connected account at the top of the event.
    for (const auto& account : balance_events_) {
      const auto available = f->sim->balance_now(account);
      if (!available) continue;
      net::Request hook;
      hook.method = "POST";
      hook.url = f->config.webhook_url;
      hook.headers.emplace_back("Content-Type", "application/json");
      hook.body = fmt::format(
          "{{\"id\":\"evt_sbx{:08}\",\"object\":\"event\",\"account\":{},\"api_version\":\"2024-06-20\","
          "\"created\":{},\"data\":{{\"object\":{{\"object\":\"balance\",\"available\":[{{\"amount\":{},"
          "\"currency\":{}}}],\"livemode\":false}}}},\"livemode\":false,\"pending_webhooks\":1,"
          "\"request\":{{\"id\":null,\"idempotency_key\":null}},\"type\":\"balance.available\"}}",
          ++sequence_, json_string(account), unix_seconds(now), available->minor(),
          json_string(lower(std::string(available->currency().code()))));
      sign_stripe(hook, f->config.setting("webhook_secret"), now);
      out.push_back(std::move(hook));
    }
  }
  balance_events_.clear();
  for (auto& [type, f] : families_) {
    const auto settled = f->sim->take_settled();
    if (f->config.webhook_url.empty()) continue;
    const auto url = net::parse_url(f->config.webhook_url);
    if (!url) continue;
    for (std::size_t index : settled) {
      const SandboxLedgerEntry& entry = f->sim->ledger()[index];
      net::Request hook;
      hook.method = "POST";
      hook.url = f->config.webhook_url;
      hook.headers.emplace_back("Content-Type", "application/json");
      if (type == "stripe") {
        const StripeTopUp* topup = nullptr;
        for (const auto& [id, t] : stripe_topups_) {
          if (t.key == entry.idempotency_key) topup = &t;
        }
        if (!topup) continue;
        ++sequence_;
        const std::string key = entry.idempotency_key.substr(7);
        hook.body = fmt::format(
            "{{\"id\":\"evt_sbx{:08}\",\"object\":\"event\",\"api_version\":\"2024-06-20\",\"created\":{},"
            "\"data\":{{\"object\":{}}},\"livemode\":false,\"pending_webhooks\":1,"
            "\"request\":{{\"id\":null,\"idempotency_key\":{}}},\"type\":\"{}\"}}",
            sequence_, unix_seconds(now), stripe_topup_json(*topup),
            key.rfind("tu_", 0) == 0 ? "null" : json_string(key), entry.declined ? "topup.failed" : "topup.succeeded");
        sign_stripe(hook, f->config.setting("webhook_secret"), now);
      } else if (type == "snap") {
        std::string partner_reference;
        for (const auto& [ref, tx] : snap_transactions_) {
          if (tx.key == entry.idempotency_key) partner_reference = ref;
        }
        if (partner_reference.empty()) continue;
        hook.body = Value::object()
                        .set("originalPartnerReferenceNo", Value::string(partner_reference))
                        .set("originalReferenceNo", Value::string(entry.id))
                        .set("latestTransactionStatus", Value::string(entry.declined ? "06" : "00"))
                        .set("transactionStatusDesc", Value::string(entry.declined ? "Failed" : "Success"))
                        .set("amount", money_json(entry.amount))
                        .set("finishedTime", Value::string(snap_timestamp(now)))
                        .serialize();
        const std::string timestamp = snap_timestamp(now);
        const std::string path = url->target;
        auto signature = crypto::rsa_sha256_sign(f->config.setting("private_key"),
                                                 "POST:" + path + ":" + crypto::hex(crypto::sha256(hook.body)) + ":" + timestamp);
        if (!signature) continue;
        hook.headers.emplace_back("X-TIMESTAMP", timestamp);
        hook.headers.emplace_back("X-SIGNATURE", crypto::base64(*signature));
        hook.headers.emplace_back("X-PARTNER-ID", f->config.setting("client_id"));
        hook.headers.emplace_back("X-EXTERNAL-ID", fmt::format("{}", 900000000000 + ++sequence_));
        hook.headers.emplace_back("CHANNEL-ID", "95221");
      } else if (entry.declined) {
        continue;  // a deposit that never arrived is not announced
      } else if (type == "midtrans_iris") {
        hook.body = Value::object()
                        .set("transaction_id", Value::string(entry.id))
                        .set("order_id", Value::string(entry.idempotency_key))
                        .set("gross_amount", Value::string(decimal_text(entry.amount, 2)))
                        .set("status", Value::string("topup"))
                        .set("transaction_time", Value::string(core::format_rfc3339(now)))
                        .serialize();
        hook.headers.emplace_back("Iris-Signature",
                                  crypto::hex(crypto::sha512(hook.body + f->config.setting("merchant_key"))));
      } else if (type == "xendit") {
        hook.body = Value::object()
                        .set("id", Value::string(entry.id))
                        .set("event", Value::string("balance.credited"))
                        .set("account", Value::string(entry.account))
                        .set("amount", Value::number(decimal_text(entry.amount, 0)))
                        .set("currency", Value::string(std::string(entry.amount.currency().code())))
                        .set("created", Value::string(core::format_rfc3339(now)))
                        .serialize();
        hook.headers.emplace_back("x-callback-token", f->config.setting("callback_token"));
      } else {
        continue;
      }
      out.push_back(hook);
      if (f->fault.duplicate_webhooks) out.push_back(hook);
    }
  }
  return out;
}

}  // namespace topupd::adapters::sandbox
