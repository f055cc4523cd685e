// The sandbox's Xendit Payouts v2 (/v2/payouts, and the channels' amount limits at
// /payouts_channels): a payout out of a Xendit balance to a
// bank account — in the sandbox, another gateway's top-up account or a virtual
// account, found as a SNAP transfer's beneficiary is (gateway_deposits.cpp). The
// money leaves the balance at once (a deposit movement keyed "xpo:KEY"); when it
// settles the destination's gateway is credited and payout.succeeded is sent. A used
// idempotency-key answers 409 DUPLICATE_ERROR, as Payouts v2 does. A destination it
// cannot find or a balance that cannot cover it fails the payout (payout.failed);
// POST /_sandbox/payouts/ID/reverse returns a succeeded one to the balance
// (payout.reversed). Flip's disbursements (POST /v3/disbursement, form-encoded, and
// GET /v3/get-disbursement?idempotency-key=) move money the same way under "flp:KEY";
// a repeated key with the same request answers the first response. See gateway_wire.hpp.
#include "gateway_wire.hpp"
#include "topupd/core/deposit.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

namespace {

ServerResponse xendit_error(int status, const std::string& code, const std::string& message) {
  return json_response(status, Value::object().set("error_code", Value::string(code)).set("message", Value::string(message)));
}

}  // namespace

std::string Gateway::payout_status(const XenditPayout& payout) {
  if (payout.reversed) return "REVERSED";
  if (!payout.failure_code.empty()) return "FAILED";
  const auto receipt = family("xendit")->sim->look_up_now(payout.ledger_key);
  if (!receipt || receipt->status == ProviderTopUpStatus::pending) return "ACCEPTED";
  return receipt->status == ProviderTopUpStatus::succeeded ? "SUCCEEDED" : "FAILED";
}

json::Value Gateway::payout_json(const XenditPayout& payout, bool as_created) {
  const std::string status = as_created ? "ACCEPTED" : payout_status(payout);
  Value out = Value::object()
                  .set("id", Value::string(payout.id))
                  .set("reference_id", Value::string(payout.reference_id))
                  .set("business_id", Value::string("sandbox"))
                  .set("channel_code", Value::string(payout.channel_code))
                  .set("channel_properties", Value::object()
                                                 .set("account_number", Value::string(payout.account_number))
                                                 .set("account_holder_name", Value::string(payout.holder)))
                  .set("amount", Value::number(decimal_text(payout.amount, 0)))
                  .set("currency", Value::string("IDR"))
                  .set("description", Value::string(payout.description))
                  .set("status", Value::string(status))
                  .set("created", Value::string(core::format_rfc3339(payout.created)))
                  .set("updated", Value::string(core::format_rfc3339(clock_.now())));
  if (status == "FAILED") {
    out.set("failure_code", Value::string(payout.failure_code.empty() ? "REJECTED_BY_CHANNEL" : payout.failure_code));
  }
  return out;
}

net::ServerResponse Gateway::xendit_payouts(Family& f, const ServerRequest& request) {
  const std::string user = basic_user(request);
  if (user.empty() || !crypto::constant_time_equal(user, f.config.setting("secret_key"))) {
    return xendit_error(401, "INVALID_API_KEY", "API key is not authorized for this API service");
  }
  const std::string account = request.header("for-user-id").value_or(f.default_account);
  if (request.method == "GET" && request.path == "/payouts_channels") {
    // Every bank it pays to, with the BI-FAST limits and whole rupiah.
    const std::string wanted = query_param(request.query, "channel_code");
    Value channels = Value::array();
    for (const char* bank : {"BCA", "BNI", "BRI", "MANDIRI", "PERMATA", "CIMB", "BSI", "BJB", "DBS"}) {
      const std::string code = std::string("ID_") + bank;
      if (!wanted.empty() && wanted != code) continue;
      channels.push(Value::object()
                        .set("channel_code", Value::string(code))
                        .set("channel_category", Value::string("BANK"))
                        .set("currency", Value::string("IDR"))
                        .set("channel_name", Value::string(bank))
                        .set("amount_limits", Value::object()
                                                  .set("minimum", Value::number(10000LL))
                                                  .set("maximum", Value::number(250000000LL))
                                                  .set("minimum_increment", Value::number(1LL))));
    }
    return json_response(200, channels);
  }
  if (request.method == "GET" && request.path == "/v2/payouts") {
    const std::string reference = query_param(request.query, "reference_id");
    if (reference.empty()) return xendit_error(400, "API_VALIDATION_ERROR", "reference_id is required");
    // The list may lag behind (payout_list_lag): a payout that new is not in it yet.
    const core::Duration lag = core::parse_duration(f.config.setting("payout_list_lag")).value.value_or(core::Duration(0));
    Value data = Value::array();
    for (auto it = payouts_.rbegin(); it != payouts_.rend(); ++it) {  // newest first
      const XenditPayout& payout = it->second;
      if (payout.reference_id == reference && payout.account == account && payout.created + lag <= clock_.now()) {
        data.push(payout_json(payout));
      }
    }
    return json_response(200, Value::object()
                                  .set("data", std::move(data))
                                  .set("has_more", Value::boolean(false))
                                  .set("links", Value::array()));
  }
  if (request.method == "GET" && request.path.rfind("/v2/payouts/", 0) == 0) {
    const auto it = payouts_.find(request.path.substr(12));
    if (it == payouts_.end() || it->second.account != account) {
      return xendit_error(404, "DATA_NOT_FOUND", "Payout not found");
    }
    return json_response(200, payout_json(it->second));
  }
  if (request.method != "POST" || request.path != "/v2/payouts") return xendit_error(404, "NOT_FOUND", "Not found");
  const std::string key = request.header("idempotency-key").value_or("");
  if (key.empty()) return xendit_error(400, "API_VALIDATION_ERROR", "idempotency-key header is required");
  if (payout_keys_.count(key)) {
    return xendit_error(409, "DUPLICATE_ERROR",
                        "A payout with this idempotency key already exists. If you meant to execute a different "
                        "request, please use another idempotency key.");
  }
  auto body = json::parse(request.body);
  if (!body || !body->is_object()) return xendit_error(400, "API_VALIDATION_ERROR", "body must be a JSON object");
  XenditPayout payout;
  payout.reference_id = body->string_at("reference_id").value_or("");
  payout.channel_code = body->string_at("channel_code").value_or("");
  payout.description = body->string_at("description").value_or("");
  const Value* properties = body->find("channel_properties");
  payout.account_number = properties ? properties->string_at("account_number").value_or("") : "";
  payout.holder = properties ? properties->string_at("account_holder_name").value_or("") : "";
  const Value* amount = body->find("amount");
  if (payout.reference_id.empty() || payout.account_number.empty()) {
    return xendit_error(400, "API_VALIDATION_ERROR", "reference_id and channel_properties.account_number are required");
  }
  if (body->string_at("currency").value_or("") != "IDR") {
    return xendit_error(400, "API_VALIDATION_ERROR", "currency must be IDR");
  }
  // Whole rupiah only: a JSON number without a fraction or exponent.
  if (!amount || !amount->is_number() || amount->text().empty() || amount->text().size() > 15 ||
      amount->text().find_first_not_of("0123456789") != std::string::npos) {
    return xendit_error(400, "API_VALIDATION_ERROR", "amount must be a whole number of rupiah");
  }
  payout.amount = Money(std::stoll(amount->text()) * 100, *core::Currency::find("IDR"));
  if (payout.amount.minor() < 10'000'00) {
    return xendit_error(400, "MINIMUM_TRANSFER_LIMIT_ERROR", "The minimum amount for this channel is 10000");
  }
  if (payout.amount.minor() > core::kBiFastLimitMinor) {
    return xendit_error(400, "MAXIMUM_TRANSFER_LIMIT_ERROR", "The maximum amount for this channel is 250000000");
  }
  const std::string bank = payout.channel_code.rfind("ID_", 0) == 0 ? payout.channel_code.substr(3) : "";
  if (bank.empty() || core::bi_bank_code(bank) == bank) {
    return xendit_error(400, "CHANNEL_CODE_NOT_SUPPORTED", "Channel code is not supported");
  }
  if (!f.sim->has_account(account)) return xendit_error(404, "SUB_ACCOUNT_NOT_FOUND", "The for-user-id was not found");
  payout.id = fmt::format("disb-{:012x}", ++sequence_);
  payout.account = account;
  payout.created = clock_.now();
  payout.ledger_key = "xpo:" + key;
  // Accepted first, as Xendit does; what the channel makes of it comes later.
  const auto to = beneficiary(core::bi_bank_code(bank), payout.account_number);
  if (!to || (to->va && (to->va->taken || clock_.now() >= to->va->expires_at))) {
    payout.failure_code = "INVALID_DESTINATION";
  } else {
    const TopUpRequest movement{payout.ledger_key, core::TopUpMethod::deposit, to->label, account, payout.amount};
    auto receipt = f.sim->submit_now(movement);
    if (!receipt) {
      payout.failure_code = receipt.error().reason == "insufficient_funds" ? "INSUFFICIENT_BALANCE" : "TRANSFER_ERROR";
    } else if (to->va) {
      to->va->taken = true;
    }
  }
  if (!payout.failure_code.empty()) payout_events_.emplace_back(payout.id, "payout.failed");
  payout_keys_[key] = payout.id;
  Value out = payout_json(payout, true);
  payouts_.emplace(payout.id, std::move(payout));
  return json_response(200, out);
}

net::ServerResponse Gateway::reverse_payout(const std::string& id) {
  const auto it = payouts_.find(id);
  if (it == payouts_.end()) return json_response(404, Value::object().set("error", Value::string("no payout " + id)));
  XenditPayout& payout = it->second;
  if (payout_status(payout) != "SUCCEEDED") {
    return json_response(409, Value::object().set("error", Value::string("only a succeeded payout can be reversed")));
  }
  payout.reversed = true;
  // The money comes back to the balance it left.
  const TopUpRequest back{"reversal:" + payout.id, core::TopUpMethod::direct_debit, payout.account, "reversal",
                          payout.amount};
  (void)family("xendit")->sim->submit_now(back);
  payout_events_.emplace_back(payout.id, "payout.reversed");
  return json_response(200, payout_json(payout));
}

std::optional<net::Request> Gateway::payout_webhook(Family& f, const std::string& id, const std::string& event) {
  const auto it = payouts_.find(id);
  if (it == payouts_.end() || f.config.webhook_url.empty()) return std::nullopt;
  net::Request hook = xendit_callback(f.config);
  hook.headers.emplace_back("webhook-id", fmt::format("whk_{:012x}", ++sequence_));
  hook.body = Value::object()
                  .set("event", Value::string(event))
                  .set("business_id", Value::string("sandbox"))
                  .set("created", Value::string(core::format_rfc3339(clock_.now())))
                  .set("data", payout_json(it->second))
                  .serialize();
  return hook;
}

std::optional<std::string> Gateway::payout_of(const std::string& ledger_key) const {
  for (const auto& [id, payout] : payouts_) {
    if (payout.ledger_key == ledger_key) return id;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- Flip's disbursements

json::Value Gateway::disbursement_json(const FlipDisbursement& d) {
  std::string status = "PENDING";
  if (!d.reason.empty()) {
    status = "CANCELLED";
  } else if (const auto receipt = family("flip")->sim->look_up_now(d.ledger_key)) {
    if (receipt->status == ProviderTopUpStatus::succeeded) status = "DONE";
    if (receipt->status == ProviderTopUpStatus::failed) status = "CANCELLED";
  }
  return Value::object()
      .set("id", Value::number(static_cast<long long>(d.id)))
      .set("user_id", Value::number(1LL))
      .set("amount", Value::number(decimal_text(d.amount, 0)))
      .set("status", Value::string(status))
      .set("reason", Value::string(status == "CANCELLED" && d.reason.empty() ? "REJECTED_BY_BANK" : d.reason))
      .set("timestamp", Value::string(core::format_rfc3339(d.created)))
      .set("bank_code", Value::string(d.bank_code))
      .set("account_number", Value::string(d.account_number))
      .set("recipient_name", Value::string(d.recipient_name))
      .set("remark", Value::string(d.remark))
      .set("fee", Value::number(0LL))
      .set("idempotency_key", Value::string(d.key));
}

net::ServerResponse Gateway::flip_disbursements(Family& f, const ServerRequest& request) {
  const auto flip_error = [](int status, const std::string& code, const std::string& message) {
    return json_response(status, Value::object()
                                     .set("code", Value::string(code))
                                     .set("errors", Value::array().push(Value::object().set("message", Value::string(message)))));
  };
  const std::string user = basic_user(request);
  if (user.empty() || !crypto::constant_time_equal(user, f.config.setting("secret_key"))) {
    return flip_error(401, "UNAUTHORIZED", "Invalid secret key");
  }
  if (request.method == "GET" && request.path == "/v3/get-disbursement") {
    const auto it = flip_disbursements_.find(query_param(request.query, "idempotency-key"));
    if (it == flip_disbursements_.end()) return flip_error(404, "NOT_FOUND", "disbursement not found");
    return json_response(200, disbursement_json(it->second));
  }
  if (request.method != "POST" || request.path != "/v3/disbursement") return flip_error(404, "NOT_FOUND", "Not found");
  const std::string key = request.header("idempotency-key").value_or("");
  if (key.empty() || key.size() > 255) return flip_error(422, "VALIDATION_ERROR", "idempotency-key is required");
  FlipDisbursement d;
  d.key = key;
  d.account_number = query_param(request.body, "account_number");
  d.bank_code = query_param(request.body, "bank_code");
  d.remark = query_param(request.body, "remark");
  const std::string amount = query_param(request.body, "amount");
  // The same key with the same request answers what it answered first; with another, an error.
  const std::string parameters = d.account_number + "|" + d.bank_code + "|" + amount;
  if (const auto seen = flip_disbursements_.find(key); seen != flip_disbursements_.end()) {
    if (seen->second.parameters != parameters) {
      return flip_error(422, "VALIDATION_ERROR", "idempotency-key was used with another request");
    }
    return json_response(200, disbursement_json(seen->second));
  }
  if (d.account_number.empty() || d.bank_code.empty() || d.remark.size() > 18) {
    return flip_error(422, "VALIDATION_ERROR", "account_number and bank_code are required; remark at most 18 characters");
  }
  if (amount.empty() || amount.size() > 12 || amount.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(amount) < 10'000) {
    return flip_error(422, "VALIDATION_ERROR", "amount must be whole rupiah, at least 10000");
  }
  d.amount = Money(std::stoll(amount) * 100, *core::Currency::find("IDR"));
  const auto to = beneficiary(core::bi_bank_code(upper(d.bank_code)), d.account_number);
  if (!to) return flip_error(422, "VALIDATION_ERROR", "account_number is not a valid account at bank_code");
  d.recipient_name = to->name;
  d.parameters = parameters;
  d.id = ++sequence_;
  d.created = clock_.now();
  d.ledger_key = "flp:" + key;
  const TopUpRequest movement{d.ledger_key, core::TopUpMethod::deposit, to->label, f.default_account, d.amount};
  auto receipt = f.sim->submit_now(movement);
  if (!receipt) {
    if (receipt.error().reason == "insufficient_funds") {
      return flip_error(422, "BALANCE_INSUFFICIENT", "your balance cannot cover the disbursement");
    }
    d.reason = "TRANSFER_ERROR";
  } else if (to->va) {
    to->va->taken = true;
  }
  const Value out = disbursement_json(d);
  flip_disbursements_.emplace(key, std::move(d));
  return json_response(200, out);
}

}  // namespace topupd::adapters::sandbox
