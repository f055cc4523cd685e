// The sandbox speaking Bank Indonesia SNAP: tokens, signatures, debits, transfers
// (inside the bank, and out of it to a gateway's account: gateway_deposits.cpp),
// account inquiries and status inquiries. See gateway_wire.hpp.
#include "gateway_wire.hpp"
#include "topupd/core/deposit.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

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
      {"transfer-intrabank", "17"}, {"transfer/status", "36"}, {"account-inquiry-internal", "15"},
      {"account-inquiry-external", "16"}, {"transfer-interbank", "18"}};
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
  const std::string own_bank = f.config.setting("bank_code");
  if (sc == "15" || sc == "16") {
    // Account inquiry: the holder's name of an account at this bank (15) or another (16).
    remember_external();
    const std::string number = body->string_at("beneficiaryAccountNo").value_or("");
    const std::string bank = sc == "15" ? own_bank : body->string_at("beneficiaryBankCode").value_or("");
    if (number.empty()) return snap_error(400, sc, "02", "Invalid Mandatory Field [beneficiaryAccountNo]");
    if (bank.empty()) return snap_error(400, sc, "02", "Invalid Mandatory Field [beneficiaryBankCode]");
    std::string name;
    if (sc == "15" && f.sim->has_account(number)) name = "Sandbox " + number;
    else if (auto to = beneficiary(bank, number)) name = to->name;
    if (name.empty()) return snap_error(404, sc, "11", "Invalid Account");
    return json_response(200, Value::object()
                                  .set("responseCode", Value::string(fmt::format("200{}00", sc)))
                                  .set("responseMessage", Value::string("Successful"))
                                  .set("referenceNo", Value::string(fmt::format("{:012}", ++sequence_)))
                                  .set("partnerReferenceNo", Value::string(partner_reference))
                                  .set("beneficiaryAccountName", Value::string(name))
                                  .set("beneficiaryAccountNo", Value::string(number))
                                  .set("beneficiaryBankCode", Value::string(bank))
                                  .set("currency", Value::string("IDR")));
  }
  if (sc == "54" || sc == "17" || sc == "18") {
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
      if (!f.sim->has_account(movement.source)) return snap_error(404, sc, "11", "Invalid Account");
      if (sc == "18" || !f.sim->has_account(movement.destination_id)) {
        // A transfer out of the bank: to a gateway's virtual or top-up account.
        const std::string bank = sc == "17" ? own_bank : body->string_at("beneficiaryBankCode").value_or("");
        auto to = beneficiary(bank, movement.destination_id);
        if (!to) return snap_error(404, sc, "11", "Invalid Account");
        if (to->va && (to->va->taken || now >= to->va->expires_at)) {
          return snap_error(403, sc, "18", "Inactive Account");
        }
        if (sc == "18" && amount->minor() > core::kBiFastLimitMinor) {
          return snap_error(403, sc, "02", "Transaction Not Permitted. [BI-FAST limit]");
        }
        movement.method = core::TopUpMethod::deposit;
        movement.destination_id = to->label;
      }
    }
    if (movement.method != core::TopUpMethod::deposit && !f.sim->has_account(movement.destination_id)) {
      return snap_error(404, sc, "11", "Invalid Account");
    }
    auto receipt = f.sim->submit_now(movement);
    if (!receipt) {
      if (receipt.error().reason == "insufficient_funds") return snap_error(403, sc, "14", "Insufficient Funds");
      return snap_error(400, sc, "01", receipt.error().message);
    }
    remember_external();
    if (movement.method == core::TopUpMethod::deposit && movement.destination_id.rfind("va:", 0) == 0) {
      virtual_accounts_.at(movement.destination_id.substr(3)).taken = true;
    }
    snap_transactions_[partner_reference] = SnapTransaction{sc, movement.idempotency_key, external};
    auto out = Value::object()
                   .set("responseCode", Value::string(fmt::format("200{}00", sc)))
                   .set("responseMessage", Value::string("Successful"))
                   .set("referenceNo", Value::string(receipt->reference))
                   .set("partnerReferenceNo", Value::string(partner_reference))
                   .set("amount", money_json(*amount));
    if (sc != "54") {
      out.set("beneficiaryAccountNo", Value::string(body->string_at("beneficiaryAccountNo").value_or("")))
          .set("sourceAccountNo", Value::string(movement.source));
    }
    return json_response(200, out);
  }
  // Status inquiries (55 for debits, 36 for transfers).
  remember_external();
  const std::string original = body->string_at("originalPartnerReferenceNo").value_or("");
  auto transaction = snap_transactions_.find(original);
  const std::string asked_service = body->string_at("serviceCode").value_or("17");
  const std::string wanted_service = sc == "55" ? "54" : asked_service == "18" ? "18" : "17";
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

}  // namespace topupd::adapters::sandbox
