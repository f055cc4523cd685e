// The SNAP transport shared by the SNAP provider's calls: the B2B token
// (SHA256withRSA), the HMAC-SHA512 signature of every transactional call, X-TIMESTAMP
// and X-EXTERNAL-ID, and what a responseCode means. Private to src/adapters/providers.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "http_provider_base.hpp"

namespace topupd::adapters::providers {

// "2001100" → {200, "11", "00"}; a bare JSON number is accepted too.
struct ResponseCode {
  int http = 0;
  std::string service;
  std::string code_case;
  std::string text;
};

std::optional<ResponseCode> response_code(const Value& body);
// SNAP amounts are String(16,2): two decimals whatever the currency's exponent.
Value snap_money_json(const Money& money);

class SnapClient : public HttpProvider {
 public:
  using Answer = std::pair<ResponseCode, Value>;

  SnapClient(const config::ProviderConfig& c, asio::any_io_executor e, const core::Clock& clock, core::Random& r);

  // Signs and sends one transactional call. The body is serialised once; those
  // bytes are signed and sent. An expired token (401xx01) is renewed and the call
  // made once more with the same body and X-EXTERNAL-ID. `on_queue` goes with the call
  // itself, not with a token fetch it may wait for (net::Request::on_queue).
  asio::awaitable<ProviderResult<Answer>> transact(const std::string& service, const Value& body,
                                                   const std::string& external_id, bool moves_money,
                                                   std::function<void(bool)> on_queue = {});
  // X-TIMESTAMP now, in the bank's offset.
  std::string timestamp() const;
  // Reads need an X-EXTERNAL-ID of their own, unique within the day.
  std::string read_external_id();
  ProviderError code_error(const ResponseCode& code, bool moves_money) const;
  ProviderError malformed_answer(const std::string& what, bool moves_money) const { return malformed(what, moves_money); }
  // What the answer to a debit or transfer under `reference` says; nullopt for a
  // duplicate partnerReferenceNo (409xx01): the bank has it, the caller looks it up.
  std::optional<ProviderResult<TopUpReceipt>> receipt_of(const Answer& answer, const std::string& reference,
                                                         bool debit) const;
  // The status inquiry `service` (debit/status, transfer/status) of the top-up sent
  // under `top_up`'s key with `service_code`; nullopt when the bank never had it.
  asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> status_inquiry(const TopUpRequest& top_up,
                                                                              const std::string& service,
                                                                              const std::string& service_code);
  const config::ProviderConfig& config() const { return config_; }

 private:
  std::string path(const std::string& service) const { return config_.snap.path_prefix + "/v1.0/" + service; }
  asio::awaitable<ProviderResult<std::string>> token(bool renew);

  asio::any_io_executor executor_;
  int offset_minutes_ = 0;
  std::string token_;
  core::MonotonicTime token_refresh_at_{};
  bool minting_ = false;
};

// A look-up's word as a submit's answer: found, or an unknown outcome.
ProviderResult<TopUpReceipt> from_look_up(const ProviderResult<std::optional<TopUpReceipt>>& found);

// Deposits paid through SNAP (snap_deposit.cpp): the beneficiary checked by account
// inquiry, then an intrabank or interbank transfer under the key's partnerReferenceNo;
// the look-up is the transfer status inquiry.
asio::awaitable<ProviderResult<TopUpReceipt>> pay_deposit(SnapClient& snap, const TopUpRequest& top_up);
asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up_deposit(SnapClient& snap,
                                                                             const TopUpRequest& top_up);

}  // namespace topupd::adapters::providers
