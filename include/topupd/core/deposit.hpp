// Deposits: a top-up as a destination (where the money must arrive), a payment leg
// (who pays it) and a confirmation.
//
// The destination is the gateway's fixed top-up account (`static`: bank, account
// number, holder) or a deposit ticket created per top-up (`ticket`: a closed-amount,
// single-use virtual account with an expiry, issued by the account's gateway under the
// top-up's key). The payment leg is the company's bank paying it through SNAP
// (`snap_transfer`: intrabank when the destination is at the paying bank, interbank
// otherwise, after the beneficiary's name is checked), another gateway's balance
// (`payout`: a payout from that gateway to the destination, keyed by the top-up's key;
// the watched account it pays from is read first) or a person (`assisted`: the ticket
// goes to the rule's notifiers; its callback or its expiry ends the top-up).
// The leg that moves money is the payment: it is keyed by the top-up's key and sent at
// most once per journalled destination. A ticket's creation may be repeated after a
// lost answer (the gateway cannot look one up by key); a ticket nobody journalled is
// never paid, and expires.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "topupd/core/money.hpp"
#include "topupd/core/time.hpp"

namespace topupd::core {

struct DepositDestination {
  // ticket: a virtual account per top-up; qris: a dynamic QRIS code per top-up, which a
  // person scans and pays (its gateway credits the amount less its fee).
  enum class Kind { static_account, ticket, qris };
  Kind kind = Kind::static_account;
  std::string via;         // ticket: the provider that issues it
  std::string bank;        // static: the bank's code; ticket: the bank of the virtual account (e.g. BNI)
  std::string account_no;  // static: the account number
  std::string name;        // static: the holder's name; ticket: the name the account shows
  Duration expires_after{std::chrono::hours(6)};  // ticket, qris
  // qris: the gateway's fee on a QRIS payment, in basis points of the amount (Xendit's
  // QRIS MDR is 0.7 %): the balance is expected to rise by the amount less this.
  std::int32_t fee_basis_points = 70;
};

struct DepositPayment {
  // snap_transfer: the company's bank pays through SNAP; assisted: a person pays the
  // ticket, told of it through the rule's notifiers; payout: another gateway pays out
  // of its balance.
  enum class Kind { snap_transfer, assisted, payout };
  Kind kind = Kind::snap_transfer;
  std::string via;           // snap_transfer: the paying bank's provider; payout: the paying gateway's
  std::string from_account;  // snap_transfer: the account it pays from; payout: the watched account whose balance pays
};

struct DepositSpec {
  DepositDestination to;
  DepositPayment pay_with;
};

// Bank Indonesia's 3-digit code of a bank named as gateways name them ("BNI" → "009");
// a code is returned as it is.
std::string bi_bank_code(const std::string& bank);

// The bank's name as gateways' channel codes spell it ("009" → "BNI"); a name is
// returned upper-cased, an unknown code as it is.
std::string bank_name(const std::string& bank);

// What the destination's balance receives of `amount`: all of it, or for a QRIS code
// the amount less the gateway's fee (rounded down to the minor unit, in its favour).
Money expected_credit(const DepositDestination& to, const Money& amount);

// The most an interbank (BI-FAST) transfer may move in one transaction: IDR 250,000,000.
inline constexpr std::int64_t kBiFastLimitMinor = 250'000'000'00;

// Where a deposit's money goes, once known: the static account, or the ticket the
// gateway issued (journalled before anything pays it).
struct DepositTicket {
  std::string reference;   // the gateway's id of the ticket; empty for a static destination
  std::string bank;        // the code the paying bank sends to
  std::string account_no;  // the account or virtual account number
  std::string name;        // the holder's name the beneficiary check must find
  std::optional<Timestamp> expires_at{};
  std::string qr{};        // a QRIS ticket: the code a person's app scans (EMV QRIS payload)

  friend bool operator==(const DepositTicket&, const DepositTicket&) = default;
};

}  // namespace topupd::core
