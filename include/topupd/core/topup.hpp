// The top-up journal's states and the transitions between them.
//
//   planned → submitted → pending → succeeded | failed
//                 └──────→ unknown ─(look-up)→ pending | succeeded | failed | (resubmit, same key)
//   awaiting_approval → planned (approved) | rejected | expired (not decided in time)
//   planned → expired: a deposit's ticket ran out before its payment left
//   planned → pending → succeeded | expired: a deposit a person pays, or lets expire
//
// `planned` is recorded with the idempotency key before any request leaves; `unknown`
// means a request may or may not have been executed (timeout, reset, 5xx) and must be
// looked up at the provider before anything else happens for that account.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "topupd/core/money.hpp"
#include "topupd/core/rules.hpp"
#include "topupd/core/time.hpp"

namespace topupd::core {

enum class TopUpState { awaiting_approval, planned, submitted, pending, succeeded, failed, unknown, rejected, expired };

std::string_view to_string(TopUpState state);
// succeeded, failed, rejected and expired: nothing more will happen to this top-up.
bool is_terminal(TopUpState state);
// Whether a top-up in this state uses up its rule's daily limits: everything except
// the states in which nothing was or will be moved (failed, rejected, expired).
bool counts_toward_limits(TopUpState state);
// Whether the journal may move a top-up from `from` to `to`.
bool can_transition(TopUpState from, TopUpState to);

// Parses what to_string wrote; nullopt for anything else.
std::optional<TopUpState> top_up_state_from(std::string_view text);

// One top-up as the journal knows it.
struct TopUpRecord {
  std::string key;             // the idempotency key: the same on every retry
  std::string rule;
  std::string account;         // the account topped up
  std::string provider;        // the provider that executes it
  TopUpMethod method;
  std::string destination_id;  // the account's id at the provider
  std::string source;          // sweep: source account id; direct debit: bank account number
  Money amount;
  TopUpState state;
  std::string reference;       // the provider's id, once known
  std::string last_error;
  Timestamp created_at;
  std::optional<Timestamp> settled_at;  // dated by the first poll that could show it
  std::uint32_t rail = 0;      // which of the rule's rails (core/rules.hpp) it went on
  std::string need{};          // the key of its need's first rail; empty: it is the first
  // Once it ended: a balance asked for from this instant on was asked after the end, so
  // it shows the outcome; one asked earlier may not. Kept in memory only: a record that
  // ended before this run has none, and every balance of this run was asked after it.
  std::optional<Timestamp> balance_shows_from{};
  // Deposits: the provider that issues its ticket (empty: none is issued), and where
  // the money goes once known, journalled before the payment leg leaves.
  std::string ticket_provider{};
  std::optional<DepositTicket> ticket{};
};

// A deposit whose destination is not known yet: its ticket must be issued first.
inline bool needs_ticket(const TopUpRecord& record) {
  return record.method == TopUpMethod::deposit && !record.ticket;
}

// A deposit a person pays: no account of ours pays it (a bank's payment names the
// account it pays from), and its "payment leg" is the ticket's own gateway, which says
// when the ticket was paid.
inline bool paid_by_person(const TopUpRecord& record) {
  return record.method == TopUpMethod::deposit && !record.ticket_provider.empty() && record.source.empty();
}

inline constexpr TopUpState kAllTopUpStates[] = {
    TopUpState::awaiting_approval, TopUpState::planned, TopUpState::submitted, TopUpState::pending,
    TopUpState::succeeded, TopUpState::failed, TopUpState::unknown, TopUpState::rejected, TopUpState::expired};

}  // namespace topupd::core
