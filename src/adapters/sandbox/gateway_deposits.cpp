// The sandbox's deposits: Xendit's fixed virtual accounts (legacy API,
// /callback_virtual_accounts), the accounts a SNAP transfer can pay, and the money
// moving between gateways through the sandbox's ledgers: a SNAP transfer debits the
// bank's account at once; when it settles, the destination's gateway is credited (a
// movement keyed "va:ID" or "static:TRANSFER KEY") and, for a virtual account, Xendit's signed
// "FVA paid" callback follows when that credit settles. See gateway_wire.hpp.
#include <cctype>
#include <set>

#include "gateway_wire.hpp"
#include "topupd/core/deposit.hpp"

namespace topupd::adapters::sandbox {

using namespace wire;

namespace {

ServerResponse xendit_error(int status, const std::string& code, const std::string& message) {
  return json_response(status, Value::object().set("error_code", Value::string(code)).set("message", Value::string(message)));
}

bool letters_and_spaces(const std::string& name) {
  if (name.size() < 3) return false;
  for (char c : name) {
    if (!std::isalpha(static_cast<unsigned char>(c)) && c != ' ') return false;
  }
  return true;
}

}  // namespace

net::ServerResponse Gateway::xendit_virtual_accounts(Family& f, const ServerRequest& request) {
  const std::string user = basic_user(request);
  if (user.empty() || !crypto::constant_time_equal(user, f.config.setting("secret_key"))) {
    return xendit_error(401, "INVALID_API_KEY", "API key is not authorized for this API service");
  }
  const auto va_json = [](const VirtualAccount& va, const std::string& status) {
    return Value::object()
        .set("id", Value::string(va.id))
        .set("owner_id", Value::string("sandbox"))
        .set("external_id", Value::string(va.external_id))
        .set("bank_code", Value::string(va.bank_code))
        .set("merchant_code", Value::string(va.merchant_code))
        .set("name", Value::string(va.name))
        .set("account_number", Value::string(va.account_number))
        .set("is_closed", Value::boolean(true))
        .set("is_single_use", Value::boolean(true))
        .set("expected_amount", Value::number(decimal_text(va.expected, 0)))
        .set("expiration_date", Value::string(core::format_rfc3339(va.expires_at)))
        .set("currency", Value::string("IDR"))
        .set("status", Value::string(status));
  };
  if (request.method == "GET" && request.path.rfind("/callback_virtual_accounts/", 0) == 0) {
    const std::string id = request.path.substr(27);
    for (const auto& [number, va] : virtual_accounts_) {
      if (va.id == id) {
        const bool open = !va.taken && clock_.now() < va.expires_at;
        return json_response(200, va_json(va, open ? "ACTIVE" : "INACTIVE"));
      }
    }
    return xendit_error(404, "CALLBACK_VIRTUAL_ACCOUNT_NOT_FOUND_ERROR", "Could not find callback virtual account");
  }
  const std::string payments = "/callback_virtual_account_payments/payment_id=";
  if (request.method == "GET" && request.path.rfind(payments, 0) == 0) {
    const std::string id = request.path.substr(payments.size());
    for (const auto& [number, va] : virtual_accounts_) {
      if (va.payment_id.empty() || va.payment_id != id) continue;
      return json_response(200, Value::object()
                                    .set("id", Value::string("cb_" + va.payment_id))
                                    .set("payment_id", Value::string(va.payment_id))
                                    .set("callback_virtual_account_id", Value::string(va.id))
                                    .set("external_id", Value::string(va.external_id))
                                    .set("account_number", Value::string(va.account_number))
                                    .set("bank_code", Value::string(va.bank_code))
                                    .set("merchant_code", Value::string(va.merchant_code))
                                    .set("amount", Value::number(decimal_text(va.paid, 0)))
                                    .set("currency", Value::string("IDR")));
    }
    return xendit_error(404, "CALLBACK_VIRTUAL_ACCOUNT_PAYMENT_NOT_FOUND_ERROR", "Could not find the payment");
  }
  if (request.method != "POST" || request.path != "/callback_virtual_accounts") {
    return xendit_error(404, "NOT_FOUND", "Not found");
  }
  auto body = json::parse(request.body);
  if (!body || !body->is_object()) return xendit_error(400, "API_VALIDATION_ERROR", "body must be a JSON object");
  const std::string external_id = body->string_at("external_id").value_or("");
  const std::string bank = body->string_at("bank_code").value_or("");
  const std::string name = body->string_at("name").value_or("");
  static const std::set<std::string> kBanks = {"BCA", "BNI", "BRI", "BJB", "BSI", "CIMB", "MANDIRI", "PERMATA",
                                               "SAHABAT_SAMPOERNA"};
  if (external_id.empty() || external_id.size() > 950) {
    return xendit_error(400, "API_VALIDATION_ERROR", "external_id is required (1 to 950 characters)");
  }
  if (!kBanks.count(bank)) return xendit_error(400, "BANK_NOT_SUPPORTED_ERROR", "That bank code is not supported");
  if (!letters_and_spaces(name)) {
    return xendit_error(400, "API_VALIDATION_ERROR", "name must be at least 3 letters and spaces only");
  }
  const Value* expected = body->find("expected_amount");
  const Value* closed = body->find("is_closed");
  // Whole rupiah only: a JSON number without a fraction or exponent.
  if (!closed || !closed->as_bool() || !expected || !expected->is_number() || expected->text().empty() ||
      expected->text().find_first_not_of("0123456789") != std::string::npos || expected->text().size() > 15) {
    return xendit_error(400, "API_VALIDATION_ERROR", "a closed virtual account needs expected_amount in whole rupiah");
  }
  const auto expires = core::parse_rfc3339(body->string_at("expiration_date").value_or(""));
  if (!expires || *expires <= clock_.now()) {
    return xendit_error(400, "API_VALIDATION_ERROR", "expiration_date must be a future ISO 8601 date");
  }
  const std::string account = request.header("for-user-id").value_or(f.default_account);
  if (!f.sim->has_account(account)) return xendit_error(404, "SUB_ACCOUNT_NOT_FOUND", "The for-user-id was not found");
  VirtualAccount va;
  va.id = fmt::format("fva_{:012x}", ++sequence_);
  va.external_id = external_id;
  va.bank_code = bank;
  va.merchant_code = f.config.setting("merchant_code").empty() ? "8808" : f.config.setting("merchant_code");
  va.account_number = fmt::format("{}{:010}", va.merchant_code, sequence_);
  va.name = name;
  va.expected = Money(std::stoll(expected->text()) * 100, *core::Currency::find("IDR"));
  va.expires_at = *expires;
  va.account = account;
  const Value out = va_json(va, "PENDING");
  virtual_accounts_.emplace(va.account_number, std::move(va));
  return json_response(200, out);
}

std::optional<Gateway::Beneficiary> Gateway::beneficiary(const std::string& bank_code, const std::string& account_no) {
  if (auto it = virtual_accounts_.find(account_no);
      it != virtual_accounts_.end() && core::bi_bank_code(it->second.bank_code) == bank_code) {
    return Beneficiary{family("xendit"), it->second.account, it->second.name, "va:" + account_no, &it->second};
  }
  for (auto& [type, f] : families_) {
    // A gateway's static top-up account (deposit_bank, deposit_account_no, deposit_name).
    if (type != "snap" && core::bi_bank_code(f->config.setting("deposit_bank")) == bank_code &&
        f->config.setting("deposit_account_no") == account_no && !account_no.empty()) {
      return Beneficiary{f.get(), f->default_account, f->config.setting("deposit_name"), "static:" + type, nullptr};
    }
  }
  return std::nullopt;
}

void Gateway::credit_deposit(const SandboxLedgerEntry& transfer) {
  if (transfer.declined) return;  // the bank gave the money back: nothing arrives
  const std::string& label = transfer.account;
  Family* to = nullptr;
  std::string account;
  std::string key;
  if (label.rfind("va:", 0) == 0) {
    auto it = virtual_accounts_.find(label.substr(3));
    if (it == virtual_accounts_.end()) return;
    VirtualAccount& va = it->second;
    va.payment_id = fmt::format("pay_{:012x}", ++sequence_);
    va.paid = transfer.amount;
    to = family("xendit");
    account = va.account;
    key = "va:" + va.id;
  } else if (label.rfind("static:", 0) == 0) {
    to = family(label.substr(7));
    account = to ? to->default_account : "";
    key = "static:" + transfer.idempotency_key;
  }
  if (!to) return;
  const TopUpRequest credit{key, core::TopUpMethod::direct_debit, account, transfer.idempotency_key, transfer.amount};
  (void)to->sim->submit_now(credit);
}

net::ServerResponse Gateway::pay_as_a_person(const json::Value& body) {
  const Value* late = body.find("late");
  if (auto qr = body.string_at("qr_string")) return pay_qr_code(*qr, late && late->as_bool());
  const std::string number = body.string_at("account_number").value_or("");
  const auto it = virtual_accounts_.find(number);
  if (it == virtual_accounts_.end()) {
    return json_response(404, Value::object().set("error", Value::string("no virtual account " + number)));
  }
  VirtualAccount& va = it->second;
  const auto amount = core::parse_money(body.string_at("amount").value_or(""));
  if (!amount.value || !amount.value->is_positive() || !(amount.value->currency() == va.expected.currency())) {
    return json_response(400, Value::object().set("error", Value::string("amount: a positive IDR amount, e.g. \"IDR 1_000\"")));
  }
  if (va.taken) return json_response(409, Value::object().set("error", Value::string("already paid: single use")));
  if (clock_.now() >= va.expires_at && !(late && late->as_bool())) {
    return json_response(410, Value::object().set("error", Value::string("expired (\"late\": true pays it anyway)")));
  }
  va.taken = true;
  va.payment_id = fmt::format("pay_{:012x}", ++sequence_);
  va.paid = *amount.value;
  Family* xendit = family("xendit");
  const TopUpRequest credit{"va:" + va.id, core::TopUpMethod::direct_debit, va.account, "person", *amount.value};
  if (auto receipt = xendit->sim->submit_now(credit); !receipt) {
    return json_response(400, Value::object().set("error", Value::string(receipt.error().message)));
  }
  return json_response(200, Value::object().set("payment_id", Value::string(va.payment_id)));
}

std::optional<net::Request> Gateway::virtual_account_paid(Family& f, const SandboxLedgerEntry& credit) {
  const std::string id = credit.idempotency_key.substr(3);
  const VirtualAccount* va = nullptr;
  for (const auto& [number, candidate] : virtual_accounts_) {
    if (candidate.id == id) va = &candidate;
  }
  if (!va) return std::nullopt;
  net::Request hook = xendit_callback(f.config);
  hook.body = Value::object()
                  .set("id", Value::string(fmt::format("cb_{}", va->payment_id)))
                  .set("payment_id", Value::string(va->payment_id))
                  .set("callback_virtual_account_id", Value::string(va->id))
                  .set("owner_id", Value::string("sandbox"))
                  .set("external_id", Value::string(va->external_id))
                  .set("account_number", Value::string(va->account_number))
                  .set("bank_code", Value::string(va->bank_code))
                  .set("merchant_code", Value::string(va->merchant_code))
                  .set("amount", Value::number(decimal_text(credit.amount, 0)))
                  .set("currency", Value::string("IDR"))
                  .set("transaction_timestamp", Value::string(core::format_rfc3339(credit.created_at)))
                  .serialize();
  return hook;
}

}  // namespace topupd::adapters::sandbox
