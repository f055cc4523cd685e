#include "topupd/core/topup_machine.hpp"

namespace topupd::core {
namespace {

using Kind = TopUpEvent::Kind;
using S = TopUpState;

TopUpAction journal(TopUpState to, std::string why, std::string reference = "", std::string error = "",
                    bool dated_by_latest_poll = false) {
  return {TopUpAction::Kind::journal, to, std::move(why), std::move(reference), std::move(error), dated_by_latest_poll};
}

TopUpAction send(std::string why) { return {TopUpAction::Kind::send, S::submitted, std::move(why), "", "", false}; }

TopUpAction look_up() { return {TopUpAction::Kind::look_up, S::planned, "", "", "", false}; }

TopUpAction request_ticket() { return {TopUpAction::Kind::request_ticket, S::planned, "", "", "", false}; }

// What starts a planned top-up: its request, or first the ticket a deposit pays; for a
// ticket a person pays, waiting for them.
TopUpAction start(const TopUpRecord& record, std::string why = "") {
  if (needs_ticket(record)) return request_ticket();
  if (paid_by_person(record)) return journal(S::pending, "waiting for a person to pay the ticket");
  return send(std::move(why));
}

TopUpAction verify() { return {TopUpAction::Kind::start_verification, S::planned, "", "", "", false}; }

// The provider's word on a top-up it holds, as journal actions from `record`'s state.
std::vector<TopUpAction> settle(const TopUpRecord& record, const TopUpEvent& event, bool from_look_up) {
  const TopUpState to = state_of(event.outcome);
  const TopUpState state = record.state;
  std::vector<TopUpAction> out;
  // A look-up that finds it still pending tells nothing new about a request in flight.
  if (from_look_up && to == S::pending && (state == S::submitted || state == S::pending)) return out;
  // Only a journal write that failed leaves a request on the wire behind `planned`:
  // the provider holds it, so the journal catches up through `submitted`.
  if (state == S::planned) out.push_back(journal(S::submitted, "the provider holds it", event.reference));
  // A failure's words stay on the record: what the next rail's decision and people read.
  out.push_back(journal(to, event.detail, event.reference, to == S::failed ? event.detail : "", from_look_up));
  if (to == S::succeeded) out.push_back(verify());
  return out;
}

bool on_the_way(TopUpState state) {
  return state == S::planned || state == S::submitted || state == S::pending || state == S::unknown;
}

}  // namespace

TopUpState state_of(ProviderOutcome outcome) {
  switch (outcome) {
    case ProviderOutcome::pending: return S::pending;
    case ProviderOutcome::succeeded: return S::succeeded;
    case ProviderOutcome::failed: return S::failed;
  }
  return S::unknown;
}

std::vector<TopUpAction> step(const TopUpRecord& record, const TopUpEvent& event) {
  const TopUpState state = record.state;
  switch (event.kind) {
    case Kind::planned:
      if (state == S::planned) return {start(record)};
      return {};
    case Kind::answered:
      if (state != S::submitted) return {};  // a late answer: a look-up has settled it meanwhile
      return settle(record, event, false);
    case Kind::refused:
      if (state != S::submitted) return {};
      return {journal(S::failed, event.detail, "", event.detail)};
    case Kind::no_answer:
      // The request may have been executed: look it up, never send it again blindly.
      if (state != S::submitted) return {};
      return {journal(S::unknown, event.detail, "", event.detail)};
    case Kind::found:
      if (!on_the_way(state)) return {};
      return settle(record, event, true);
    case Kind::not_found:
      // The provider never received it: the same request under the same key cannot
      // move money twice. A submitted or pending top-up it does not know yet is left
      // to the next look-up (the provider may be slow to index it).
      if (state == S::unknown || state == S::planned) return {start(record, "sent again under the same key")};
      return {};
    case Kind::look_up_failed:
      return {};  // asked again at the next poll
    case Kind::look_up_due:
      if (!on_the_way(state)) return {};
      // A deposit without its ticket has nothing to look up: its payment never left.
      if (state == S::planned && (needs_ticket(record) || paid_by_person(record))) return {start(record)};
      return {look_up()};
    case Kind::restarted:
      if (state == S::submitted) return {journal(S::unknown, "topupd stopped before the outcome was known")};
      return {};
    case Kind::approved:
      if (state != S::awaiting_approval) return {};
      return {journal(S::planned, event.detail), start(record)};
    case Kind::rejected:
      if (state != S::awaiting_approval) return {};
      return {journal(S::rejected, event.detail)};
    case Kind::approval_expired:
      if (state != S::awaiting_approval) return {};
      return {journal(S::expired, event.detail)};
    case Kind::ticket_issued:
      if (state != S::planned || record.method != TopUpMethod::deposit || needs_ticket(record)) return {};
      return {start(record)};
    case Kind::ticket_refused:
      if (state != S::planned || !needs_ticket(record)) return {};
      return {journal(S::failed, event.detail, "", event.detail)};
    case Kind::ticket_unanswered:
      return {};  // asked again at the next poll: an unpaid ticket is harmless
    case Kind::ticket_expired:
      // Unpaid, and no payment left for it (or nobody paid it): the top-up ends and the
      // rule may plan anew.
      if (record.method != TopUpMethod::deposit || needs_ticket(record)) return {};
      if (state != S::planned && !(state == S::pending && paid_by_person(record))) return {};
      return {journal(S::expired, event.detail)};
  }
  return {};
}

std::string_view to_string(TopUpEvent::Kind kind) {
  switch (kind) {
    case Kind::planned: return "planned";
    case Kind::answered: return "answered";
    case Kind::refused: return "refused";
    case Kind::no_answer: return "no_answer";
    case Kind::found: return "found";
    case Kind::not_found: return "not_found";
    case Kind::look_up_failed: return "look_up_failed";
    case Kind::look_up_due: return "look_up_due";
    case Kind::restarted: return "restarted";
    case Kind::approved: return "approved";
    case Kind::rejected: return "rejected";
    case Kind::approval_expired: return "approval_expired";
    case Kind::ticket_issued: return "ticket_issued";
    case Kind::ticket_refused: return "ticket_refused";
    case Kind::ticket_unanswered: return "ticket_unanswered";
    case Kind::ticket_expired: return "ticket_expired";
  }
  return "invalid";
}

std::string_view to_string(TopUpAction::Kind kind) {
  switch (kind) {
    case TopUpAction::Kind::journal: return "journal";
    case TopUpAction::Kind::send: return "send";
    case TopUpAction::Kind::look_up: return "look_up";
    case TopUpAction::Kind::start_verification: return "start_verification";
    case TopUpAction::Kind::request_ticket: return "request_ticket";
  }
  return "invalid";
}

}  // namespace topupd::core
