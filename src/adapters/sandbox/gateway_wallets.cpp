// The sandbox speaking Xendit, Midtrans Iris, Flip and the generic balance API (its
// top-ups: gateway_generic.cpp). See
// gateway_wire.hpp.
#include "gateway_wire.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

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
  // Whole rupiah, as the real API answers: the simulated drift's fraction is dropped.
  const Money whole(balance->minor() - balance->minor() % balance->currency().minor_per_major(), balance->currency());
  return json_response(200, Value::object().set("balance", Value::number(decimal_text(whole, 0))));
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
  if (request.path.ends_with("/topups")) return generic_top_ups(f, request);
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

}  // namespace topupd::adapters::sandbox
