// The embedded sandbox: a simulated gateway inside the daemon, the default provider.
//
// Each simulated account drains at a configured rate (simulated payouts) and may
// receive a steady inflow (simulated customer payments), each varying by a configured
// noise, and may be set to fail a share of balance reads (a simulated outage). Top-up
// requests can be made to fail before anything is applied, or to lose their answer
// after the movement was applied: both leave the caller not knowing the outcome.
// A share of accepted top-ups can be declined by the simulated bank (`decline`): they
// settle as failed, credit nothing and give a sweep's source its money back. Another
// share (`phantom_credits`) is reported succeeded but never credited, the gateway bug
// that top-up verification exists to catch.
// Direct debits credit the account after `settle_after`; sweeps take the money
// out of the source at once and credit the destination after `settle_after`; deposits
// take it out of the source at once and settle after `settle_after` without crediting
// anything here (the stand-alone sandbox credits the other gateway then). Time
// is read from the injected Clock and movements settle lazily when the sandbox is next
// asked, so a fake clock drives it deterministically.
//
// Deposits inside it: it issues tickets (virtual accounts numbered from 8808 that credit
// one of its accounts), a deposit whose request carries the ticket is paid from one of
// its accounts like a sweep under the top-up's key, and with `pay_tickets_after` a
// simulated person pays a ticket that long after it was issued (a movement under the
// top-up's key, so a look-up finds it). The stand-alone sandbox's own SNAP bank sends
// deposits without a ticket: they leave the source and credit nothing here.
//
// The sandbox keeps its own ledger of every top-up and sweep: the witness that tests
// compare topupd's own records against.
#pragma once

#include <map>
#include <random>
#include <set>
#include <vector>

#include "topupd/adapters/providers/provider.hpp"
#include "topupd/config/config.hpp"
#include "topupd/core/clock.hpp"

namespace topupd::adapters {

struct SandboxLedgerEntry {
  std::string id;               // "sbx_1", ...
  core::TopUpMethod kind;
  std::string account;          // destination
  std::string source;           // sweep source account, or the debited bank account
  core::Money amount;
  std::string idempotency_key;
  core::Timestamp created_at;
  core::Timestamp settles_at;
  bool settled = false;   // completed: credited, or (declined) given back
  bool declined = false;  // the bank refused it after accepting: it settles as failed
  bool phantom = false;   // reported succeeded but never credited (a simulated gateway bug)
};

// A QRIS payload as an acquirer would make one for a dynamic code (EMV merchant-presented
// TLV fields, amount in whole rupiah, `reference` in the additional data, CRC-16/CCITT
// last): what both sandboxes issue as a QRIS ticket's code.
std::string sandbox_qris_payload(const std::string& merchant, const core::Money& amount, const std::string& reference);

class SandboxProvider final : public Provider {
 public:
  SandboxProvider(const config::ProviderConfig& config, const core::Clock& clock);

  boost::asio::awaitable<ProviderResult<core::Money>> balance(const BalanceQuery& query) override;
  boost::asio::awaitable<ProviderResult<TopUpReceipt>> submit(const TopUpRequest& request) override;
  boost::asio::awaitable<ProviderResult<std::optional<TopUpReceipt>>> look_up(
      const TopUpRequest& request, const std::string& reference) override;
  boost::asio::awaitable<ProviderResult<core::DepositTicket>> issue_ticket(const TicketRequest& request) override;
  ProviderResult<core::DepositTicket> issue_ticket_now(const TicketRequest& request);

  // Synchronous forms of the above, for the coroutine wrappers and for tests.
  ProviderResult<core::Money> balance_now(const std::string& account_id);
  ProviderResult<TopUpReceipt> submit_now(const TopUpRequest& request);
  std::optional<TopUpReceipt> look_up_now(const std::string& idempotency_key);

  // Movements that settled since the last call, as indexes into ledger().
  std::vector<std::size_t> take_settled();
  // Money on its way to the account: accepted, not yet settled.
  std::optional<core::Money> pending_total(const std::string& account_id);
  struct AccountChange {
    std::optional<core::Money> balance;
    std::optional<core::Money> drain_per_minute;
    std::optional<core::Money> inflow_per_minute;
    std::optional<int> fail_percent;
  };
  // False when there is no such account or an amount is in another currency.
  bool set_account(const std::string& account_id, const AccountChange& change);
  bool has_account(const std::string& account_id) const;
  std::vector<std::string> account_ids() const;

  // Every top-up and sweep ever accepted, in order.
  const std::vector<SandboxLedgerEntry>& ledger() const { return ledger_; }
  // The ledger as JSON: {"provider":…,"entries":[…],"accounts":[…]}.
  std::string ledger_json();

 private:
  struct Account {
    config::SandboxAccountConfig config;
    core::Money balance;
    core::Timestamp updated_at;
    core::Money paid_out;  // total of simulated payouts
    std::int64_t reads = 0;  // balance asked for: how many pollers a gateway sees
  };

  // Brings every account to `now`: drift, then movements due by now.
  void advance(core::Timestamp now);
  void drift_to(Account& account, core::Timestamp now);
  // Credits movements due by `now`.
  void settle(core::Timestamp now);
  void drift(Account& account, core::Duration elapsed);
  // Applies a request exactly once per idempotency key.
  ProviderResult<TopUpReceipt> apply(const TopUpRequest& request);
  TopUpReceipt receipt_of(const SandboxLedgerEntry& entry) const;

  std::string name_;
  core::Duration settle_after_;
  int lose_answers_percent_;
  int fail_before_apply_percent_;
  int decline_percent_;
  int phantom_percent_;
  std::set<std::string> decline_from_;  // debits from these bank accounts are declined
  const core::Clock& clock_;
  std::mt19937_64 random_;
  std::map<std::string, Account> accounts_;
  std::vector<SandboxLedgerEntry> ledger_;
  std::map<std::string, std::size_t> by_key_;  // idempotency key → ledger index
  std::vector<std::size_t> unsettled_;         // ledger indexes not yet credited
  std::vector<std::size_t> newly_settled_;     // settled since take_settled()

  struct Ticket {
    TicketRequest asked;
    core::DepositTicket issued;
    core::Timestamp at;
    bool taken = false;  // paid, by a deposit or a person
  };
  // Pays, as a person, the tickets due by `now` (pay_tickets_after).
  void pay_due_tickets(core::Timestamp now);
  // A deposit that carries its ticket: paid from `request.source` to the ticket's account.
  ProviderResult<TopUpReceipt> pay_ticket(const TopUpRequest& request);
  core::Duration pay_tickets_after_;
  std::map<std::string, Ticket> tickets_;  // by account number (a QRIS code: by its id)
};

}  // namespace topupd::adapters
