// The Provider port: how topupd reads a balance and moves money at a gateway or bank.
//
// Every call returns either a value or a `ProviderError` classified once as
// retryable (nothing happened; safe to try again), not retryable (rejected; trying
// again will not help) or outcome unknown (the request may have been executed: look
// it up before doing anything else). Amounts are exact `Money`.
//
// Calls are coroutines on the daemon's single io_context; callers bound them with a
// timeout. A provider must accept the same idempotency key again and return the
// first outcome instead of moving money twice.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "topupd/adapters/failure.hpp"
#include "topupd/core/money.hpp"
#include "topupd/core/result.hpp"
#include "topupd/core/rules.hpp"

namespace topupd::adapters {

struct ProviderError {
  FailureKind kind;
  std::string reason;   // short, stable, low-cardinality: "timeout", "http_5xx", "insufficient_funds"
  std::string message;  // for logs; never contains a secret
};

template <class T>
using ProviderResult = core::Result<T, ProviderError>;

struct BalanceQuery {
  std::string account_id;    // the account's id at the provider
  std::string balance_kind;  // "available", "incoming", ...
  core::Currency currency;
  // Passed on to the read's request (net::Request::on_queue): how long it queued.
  std::function<void(bool waiting)> on_queue{};
};

struct TopUpRequest {
  std::string idempotency_key;
  core::TopUpMethod method;
  std::string destination_id;  // provider account id that receives the money
  std::string source;          // sweep: source account id; direct debit: bank account number
  core::Money amount;
  // Deposits: the journalled destination the payment leg pays (core/deposit.hpp).
  std::optional<core::DepositTicket> pay_to{};
};

// A deposit ticket to issue: a closed-amount, single-use account for one top-up.
struct TicketRequest {
  std::string idempotency_key;  // the top-up's key: the gateway's external id of the ticket
  std::string account_id;       // the gateway account the payment credits
  std::string bank;             // the bank of the virtual account, e.g. "BNI"
  std::string name;             // the name the account shows to the payer
  core::Money amount;           // the only amount it accepts
  core::Timestamp expires_at;
  // ticket: a virtual account (bank, name); qris: a dynamic QRIS code for the amount.
  core::DepositDestination::Kind kind = core::DepositDestination::Kind::ticket;
};

enum class ProviderTopUpStatus { pending, succeeded, failed };

struct TopUpReceipt {
  std::string reference;  // the provider's id for the movement
  ProviderTopUpStatus status;
  std::string failure;    // why, when failed
  // Failed after it had succeeded: the money came back (a payout the receiving bank
  // returned). A succeeded top-up found so needs a person.
  bool reversed = false;
};

class Provider {
 public:
  virtual ~Provider() = default;

  virtual boost::asio::awaitable<ProviderResult<core::Money>> balance(const BalanceQuery& query) = 0;

  // Starts a direct debit or sweep under `request.idempotency_key`. Sending the same
  // key again returns the first outcome; the same key with other parameters is an
  // error (not retryable).
  virtual boost::asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest& request) = 0;

  // The provider's record of the top-up `request` started (found by its idempotency
  // key, or by `reference` when the provider answered with one); nullopt when the
  // provider has none (the request never arrived).
  virtual boost::asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(
      const TopUpRequest& request, const std::string& reference) = 0;
  // Issues a deposit ticket. Not idempotent at every gateway: after a lost answer the
  // caller may ask again and leave an unpaid ticket behind, which expires.
  virtual boost::asio::awaitable<ProviderResult<core::DepositTicket>> issue_ticket(const TicketRequest& request) {
    (void)request;
    co_return ProviderError{FailureKind::not_retryable, "unsupported", "this provider issues no deposit tickets"};
  }
  // Whether a webhook's partner reference names the top-up journalled under `key`:
  // formats that derive their own reference from the key (SNAP's partnerReferenceNo)
  // say so; others never match.
  virtual bool partner_reference_names(const std::string& partner_reference, const std::string& key) const {
    (void)partner_reference;
    (void)key;
    return false;
  }
};

}  // namespace topupd::adapters
