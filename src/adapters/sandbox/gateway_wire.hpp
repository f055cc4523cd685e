// What the sandbox's wire formats share: the gateway's private types and small
// helpers for JSON, authentication headers and signatures. gateway.cpp routes a
// request and runs faults and control; gateway_stripe.cpp, gateway_wallets.cpp
// (Xendit, Midtrans Iris, Flip, generic) and gateway_snap.cpp each speak one format.
//
// Private to src/adapters/sandbox.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"
#include "topupd/adapters/json.hpp"
#include "topupd/adapters/sandbox/gateway.hpp"

namespace topupd::adapters::sandbox {

using core::Money;
using json::Value;
using net::ServerRequest;
using net::ServerResponse;

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

// A Xendit fixed virtual account: closed to its expected amount, single use.
struct Gateway::VirtualAccount {
  std::string id;
  std::string external_id;
  std::string bank_code;       // Xendit's name of the bank: "BNI"
  std::string merchant_code;
  std::string account_number;  // merchant code + suffix: what the payer types
  std::string name;
  core::Money expected{0, *core::Currency::find("IDR")};
  core::Timestamp expires_at{};
  std::string account;         // the Xendit account a payment credits
  bool taken = false;          // a transfer to it was accepted: single use
  std::string payment_id;      // once the money arrived
  core::Money paid{0, *core::Currency::find("IDR")};
};

// A Xendit payout (Payouts v2): the money leaves `account` as the ledger movement
// `ledger_key`, unless it failed at once (`failure_code`).
struct Gateway::XenditPayout {
  std::string id;  // disb-…
  std::string reference_id;
  std::string channel_code;
  std::string account_number;
  std::string holder;
  std::string description;
  core::Money amount{0, *core::Currency::find("IDR")};
  std::string account;     // the Xendit account paying
  std::string ledger_key;  // "xpo:" + idempotency-key
  std::string failure_code;
  bool reversed = false;
  core::Timestamp created{};
};

// A Flip disbursement: the money leaves Flip's balance as `ledger_key` unless it failed
// at once (`reason`).
struct Gateway::FlipDisbursement {
  std::int64_t id = 0;
  std::string key;  // idempotency-key
  std::string parameters;  // what the key was first used for
  std::string account_number, bank_code, recipient_name, remark;
  core::Money amount{0, *core::Currency::find("IDR")};
  std::string ledger_key;  // "flp:" + key
  std::string reason;
  core::Timestamp created{};
};

// A Xendit dynamic QR code: paid once (payment_id), or expired.
struct Gateway::QrCode {
  std::string id;  // qr_…
  std::string reference_id;
  core::Money amount{0, *core::Currency::find("IDR")};
  std::string qr_string;
  std::string account;  // the Xendit account a payment credits
  core::Timestamp created{};
  core::Timestamp expires_at{};
  std::string payment_id;  // qrpy_…, once paid
};

// Where a SNAP transfer to (bank, account number) lands.
struct Gateway::Beneficiary {
  Family* family = nullptr;   // the gateway (or the SNAP bank) credited
  std::string account;        // its account credited
  std::string name;           // the holder's name an account inquiry answers
  std::string label;          // the ledger's name of the destination: "va:NUMBER", "static:TYPE"
  VirtualAccount* va = nullptr;
};

struct Gateway::StoredResponse {
  std::string parameters;
  int status = 200;
  std::string body;
};

namespace wire {

// "12345.67" (or "12345" with decimals 0) from minor units, with the currency's exponent.
inline std::string decimal_text(const Money& money, int decimals) {
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

// A callback Xendit sends to the gateway's webhook_url, with its x-callback-token.
inline net::Request xendit_callback(const config::SandboxGatewayConfig& config) {
  net::Request hook;
  hook.method = "POST";
  hook.url = config.webhook_url;
  hook.headers.emplace_back("Content-Type", "application/json");
  hook.headers.emplace_back("x-callback-token", config.setting("callback_token"));
  return hook;
}

inline ServerResponse json_response(int status, const Value& body) { return ServerResponse::json(status, body.serialize()); }

inline Value money_json(const Money& money) {
  return Value::object()
      .set("value", Value::string(decimal_text(money, 2)))
      .set("currency", Value::string(std::string(money.currency().code())));
}

inline std::string basic_user(const ServerRequest& request) {
  auto header = request.header("Authorization");
  if (!header || header->rfind("Basic ", 0) != 0) return "";
  auto decoded = crypto::unbase64(header->substr(6));
  if (!decoded) return "";
  return decoded->substr(0, decoded->find(':'));
}

inline std::string bearer(const ServerRequest& request) {
  auto header = request.header("Authorization");
  if (!header || header->rfind("Bearer ", 0) != 0) return "";
  return header->substr(7);
}

inline std::string query_param(const std::string& query, const std::string& name) {
  for (const auto& [key, value] : net::parse_form(query)) {
    if (key == name) return value;
  }
  return "";
}

inline std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

inline std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

inline std::int64_t unix_seconds(core::Timestamp at) {
  return std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count();
}

// Stripe's webhook signature: HMAC-SHA256 of "<t>.<body>" in Stripe-Signature.
inline void sign_stripe(net::Request& hook, const std::string& secret, core::Timestamp now) {
  const std::string t = std::to_string(unix_seconds(now));
  const std::string signature = crypto::hex(crypto::hmac_sha256(secret, t + "." + hook.body));
  hook.headers.emplace_back("Stripe-Signature", "t=" + t + ",v1=" + signature);
}

// SNAP's X-TIMESTAMP, as banks send it: local time with the offset.
inline std::string snap_timestamp(core::Timestamp at) {
  const auto local = at + std::chrono::hours(7);
  const auto days = std::chrono::floor<std::chrono::days>(local);
  const std::chrono::year_month_day date(days);
  const std::chrono::hh_mm_ss time(std::chrono::floor<std::chrono::seconds>(local - days));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+07:00", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count());
}

inline ServerResponse snap_error(int http, const std::string& service, const std::string& code_case, std::string message) {
  return json_response(http, Value::object()
                                 .set("responseCode", Value::string(fmt::format("{}{}{}", http, service, code_case)))
                                 .set("responseMessage", Value::string(std::move(message))));
}

inline ServerResponse stripe_error(int status, const std::string& type, const std::string& message,
                            const std::string& code = "") {
  auto error = Value::object().set("type", Value::string(type)).set("message", Value::string(message));
  if (!code.empty()) error.set("code", Value::string(code));
  return json_response(status, Value::object().set("error", std::move(error)));
}

}  // namespace wire

}  // namespace topupd::adapters::sandbox
