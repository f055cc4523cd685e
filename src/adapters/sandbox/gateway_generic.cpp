// The sandbox's generic top-up API — what a `generic_http` provider's `top_up:` block is
// tested against (README "Stand-alone sandbox"):
//
//   POST /generic/accounts/{id}/topups   Idempotency-Key: KEY (required)
//        {"amount": {"value": "50000.00", "currency": "IDR"}, "reference": "KEY", "from": "…"}
//     → 201 {"data": {"id": "gtx_…", "reference": …, "status": "PENDING|COMPLETED|FAILED", …}}
//       the same key again answers the same top-up (200); no money moves twice
//   GET  /generic/topups?reference=KEY  → 200 {"data": [ … ]} — empty when it never arrived
//
// See gateway_wire.hpp.
#include "gateway_wire.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

namespace {

std::string status_text(ProviderTopUpStatus status) {
  switch (status) {
    case ProviderTopUpStatus::pending: return "PENDING";
    case ProviderTopUpStatus::succeeded: return "COMPLETED";
    case ProviderTopUpStatus::failed: return "FAILED";
  }
  return "PENDING";
}

Value top_up_json(const TopUpReceipt& receipt, const std::string& reference, const std::string& account,
                  const Money& amount) {
  return Value::object()
      .set("id", Value::string(receipt.reference))
      .set("reference", Value::string(reference))
      .set("account", Value::string(account))
      .set("amount", Value::object()
                         .set("value", Value::string(decimal_text(amount, amount.currency().exponent())))
                         .set("currency", Value::string(std::string(amount.currency().code()))))
      .set("status", Value::string(status_text(receipt.status)))
      .set("failure", receipt.failure.empty() ? Value() : Value::string(receipt.failure));
}

ServerResponse error(int status, const std::string& why) {
  return json_response(status, Value::object().set("error", Value::string(why)));
}

}  // namespace

net::ServerResponse Gateway::generic_top_ups(Family& f, const ServerRequest& request) {
  if (request.method == "GET" && request.path == "/generic/topups") {
    const std::string reference = query_param(request.query, "reference");
    if (reference.empty()) return error(400, "reference is required");
    Value list = Value::array();
    const auto entry = generic_top_ups_.find(reference);
    if (auto found = f.sim->look_up_now("generic:" + reference); found && entry != generic_top_ups_.end()) {
      list.push(top_up_json(*found, reference, entry->second.account, entry->second.amount));
    }
    return json_response(200, Value::object().set("data", std::move(list)));
  }
  // POST /generic/accounts/{id}/topups
  const std::string prefix = "/generic/accounts/";
  if (request.method != "POST" || request.path.rfind(prefix, 0) != 0) return error(404, "not found");
  const std::string account = request.path.substr(prefix.size(), request.path.size() - prefix.size() - 7);
  const auto key = request.header("Idempotency-Key");
  if (!key || key->empty()) return error(400, "the Idempotency-Key header is required");
  auto body = json::parse(request.body);
  const Value* amount = body ? body->find("amount") : nullptr;
  const auto value = amount ? amount->string_at("value") : std::nullopt;
  const auto code = amount ? amount->string_at("currency") : std::nullopt;
  const auto currency = code ? core::Currency::find(*code) : std::nullopt;
  if (!value || !currency) return error(400, "amount {value, currency} is required");
  const auto money = core::parse_decimal_amount(*value, *currency).value;
  if (!money || !money->is_positive()) return error(400, "amount.value must be a positive decimal");
  if (const auto seen = generic_top_ups_.find(*key); seen != generic_top_ups_.end()) {
    if (!(seen->second.amount == *money) || seen->second.account != account) {
      return error(422, "this Idempotency-Key was used with other parameters");
    }
    auto found = f.sim->look_up_now("generic:" + *key);
    if (found) {
      return json_response(200, Value::object().set("data", top_up_json(*found, *key, account, *money)));
    }
  }
  const TopUpRequest movement{"generic:" + *key, core::TopUpMethod::direct_debit, account,
                              body->string_at("from").value_or(""), *money};
  auto receipt = f.sim->submit_now(movement);
  if (!receipt) {
    return error(receipt.error().reason == "unknown_account" ? 404 : 422, receipt.error().message);
  }
  generic_top_ups_.insert_or_assign(*key, GenericTopUp{account, *money});
  return json_response(201, Value::object().set("data", top_up_json(*receipt, *key, account, *money)));
}

}  // namespace topupd::adapters::sandbox
