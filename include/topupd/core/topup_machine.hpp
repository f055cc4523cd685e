// The top-up machine: what happens next to a journalled top-up, decided purely.
//
// The executor in `app` owns the I/O (the journal, the provider calls, timers); this
// machine owns the choices. Given a top-up's journal record and something that
// happened to it, `step` returns the actions to take, in order. It never reads a
// clock and never performs them, so tests drive it by hand through every
// (state, event) pair.
//
// The money-safety choices it encodes:
//   * a request leaves only from `planned` (first send) or from `unknown` after a
//     look-up found nothing at the provider, always under the same key, and the
//     journal says `submitted` before it leaves;
//   * a timeout, reset or 5xx of a request makes the top-up `unknown`: looked up at
//     the provider, never sent again blindly;
//   * a look-up that fails changes nothing (it is tried again at the next poll);
//   * a webhook is only a hint: it triggers a look-up, never a transition by itself;
//   * a restart turns `submitted` into `unknown` (the request may have arrived);
//   * approval, rejection and expiry apply only to a top-up awaiting approval;
//   * a deposit to a ticket (core/deposit.hpp) asks for its ticket first, from
//     `planned`, and again after a lost answer; its payment leaves only once the
//     executor has journalled the ticket it pays.
#pragma once

#include <string>
#include <vector>

#include "topupd/core/topup.hpp"

namespace topupd::core {

// What a provider says of a top-up it holds.
enum class ProviderOutcome { pending, succeeded, failed };

struct TopUpEvent {
  enum class Kind {
    planned,          // the record was just journalled (planned or awaiting_approval)
    answered,         // the provider answered the request: `outcome`, `reference`, `detail` (failure text)
    refused,          // the provider refused the request outright (a 4xx that moved nothing): `detail`
    no_answer,        // timeout, reset, 5xx: the request may or may not have been executed: `detail`
    found,            // a look-up found it: `outcome`, `reference`, `detail`
    not_found,        // a look-up says the provider never received it
    look_up_failed,   // the look-up itself failed: `detail`
    look_up_due,      // a poll of the account, or a webhook that names the top-up (`detail`: its event id)
    restarted,        // topupd started again with this record in the journal
    approved,         // a person approved it: `detail` names who
    rejected,         // a person rejected it: `detail` names who and why
    approval_expired, // nobody decided within the rule's approval_expires: `detail` says how long
    ticket_issued,    // the deposit's ticket was issued and journalled on the record
    ticket_refused,   // the gateway refused to issue the ticket (nothing can be paid): `detail`
    ticket_unanswered,// the ticket request got no answer: `detail`
    ticket_expired,   // the journalled ticket's expiry passed: `detail`
  };
  Kind kind;
  ProviderOutcome outcome = ProviderOutcome::pending;
  std::string reference{};  // the provider's id, when the answer carries one
  std::string detail{};
};

struct TopUpAction {
  enum class Kind {
    journal,             // record a transition to `to` with `why`; keep `reference` and `error` when not empty
    send,                // journal `submitted` with `why`, then send the request under the record's key
    look_up,             // ask the provider about the record's key
    start_verification,  // watch the balance for the amount to arrive
    request_ticket,      // ask the destination's gateway for the deposit's ticket, under the record's key
  };
  Kind kind;
  TopUpState to = TopUpState::planned;  // journal
  std::string why;                      // journal, send
  std::string reference;                // journal: the provider's id learnt with this event
  std::string error;                    // journal: the failure to keep as last_error
  // journal to succeeded: the credit is dated by the latest poll (a look-up found it
  // settled) rather than by the next poll (the answer came with the request).
  bool dated_by_latest_poll = false;

  friend bool operator==(const TopUpAction&, const TopUpAction&) = default;
};

std::string_view to_string(TopUpEvent::Kind kind);
std::string_view to_string(TopUpAction::Kind kind);

// The next actions for `record` after `event`; empty when the event changes nothing
// (it came late, or does not apply in this state). Every `journal` action (and the
// `submitted` that a `send` journals) is a transition `can_transition` allows from
// the state the action before it left.
std::vector<TopUpAction> step(const TopUpRecord& record, const TopUpEvent& event);

// The state a provider's outcome maps to.
TopUpState state_of(ProviderOutcome outcome);

}  // namespace topupd::core
