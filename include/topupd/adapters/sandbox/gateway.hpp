// The stand-alone sandbox's gateway logic: Stripe, Xendit, SNAP, Midtrans Iris, Flip
// and a generic JSON API, each at the same paths and in the same wire format as the
// real service, over simulated draining accounts (SandboxProvider).
//
// It checks credentials and signatures like the real services and answers with
// their real error shapes; keeps Stripe-style idempotency (replays carry
// `Idempotent-Replayed: true`, other parameters under a used key get a 400) and
// SNAP's duplicate checks (`409xx01` for a reused partnerReferenceNo, `409xx00` for
// a reused X-EXTERNAL-ID on the same day); and announces settled movements with
// signed webhooks. `/_sandbox/` holds the ledger, fault injection and account
// controls. Pure request → response logic: the HTTP server and the webhook sender
// live in the app.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "topupd/adapters/net/http.hpp"
#include "topupd/adapters/net/http_server.hpp"
#include "topupd/adapters/providers/sandbox_provider.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::adapters::json {
class Value;
}

namespace topupd::adapters::sandbox {

// Misbehaviour injected per wire format through POST /_sandbox/faults.
struct Fault {
  core::Duration latency{0};
  int status = 0;           // answer with this HTTP status (e.g. 503)
  int rate_percent = 100;   // share of requests affected
  bool malformed = false;   // 200 with a body that is not the expected JSON
  bool reset = false;       // close the connection without answering
  bool hang = false;        // never answer
  bool after_apply = false; // apply the request first, then misbehave (the answer is lost)
  bool duplicate_webhooks = false;
  int remaining = -1;       // requests left to affect; -1: until cleared
  std::string path{};       // only requests whose path starts with this (empty: all of the format)
  // Whether requests misbehave (duplicate_webhooks alone changes only webhooks).
  bool affects_requests() const;
};

class Gateway {
 public:
  Gateway(const config::SandboxServerConfig& config, const core::Clock& clock);
  ~Gateway();

  net::ServerResponse handle(const net::ServerRequest& request);
  // Webhooks for movements settled since the last call, and for Stripe a
  // balance.available for each balance changed through /_sandbox/accounts/ID,
  // signed and ready to send.
  std::vector<net::Request> take_webhooks();
  // Whether a webhook waits that need not wait for the next settlement check.
  bool webhook_waiting() const { return !balance_events_.empty() || !payout_events_.empty(); }
  std::string ledger_json();

 private:
  struct Family;
  struct StripeTopUp;
  struct SnapTransaction;
  struct StoredResponse;
  struct VirtualAccount;
  struct Beneficiary;
  struct XenditPayout;
  struct QrCode;
  struct FlipDisbursement;

  Family* family(const std::string& type);
  net::ServerResponse dispatch(const net::ServerRequest& request);
  net::ServerResponse control(const net::ServerRequest& request);
  net::ServerResponse stripe(Family& f, const net::ServerRequest& request);
  net::ServerResponse xendit(Family& f, const net::ServerRequest& request);
  net::ServerResponse iris(Family& f, const net::ServerRequest& request);
  net::ServerResponse flip(Family& f, const net::ServerRequest& request);
  net::ServerResponse generic(Family& f, const net::ServerRequest& request);
  net::ServerResponse generic_top_ups(Family& f, const net::ServerRequest& request);
  net::ServerResponse snap(Family& f, const net::ServerRequest& request, const std::string& service_path);
  // Deposits (gateway_deposits.cpp): Xendit's fixed virtual accounts, the accounts a
  // SNAP transfer can pay (a virtual account, a gateway's static top-up account, or an
  // account of the SNAP bank itself), and crediting them once the transfer settles.
  net::ServerResponse xendit_virtual_accounts(Family& f, const net::ServerRequest& request);
  std::optional<Beneficiary> beneficiary(const std::string& bank_code, const std::string& account_no);
  // A SNAP deposit that settled: credits the gateway its destination belongs to.
  void credit_deposit(const SandboxLedgerEntry& transfer);
  std::optional<net::Request> virtual_account_paid(Family& f, const SandboxLedgerEntry& credit);
  // POST /_sandbox/pay {"account_number", "amount", "late"}: a person pays a virtual
  // account from their own bank, any amount; "late": even after it expired. With
  // {"qr_string"} instead, a person's app pays a QRIS code (its own amount).
  net::ServerResponse pay_as_a_person(const json::Value& body);
  // Xendit's payouts (gateway_payouts.cpp): create, look up by id or reference_id; a
  // payout's status now; its webhook; the payout a ledger movement belongs to; and
  // POST /_sandbox/payouts/ID/reverse.
  net::ServerResponse xendit_payouts(Family& f, const net::ServerRequest& request);
  std::string payout_status(const XenditPayout& payout);
  json::Value payout_json(const XenditPayout& payout, bool as_created = false);
  std::optional<net::Request> payout_webhook(Family& f, const std::string& id, const std::string& event);
  std::optional<std::string> payout_of(const std::string& ledger_key) const;
  net::ServerResponse reverse_payout(const std::string& id);
  net::ServerResponse flip_disbursements(Family& f, const net::ServerRequest& request);
  json::Value disbursement_json(const FlipDisbursement& d);
  // Xendit's QR codes (gateway_qris.cpp): create and get; a person paying one
  // (/_sandbox/pay with qr_string); its qr.payment callback once the credit settled.
  net::ServerResponse xendit_qr_codes(Family& f, const net::ServerRequest& request);
  json::Value qr_code_json(const QrCode& code);
  net::ServerResponse pay_qr_code(const std::string& qr_string, bool late);
  std::optional<net::Request> qr_code_paid(Family& f, const SandboxLedgerEntry& credit);
  std::string stripe_topup_json(const StripeTopUp& topup);
  bool draw(int percent);

  const core::Clock& clock_;
  std::mt19937_64 random_{7};
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::map<std::string, StoredResponse> stripe_keys_;   // Idempotency-Key → first answer
  struct GenericTopUp {
    std::string account;
    core::Money amount;
  };
  std::map<std::string, GenericTopUp> generic_top_ups_;  // generic API: Idempotency-Key → what it asked
  std::map<std::string, StripeTopUp> stripe_topups_;     // tu_… → top-up
  std::map<std::string, SnapTransaction> snap_transactions_;  // partnerReferenceNo → transaction
  std::map<std::string, std::string> snap_external_ids_;      // day|X-EXTERNAL-ID → partnerReferenceNo
  std::map<std::string, core::Timestamp> snap_tokens_;        // access token → expiry
  std::map<std::string, VirtualAccount> virtual_accounts_;  // account number → Xendit virtual account
  std::vector<std::string> balance_events_;  // Stripe accounts whose balance was set
  std::map<std::string, XenditPayout> payouts_;     // disb-… → payout
  std::map<std::string, QrCode> qr_codes_;          // qr_… → QR code
  std::map<std::string, FlipDisbursement> flip_disbursements_;  // idempotency-key → disbursement
  std::map<std::string, std::string> payout_keys_;  // idempotency-key → disb-…
  std::vector<std::pair<std::string, std::string>> payout_events_;  // (disb-…, event) not yet announced
  std::uint64_t sequence_ = 0;
};

}  // namespace topupd::adapters::sandbox
