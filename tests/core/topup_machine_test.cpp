// The top-up machine stepped by hand through every (state, event) pair.
#include "topupd/core/topup_machine.hpp"

#include <map>
#include <string>
#include <tuple>

#include <gtest/gtest.h>

namespace topupd::core {
namespace {

using S = TopUpState;
using E = TopUpEvent::Kind;
using O = ProviderOutcome;

TopUpRecord record_in(TopUpState state) {
  return TopUpRecord{"topupd-low-payout-1-0", "low", "payout", "bank", TopUpMethod::direct_debit, "payout", "123",
                     Money(1'000, *Currency::find("IDR")), state, "", "", Timestamp{}, std::nullopt};
}

// Every event the machine knows, with each provider outcome where the event carries one.
std::vector<TopUpEvent> every_event() {
  std::vector<TopUpEvent> out;
  for (E kind : {E::planned, E::answered, E::refused, E::no_answer, E::found, E::not_found, E::look_up_failed,
                 E::look_up_due, E::restarted, E::approved, E::rejected, E::approval_expired, E::ticket_issued,
                 E::ticket_refused, E::ticket_unanswered, E::ticket_expired}) {
    if (kind == E::answered || kind == E::found) {
      for (O outcome : {O::pending, O::succeeded, O::failed}) out.push_back({kind, outcome, "ref-1", "detail"});
    } else {
      out.push_back({kind, O::pending, "", "detail"});
    }
  }
  return out;
}

std::string name_of(const TopUpEvent& event) {
  std::string name(to_string(event.kind));
  if (event.kind == E::answered || event.kind == E::found) name += std::string("/") + std::string(to_string(state_of(event.outcome)));
  return name;
}

// The actions as one line: "journal:submitted send" — what the table below speaks.
std::string describe(const std::vector<TopUpAction>& actions) {
  std::string out;
  for (const auto& action : actions) {
    if (!out.empty()) out += ' ';
    out += to_string(action.kind);
    if (action.kind == TopUpAction::Kind::journal) out += ":" + std::string(to_string(action.to));
  }
  return out;
}

// Every pair that does something; every other pair must do nothing.
const std::map<std::pair<S, std::string>, std::string>& expected() {
  static const std::map<std::pair<S, std::string>, std::string> table{
      {{S::planned, "planned"}, "send"},
      {{S::planned, "found/pending"}, "journal:submitted journal:pending"},
      {{S::planned, "found/succeeded"}, "journal:submitted journal:succeeded start_verification"},
      {{S::planned, "found/failed"}, "journal:submitted journal:failed"},
      {{S::planned, "not_found"}, "send"},
      {{S::planned, "look_up_due"}, "look_up"},

      {{S::awaiting_approval, "approved"}, "journal:planned send"},
      {{S::awaiting_approval, "rejected"}, "journal:rejected"},
      {{S::awaiting_approval, "approval_expired"}, "journal:expired"},

      {{S::submitted, "answered/pending"}, "journal:pending"},
      {{S::submitted, "answered/succeeded"}, "journal:succeeded start_verification"},
      {{S::submitted, "answered/failed"}, "journal:failed"},
      {{S::submitted, "refused"}, "journal:failed"},
      {{S::submitted, "no_answer"}, "journal:unknown"},
      {{S::submitted, "found/succeeded"}, "journal:succeeded start_verification"},
      {{S::submitted, "found/failed"}, "journal:failed"},
      {{S::submitted, "look_up_due"}, "look_up"},
      {{S::submitted, "restarted"}, "journal:unknown"},

      {{S::pending, "found/succeeded"}, "journal:succeeded start_verification"},
      {{S::pending, "found/failed"}, "journal:failed"},
      {{S::pending, "look_up_due"}, "look_up"},

      {{S::unknown, "found/pending"}, "journal:pending"},
      {{S::unknown, "found/succeeded"}, "journal:succeeded start_verification"},
      {{S::unknown, "found/failed"}, "journal:failed"},
      {{S::unknown, "not_found"}, "send"},
      {{S::unknown, "look_up_due"}, "look_up"},
  };
  return table;
}

TEST(TopUpMachineTest, EveryStateAndEventPairDoesWhatTheTableSays) {
  std::size_t pairs = 0;
  std::size_t acting = 0;
  for (S state : kAllTopUpStates) {
    for (const auto& event : every_event()) {
      const std::string pair = std::string(to_string(state)) + " + " + name_of(event);
      SCOPED_TRACE(pair);
      const auto found = expected().find({state, name_of(event)});
      const std::string want = found == expected().end() ? "" : found->second;
      EXPECT_EQ(describe(step(record_in(state), event)), want);
      pairs += 1;
      acting += want.empty() ? 0 : 1;
    }
  }
  EXPECT_EQ(pairs, 9u * 20u);
  EXPECT_EQ(acting, expected().size());  // no table row names a pair that does not exist
}

TEST(TopUpMachineTest, EveryJournalActionIsAnAllowedTransition) {
  for (S state : kAllTopUpStates) {
    for (const auto& event : every_event()) {
      SCOPED_TRACE(std::string(to_string(state)) + " + " + name_of(event));
      S now = state;
      for (const auto& action : step(record_in(state), event)) {
        if (action.kind == TopUpAction::Kind::journal || action.kind == TopUpAction::Kind::send) {
          const S to = action.kind == TopUpAction::Kind::send ? S::submitted : action.to;
          EXPECT_TRUE(can_transition(now, to)) << to_string(now) << " -> " << to_string(to);
          now = to;
        }
      }
    }
  }
}

TEST(TopUpMachineTest, ARequestLeavesOnlyWhenNothingCanBeAtTheProvider) {
  for (S state : kAllTopUpStates) {
    for (const auto& event : every_event()) {
      const auto actions = step(record_in(state), event);
      const bool sends = std::any_of(actions.begin(), actions.end(),
                                     [](const TopUpAction& a) { return a.kind == TopUpAction::Kind::send; });
      if (!sends) continue;
      SCOPED_TRACE(std::string(to_string(state)) + " + " + name_of(event));
      // The first send of a planned or approved top-up, or a resend after the provider
      // said it never received the key: never after a timeout, and never while pending.
      const bool first_send = (state == S::planned && event.kind == E::planned) ||
                              (state == S::awaiting_approval && event.kind == E::approved);
      const bool resend = event.kind == E::not_found && (state == S::planned || state == S::unknown);
      EXPECT_TRUE(first_send || resend);
    }
  }
}

TEST(TopUpMachineTest, TerminalStatesIgnoreEverything) {
  for (S state : {S::succeeded, S::failed, S::rejected, S::expired}) {
    for (const auto& event : every_event()) EXPECT_TRUE(step(record_in(state), event).empty()) << name_of(event);
  }
}

TEST(TopUpMachineTest, JournalActionsCarryTheProvidersWords) {
  const auto answered = step(record_in(S::submitted), {E::answered, O::failed, "ref-9", "insufficient funds"});
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_EQ(answered[0].why, "insufficient funds");
  EXPECT_EQ(answered[0].reference, "ref-9");
  EXPECT_FALSE(answered[0].dated_by_latest_poll);  // the answer came with the request

  const auto timeout = step(record_in(S::submitted), {E::no_answer, O::pending, "", "no answer within 10s"});
  ASSERT_EQ(timeout.size(), 1u);
  EXPECT_EQ(timeout[0].error, "no answer within 10s");

  const auto found = step(record_in(S::unknown), {E::found, O::succeeded, "ref-9", "looked up"});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_TRUE(found[0].dated_by_latest_poll);  // settled before this poll could see it

  const auto resend = step(record_in(S::unknown), {E::not_found, O::pending, "", ""});
  ASSERT_EQ(resend.size(), 1u);
  EXPECT_EQ(resend[0].why, "sent again under the same key");

  const auto approved = step(record_in(S::awaiting_approval), {E::approved, O::pending, "", "approved with topupctl"});
  ASSERT_EQ(approved.size(), 2u);
  EXPECT_EQ(approved[0].why, "approved with topupctl");
}

// Steps `record` through `event` and applies the journal's state changes, as the
// executor would; returns the actions in words.
std::string step_and_apply(TopUpRecord& record, const TopUpEvent& event) {
  const auto actions = step(record, event);
  for (const auto& action : actions) {
    if (action.kind == TopUpAction::Kind::journal) record.state = action.to;
    if (action.kind == TopUpAction::Kind::send) record.state = S::submitted;
  }
  return describe(actions);
}

// A timeout, a look-up that finds nothing, a resend under the same key, success: the
// path that must never pay twice, walked one event at a time.
TEST(TopUpMachineTest, ATimedOutRequestIsLookedUpThenSentAgainUnderTheSameKey) {
  TopUpRecord record = record_in(S::planned);
  auto apply = [&](const TopUpEvent& event) { return step_and_apply(record, event); };
  EXPECT_EQ(apply({E::planned}), "send");
  EXPECT_EQ(apply({E::no_answer, O::pending, "", "timeout"}), "journal:unknown");
  EXPECT_EQ(apply({E::planned}), "");  // nothing but a look-up may follow
  EXPECT_EQ(apply({E::look_up_due}), "look_up");
  EXPECT_EQ(apply({E::look_up_failed, O::pending, "", "reset"}), "");
  EXPECT_EQ(record.state, S::unknown);
  EXPECT_EQ(apply({E::look_up_due}), "look_up");
  EXPECT_EQ(apply({E::not_found}), "send");
  EXPECT_EQ(apply({E::answered, O::succeeded, "ref-1", ""}), "journal:succeeded start_verification");
  EXPECT_EQ(apply({E::look_up_due}), "");
}

// A deposit to a ticket: its payment can leave only once the ticket is journalled.
TopUpRecord deposit_in(TopUpState state, bool with_ticket) {
  TopUpRecord record = record_in(state);
  record.method = TopUpMethod::deposit;
  record.ticket_provider = "xendit";
  if (with_ticket) record.ticket = DepositTicket{"va-1", "BNI", "8808123", "PT Example", std::nullopt};
  return record;
}

TEST(TopUpMachineTest, ADepositWithoutItsTicketAsksForItAndNeverSends) {
  const std::map<std::pair<S, std::string>, std::string> table{
      {{S::planned, "planned"}, "request_ticket"},
      {{S::planned, "look_up_due"}, "request_ticket"},
      {{S::planned, "not_found"}, "request_ticket"},
      {{S::planned, "ticket_refused"}, "journal:failed"},
      {{S::awaiting_approval, "approved"}, "journal:planned request_ticket"},
      {{S::awaiting_approval, "rejected"}, "journal:rejected"},
      {{S::awaiting_approval, "approval_expired"}, "journal:expired"},
  };
  for (S state : {S::awaiting_approval, S::planned}) {
    for (const auto& event : every_event()) {
      if (event.kind == E::found) continue;  // nothing was sent: there is nothing to find
      SCOPED_TRACE(std::string(to_string(state)) + " + " + name_of(event));
      const auto found = table.find({state, name_of(event)});
      EXPECT_EQ(describe(step(deposit_in(state, false), event)), found == table.end() ? "" : found->second);
    }
  }
}

// Ticket asked for, its answer lost, asked again, issued and journalled; the payment
// times out, is looked up, not found, and sent again under the same key: one payment.
TEST(TopUpMachineTest, ADepositPaysTheJournalledTicketUnderItsOwnKey) {
  TopUpRecord record = deposit_in(S::planned, false);
  auto apply = [&](const TopUpEvent& event) { return step_and_apply(record, event); };
  EXPECT_EQ(apply({E::planned}), "request_ticket");
  EXPECT_EQ(apply({E::ticket_unanswered, O::pending, "", "timeout"}), "");
  EXPECT_EQ(apply({E::ticket_issued}), "");  // not journalled: nothing to pay
  EXPECT_EQ(apply({E::look_up_due}), "request_ticket");
  record.ticket = DepositTicket{"va-2", "BNI", "8808124", "PT Example", std::nullopt};
  EXPECT_EQ(apply({E::ticket_issued}), "send");
  EXPECT_EQ(apply({E::ticket_issued}), "");  // a late repeat pays nothing
  EXPECT_EQ(apply({E::no_answer, O::pending, "", "timeout"}), "journal:unknown");
  EXPECT_EQ(apply({E::look_up_due}), "look_up");
  EXPECT_EQ(apply({E::not_found}), "send");
  EXPECT_EQ(apply({E::answered, O::succeeded, "ref-1", ""}), "journal:succeeded start_verification");
  // A direct debit never hears of tickets.
  EXPECT_EQ(describe(step(record_in(S::planned), {E::ticket_issued})), "");
  EXPECT_EQ(describe(step(record_in(S::planned), {E::ticket_expired})), "");
}

// A ticket a person pays: nothing is ever sent; the ticket's gateway says when it was
// paid, or the ticket expires.
TEST(TopUpMachineTest, ATicketAPersonPaysWaitsForThemAndSendsNothing) {
  TopUpRecord record = deposit_in(S::planned, false);
  record.provider = record.ticket_provider;  // its gateway is its "payment leg"
  record.source = "";                         // no account of ours pays it
  auto apply = [&](const TopUpEvent& event) { return step_and_apply(record, event); };
  EXPECT_EQ(apply({E::planned}), "request_ticket");
  record.ticket = DepositTicket{"va-3", "BNI", "8808125", "PT Example", std::nullopt};
  EXPECT_EQ(apply({E::ticket_issued}), "journal:pending");
  EXPECT_EQ(apply({E::look_up_due}), "look_up");
  EXPECT_EQ(apply({E::not_found}), "");  // nobody paid yet
  EXPECT_EQ(apply({E::found, O::succeeded, "pay-1", "paid"}), "journal:succeeded start_verification");
  // Another, never paid, expires; so does one whose pending was not journalled yet.
  TopUpRecord unpaid = deposit_in(S::pending, true);
  unpaid.provider = unpaid.ticket_provider;
  unpaid.source = "";
  EXPECT_EQ(describe(step(unpaid, {E::ticket_expired, O::pending, "", "expired"})), "journal:expired");
  unpaid.state = S::planned;
  EXPECT_EQ(describe(step(unpaid, {E::look_up_due})), "journal:pending");
  EXPECT_EQ(describe(step(unpaid, {E::not_found})), "journal:pending");
}

TEST(TopUpMachineTest, ATicketThatExpiresUnpaidEndsTheDepositAndOnlyThen) {
  EXPECT_EQ(describe(step(deposit_in(S::planned, true), {E::ticket_expired, O::pending, "", "expired"})),
            "journal:expired");
  for (S state : {S::submitted, S::pending, S::unknown, S::succeeded}) {
    // Its payment left: whatever the ticket says now, the payment's outcome decides.
    EXPECT_EQ(describe(step(deposit_in(state, true), {E::ticket_expired})), "") << to_string(state);
  }
  EXPECT_EQ(describe(step(deposit_in(S::planned, false), {E::ticket_expired})), "");
}

}  // namespace
}  // namespace topupd::core
