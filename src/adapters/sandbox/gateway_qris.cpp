// The sandbox's Xendit QR codes (API version 2022-07-31): dynamic QRIS codes for an
// exact amount (POST /qr_codes, GET /qr_codes/{id} with the api-version header), paid
// by a person through POST /_sandbox/pay {"qr_string"}: Xendit's balance is credited
// the amount less its fee (the gateway setting qris_fee, default 0.7 %) as a movement
// keyed "qr:ID", and when it settles the qr.payment callback follows, naming the full
// amount paid. A paid or expired code is INACTIVE. See gateway_wire.hpp.
#include "gateway_wire.hpp"
#include "topupd/adapters/providers/sandbox_provider.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

namespace {

ServerResponse xendit_error(int status, const std::string& code, const std::string& message) {
  return json_response(status, Value::object().set("error_code", Value::string(code)).set("message", Value::string(message)));
}

}  // namespace

json::Value Gateway::qr_code_json(const QrCode& code) {
  const bool active = code.payment_id.empty() && clock_.now() < code.expires_at;
  return Value::object()
      .set("id", Value::string(code.id))
      .set("reference_id", Value::string(code.reference_id))
      .set("business_id", Value::string("sandbox"))
      .set("type", Value::string("DYNAMIC"))
      .set("currency", Value::string("IDR"))
      .set("amount", Value::number(decimal_text(code.amount, 0)))
      .set("channel_code", Value::string("ID_DANA"))
      .set("qr_string", Value::string(code.qr_string))
      .set("expires_at", Value::string(core::format_rfc3339(code.expires_at)))
      .set("status", Value::string(active ? "ACTIVE" : "INACTIVE"))
      .set("created", Value::string(core::format_rfc3339(code.created)))
      .set("updated", Value::string(core::format_rfc3339(clock_.now())));
}

net::ServerResponse Gateway::xendit_qr_codes(Family& f, const ServerRequest& request) {
  const std::string user = basic_user(request);
  if (user.empty() || !crypto::constant_time_equal(user, f.config.setting("secret_key"))) {
    return xendit_error(401, "INVALID_API_KEY", "API key is not authorized for this API service");
  }
  if (request.header("api-version").value_or("") != "2022-07-31") {
    return xendit_error(400, "API_VALIDATION_ERROR", "this sandbox speaks QR codes API version 2022-07-31 only");
  }
  const std::string account = request.header("for-user-id").value_or(f.default_account);
  if (request.method == "GET" && request.path.rfind("/qr_codes/", 0) == 0) {
    const auto it = qr_codes_.find(request.path.substr(10));
    if (it == qr_codes_.end() || it->second.account != account) {
      return xendit_error(404, "DATA_NOT_FOUND", "QR code not found");
    }
    return json_response(200, qr_code_json(it->second));
  }
  if (request.method != "POST" || request.path != "/qr_codes") return xendit_error(404, "NOT_FOUND", "Not found");
  auto body = json::parse(request.body);
  if (!body || !body->is_object()) return xendit_error(400, "API_VALIDATION_ERROR", "body must be a JSON object");
  QrCode code;
  code.reference_id = body->string_at("reference_id").value_or("");
  const Value* amount = body->find("amount");
  if (code.reference_id.empty() || body->string_at("type").value_or("") != "DYNAMIC" ||
      body->string_at("currency").value_or("") != "IDR") {
    return xendit_error(400, "API_VALIDATION_ERROR", "reference_id, type DYNAMIC and currency IDR are required");
  }
  if (!amount || !amount->is_number() || amount->text().empty() || amount->text().size() > 12 ||
      amount->text().find_first_not_of("0123456789") != std::string::npos || amount->text() == "0") {
    return xendit_error(400, "API_VALIDATION_ERROR", "amount must be a whole number of rupiah");
  }
  const auto expires = core::parse_rfc3339(body->string_at("expires_at").value_or(""));
  if (body->find("expires_at") && (!expires || *expires <= clock_.now())) {
    return xendit_error(400, "API_VALIDATION_ERROR", "expires_at must be a future ISO 8601 date");
  }
  if (!f.sim->has_account(account)) return xendit_error(404, "SUB_ACCOUNT_NOT_FOUND", "The for-user-id was not found");
  code.id = fmt::format("qr_{:012x}", ++sequence_);
  code.amount = Money(std::stoll(amount->text()) * 100, *core::Currency::find("IDR"));
  code.created = clock_.now();
  code.expires_at = expires.value_or(clock_.now() + std::chrono::hours(48));
  code.account = account;
  code.qr_string = sandbox_qris_payload("TOPUPD SANDBOX", code.amount, code.id);
  const Value out = qr_code_json(code);
  qr_codes_.emplace(code.id, std::move(code));
  return json_response(200, out);
}

net::ServerResponse Gateway::pay_qr_code(const std::string& qr_string, bool late) {
  QrCode* code = nullptr;
  for (auto& [id, candidate] : qr_codes_) {
    if (candidate.qr_string == qr_string) code = &candidate;
  }
  if (!code) return json_response(404, Value::object().set("error", Value::string("no QR code with that string")));
  if (!code->payment_id.empty()) return json_response(409, Value::object().set("error", Value::string("already paid")));
  if (clock_.now() >= code->expires_at && !late) {
    return json_response(410, Value::object().set("error", Value::string("expired (\"late\": true pays it anyway)")));
  }
  Family* xendit = family("xendit");
  // The gateway keeps its fee: the balance grows by the amount less it, rounded down.
  const std::string setting = xendit->config.setting("qris_fee");  // basis points, checked at load
  const std::int64_t fee = code->amount.minor() * (setting.empty() ? 70 : std::stoll(setting)) / 10'000;
  const TopUpRequest credit{"qr:" + code->id, core::TopUpMethod::direct_debit, code->account, "person",
                            Money(code->amount.minor() - fee, code->amount.currency())};
  if (auto receipt = xendit->sim->submit_now(credit); !receipt) {
    return json_response(400, Value::object().set("error", Value::string(receipt.error().message)));
  }
  code->payment_id = fmt::format("qrpy_{:012x}", ++sequence_);
  return json_response(200, Value::object().set("payment_id", Value::string(code->payment_id)));
}

std::optional<net::Request> Gateway::qr_code_paid(Family& f, const SandboxLedgerEntry& credit) {
  const auto it = qr_codes_.find(credit.idempotency_key.substr(3));
  if (it == qr_codes_.end()) return std::nullopt;
  const QrCode& code = it->second;
  net::Request hook = xendit_callback(f.config);
  hook.body = Value::object()
                  .set("event", Value::string("qr.payment"))
                  .set("api_version", Value::string("2022-07-31"))
                  .set("business_id", Value::string("sandbox"))
                  .set("created", Value::string(core::format_rfc3339(clock_.now())))
                  .set("data", Value::object()
                                   .set("id", Value::string(code.payment_id))
                                   .set("qr_id", Value::string(code.id))
                                   .set("reference_id", Value::string(code.reference_id))
                                   .set("business_id", Value::string("sandbox"))
                                   .set("currency", Value::string("IDR"))
                                   .set("amount", Value::number(decimal_text(code.amount, 0)))
                                   .set("status", Value::string("SUCCEEDED"))
                                   .set("created", Value::string(core::format_rfc3339(credit.created_at)))
                                   .set("qr_string", Value::string(code.qr_string))
                                   .set("type", Value::string("DYNAMIC"))
                                   .set("channel_code", Value::string("ID_DANA"))
                                   .set("expires_at", Value::string(core::format_rfc3339(code.expires_at)))
                                   .set("payment_detail", Value::object()
                                                              .set("receipt_id", Value::string(code.payment_id))
                                                              .set("source", Value::string("SANDBOX"))))
                  .serialize();
  return hook;
}

}  // namespace topupd::adapters::sandbox
