// The SNAP transport (snap_client.hpp): token, signatures, timestamps, response codes.
#include "snap_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "topupd/adapters/crypto/crypto.hpp"

namespace topupd::adapters::providers {

std::optional<ResponseCode> response_code(const Value& body) {
  const Value* code = body.find("responseCode");
  if (!code || !(code->is_string() || code->is_number())) return std::nullopt;
  const std::string& t = code->text();
  if (t.size() != 7) return std::nullopt;
  const std::string http = t.substr(0, 3);
  if (http.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return ResponseCode{std::stoi(http), t.substr(3, 2), t.substr(5, 2), t};
}

Value snap_money_json(const Money& money) {
  const std::int64_t per = money.currency().minor_per_major();
  const std::int64_t minor = money.minor();
  std::string fraction = fmt::format("{:0{}}", minor % per, money.currency().exponent());
  fraction.resize(2, '0');
  return Value::object()
      .set("value", Value::string(fmt::format("{}.{}", minor / per, fraction)))
      .set("currency", Value::string(std::string(money.currency().code())));
}

SnapClient::SnapClient(const config::ProviderConfig& c, asio::any_io_executor e, const core::Clock& clock,
                       core::Random& r)
    : HttpProvider(c, "", e, clock, r), executor_(std::move(e)) {
  if (!crypto::is_private_key(config_.snap.private_key)) {
    throw std::runtime_error(fmt::format("provider {}: private_key is not a usable RSA private key", config_.name));
  }
  const auto& off = config_.snap.utc_offset;
  offset_minutes_ = (off[0] == '-' ? -1 : 1) * (std::stoi(off.substr(1, 2)) * 60 + std::stoi(off.substr(4, 2)));
}

std::string SnapClient::timestamp() const {
  const auto local = clock_.now() + std::chrono::minutes(offset_minutes_);
  const auto days = std::chrono::floor<std::chrono::days>(local);
  const std::chrono::year_month_day date(days);
  const std::chrono::hh_mm_ss time(std::chrono::floor<std::chrono::seconds>(local - days));
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), time.hours().count(),
                     time.minutes().count(), time.seconds().count(), config_.snap.utc_offset);
}

std::string SnapClient::read_external_id() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now().time_since_epoch()).count();
  return fmt::format("{}{:06}", ms, random_.next() % 1'000'000);
}

ProviderError SnapClient::code_error(const ResponseCode& code, bool moves_money) const {
  const std::string message = fmt::format("{} answered responseCode {}", config_.name, code.text);
  if (code.http == 403 && code.code_case == "14") {
    return {FailureKind::not_retryable, "insufficient_funds", message + " (insufficient funds)"};
  }
  if (code.http == 429) return {FailureKind::retryable, "rate_limited", message};
  if (code.http >= 500) {
    return {moves_money ? FailureKind::outcome_unknown : FailureKind::retryable, fmt::format("snap_{}", code.text), message};
  }
  if (code.http == 401) return {FailureKind::not_retryable, "unauthorized", message + " (unauthorized)"};
  if (code.http == 409 && code.code_case == "00") {
    return {FailureKind::not_retryable, "duplicate_external_id", message + " (X-EXTERNAL-ID used today)"};
  }
  return {FailureKind::not_retryable, fmt::format("snap_{}", code.text), message};
}

asio::awaitable<ProviderResult<std::string>> SnapClient::token(bool renew) {
  // One mint at a time; others wait for it.
  while (minting_) {
    asio::steady_timer pause(executor_, std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  const auto now = clock_.monotonic();
  if (!renew && !token_.empty() && now < token_refresh_at_) co_return token_;
  minting_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{minting_};
  const std::string stamp = timestamp();
  auto signature = crypto::rsa_sha256_sign(config_.snap.private_key, config_.snap.client_id + "|" + stamp);
  if (!signature) co_return ProviderError{FailureKind::not_retryable, "bad_key", "cannot sign with private_key"};
  net::Request request;
  request.method = "POST";
  request.url = url(path("access-token/b2b"));
  request.headers = {{"Content-Type", "application/json"},
                     {"X-TIMESTAMP", stamp},
                     {"X-CLIENT-KEY", config_.snap.client_id},
                     {"X-SIGNATURE", crypto::base64(*signature)}};
  request.body = "{\"grantType\":\"client_credentials\"}";
  auto reply = co_await call(std::move(request));
  if (!reply) co_return reply.error();
  auto document = json::parse(reply->body);
  auto code = document ? response_code(*document) : std::nullopt;
  if (!code) co_return reply->status >= 300 ? status_error(*reply, false) : malformed("token answer", false);
  if (code->http != 200) co_return code_error(*code, false);
  const auto access = document->string_at("accessToken");
  const Value* expires = document->find("expiresIn");
  if (!access || !expires || expires->text().empty() || expires->text().size() > 7 ||
      expires->text().find_first_not_of("0123456789") != std::string::npos) {
    co_return malformed("token answer without accessToken/expiresIn", false);
  }
  const auto lifetime = std::chrono::seconds(std::stol(expires->text()));
  // Renew a minute early (or at 80% of a short lifetime), never on the edge.
  const auto margin = std::min<core::Duration>(std::chrono::seconds(60), lifetime / 5);
  token_ = *access;
  token_refresh_at_ = now + std::chrono::duration_cast<core::Duration>(lifetime) - margin;
  co_return token_;
}

asio::awaitable<ProviderResult<SnapClient::Answer>> SnapClient::transact(const std::string& service, const Value& body,
                                                                     const std::string& external_id, bool moves_money,
                                                                     std::function<void(bool)> on_queue) {
  const std::string text = body.serialize();
  const std::string target = path(service);
  for (int round = 0; round < 2; ++round) {
    auto access = co_await token(round > 0);
    if (!access) co_return access.error();
    const std::string stamp = timestamp();
    const std::string string_to_sign =
        "POST:" + target + ":" + *access + ":" + crypto::hex(crypto::sha256(text)) + ":" + stamp;
    const std::string mac = crypto::hmac_sha512(config_.snap.client_secret, string_to_sign);
    net::Request request;
    request.method = "POST";
    request.url = url(target);
    request.idempotent = false;  // each call carries its own X-EXTERNAL-ID
    request.headers = {{"Content-Type", "application/json"},
                       {"Authorization", "Bearer " + *access},
                       {"X-TIMESTAMP", stamp},
                       {"X-SIGNATURE", config_.snap.signature_encoding == "hex" ? crypto::hex(mac) : crypto::base64(mac)},
                       {"X-PARTNER-ID", config_.snap.partner_id},
                       {"X-EXTERNAL-ID", external_id},
                       {"CHANNEL-ID", config_.snap.channel_id}};
    request.body = text;
    if (round == 0) request.on_queue = on_queue;  // the call once more after a new token: not a new wait
    auto reply = co_await call(std::move(request));
    if (!reply) {
      ProviderError error = reply.error();
      // Reads are safe to repeat whatever happened on the wire.
      if (!moves_money && error.kind == FailureKind::outcome_unknown) error.kind = FailureKind::retryable;
      co_return error;
    }
    auto document = json::parse(reply->body);
    auto code = document ? response_code(*document) : std::nullopt;
    if (!code) {
      if (reply->status >= 300) co_return status_error(*reply, moves_money);
      co_return malformed("no responseCode", moves_money);
    }
    if (code->http == 401 && code->code_case == "01" && round == 0) continue;
    co_return Answer{*code, std::move(*document)};
  }
  co_return ProviderError{FailureKind::not_retryable, "unauthorized", config_.name + ": token refused twice"};
}

std::optional<ProviderResult<TopUpReceipt>> SnapClient::receipt_of(const Answer& answer, const std::string& reference,
                                                                   bool debit) const {
  const auto& [code, document] = answer;
  if (code.http == 200 || code.http == 202) {
    return TopUpReceipt{document.string_at("referenceNo").value_or(reference), ProviderTopUpStatus::pending, ""};
  }
  if (code.http == 409 && code.code_case == "01") return std::nullopt;
  if (code.http == 404 && code.code_case == "18") {
    // Inconsistent request: failed for a debit, done for a transfer (ASPI table).
    if (debit) return TopUpReceipt{reference, ProviderTopUpStatus::failed, "inconsistent request (404xx18)"};
    return TopUpReceipt{reference, ProviderTopUpStatus::succeeded, ""};
  }
  return code_error(code, true);
}

asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> SnapClient::status_inquiry(const TopUpRequest& top_up,
                                                                                        const std::string& service,
                                                                                        const std::string& service_code) {
  Value body = Value::object()
                   .set("originalPartnerReferenceNo", Value::string(snap_partner_reference(top_up.idempotency_key)))
                   .set("originalExternalId", Value::string(snap_external_id(top_up.idempotency_key)))
                   .set("serviceCode", Value::string(service_code));
  const std::string external = read_external_id();
  auto reply = co_await transact(service, body, external, false);
  if (!reply) co_return reply.error();
  const auto& [code, document] = *reply;
  if (code.http == 404 && code.code_case == "01") co_return std::optional<TopUpReceipt>();
  if (code.http != 200) co_return code_error(code, false);
  const auto status = document.string_at("latestTransactionStatus");
  const std::string reference = document.string_at("originalReferenceNo").value_or("");
  if (!status) co_return malformed("no latestTransactionStatus", false);
  if (*status == "00") co_return std::optional(TopUpReceipt{reference, ProviderTopUpStatus::succeeded, ""});
  if (*status == "01" || *status == "02" || *status == "03") {
    co_return std::optional(TopUpReceipt{reference, ProviderTopUpStatus::pending, ""});
  }
  if (*status == "07") co_return std::optional<TopUpReceipt>();
  const std::string why = document.string_at("transactionStatusDesc").value_or("status " + *status);
  co_return std::optional(TopUpReceipt{reference, ProviderTopUpStatus::failed, why});
}

ProviderResult<TopUpReceipt> from_look_up(const ProviderResult<std::optional<TopUpReceipt>>& found) {
  if (!found) return found.error();
  if (!*found) return ProviderError{FailureKind::outcome_unknown, "duplicate_unconfirmed", "duplicate but not found"};
  return **found;
}

}  // namespace topupd::adapters::providers
