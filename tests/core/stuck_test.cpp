// Stuck top-ups, stepped by hand.
#include "topupd/core/stuck.hpp"

#include <gtest/gtest.h>

namespace topupd::core {
namespace {

using namespace std::chrono_literals;
using Kind = StuckChange::Kind;

const Timestamp t0 = Timestamp(std::chrono::milliseconds(1'790'000'000'000));

TopUpRecord record(std::string key, TopUpState state, Timestamp created = t0) {
  return TopUpRecord{std::move(key), "payout-low", "payout", "bank", TopUpMethod::direct_debit, "payout-id", "123",
                     Money(100'000, *Currency::find("IDR")), state, "", "", created, std::nullopt};
}

const StuckWatch::StuckAfter thirty_minutes = [](const TopUpRecord&) { return Duration(30min); };

TEST(StuckWatchTest, AnOpenTopUpIsStuckOnceAfterItsTimeAndEndsWhenItsOutcomeIsFinal) {
  StuckWatch watch;
  std::vector<TopUpRecord> journal = {record("k1", TopUpState::submitted)};
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0).empty());
  journal[0].state = TopUpState::pending;
  journal[0].reference = "ref-1";
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0 + 29min + 59s).empty());
  const auto started = watch.step(journal, thirty_minutes, t0 + 30min);
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].kind, Kind::started);
  EXPECT_EQ(started[0].record.reference, "ref-1");
  EXPECT_EQ(started[0].age, Duration(30min));
  EXPECT_EQ(started[0].stuck_at, t0 + 30min);
  // Once: still open, a look-up that made it unknown, nothing new.
  journal[0].state = TopUpState::unknown;
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0 + 45min).empty());
  journal[0].state = TopUpState::succeeded;
  const auto ended = watch.step(journal, thirty_minutes, t0 + 50min);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].kind, Kind::ended);
  EXPECT_EQ(ended[0].age, Duration(50min));
  EXPECT_EQ(ended[0].stuck_at, t0 + 30min);  // the same alert resolves
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0 + 51min).empty());
}

// A ticket a person is to pay waits for them until it expires: nothing was sent, so it
// is not stuck however long it waits; the same deposit paid by a bank is watched.
TEST(StuckWatchTest, ATicketAPersonIsToPayIsNeverStuck) {
  StuckWatch watch;
  TopUpRecord by_person = record("person", TopUpState::pending);
  by_person.method = TopUpMethod::deposit;
  by_person.provider = by_person.ticket_provider = "xendit";
  by_person.source = "";  // no account of ours pays it
  TopUpRecord by_bank = by_person;
  by_bank.key = "bank";
  by_bank.provider = "bca";
  by_bank.source = "1234567890";
  const std::vector<TopUpRecord> journal = {by_person, by_bank};
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0).empty());
  const auto changes = watch.step(journal, thirty_minutes, t0 + 5h);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].record.key, "bank");
}

TEST(StuckWatchTest, ATopUpThatEndsInTimeAndOneNotYetSentAreNeverStuck) {
  StuckWatch watch;
  std::vector<TopUpRecord> journal = {record("quick", TopUpState::submitted),
                                      record("waiting", TopUpState::awaiting_approval)};
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0).empty());
  journal[0].state = TopUpState::failed;
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0 + 10min).empty());
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0 + 5h).empty());
  // Approved after five hours: it counts from when it was sent, not from when it was planned.
  journal[1].state = TopUpState::submitted;
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0 + 5h).empty());
  EXPECT_TRUE(watch.step(journal, thirty_minutes, t0 + 5h + 29min).empty());
  EXPECT_EQ(watch.step(journal, thirty_minutes, t0 + 5h + 30min).size(), 1u);
}

TEST(StuckWatchTest, AfterARestartOpenTopUpsCountFromTheirCreationAndEachRuleHasItsOwnTime) {
  StuckWatch watch;
  std::vector<TopUpRecord> journal = {record("old", TopUpState::unknown, t0 - 2h), record("new", TopUpState::pending),
                                      record("slow-rail", TopUpState::pending)};
  journal[2].rule = "slow";
  watch.seed(journal);
  const StuckWatch::StuckAfter per_rule = [](const TopUpRecord& r) { return r.rule == "slow" ? Duration(4h) : Duration(30min); };
  const auto first = watch.step(journal, per_rule, t0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].record.key, "old");
  EXPECT_EQ(first[0].age, Duration(2h));
  const auto later = watch.step(journal, per_rule, t0 + 1h);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].record.key, "new");
  EXPECT_TRUE(watch.step(journal, per_rule, t0 + 3h).empty());
  EXPECT_EQ(watch.step(journal, per_rule, t0 + 4h).size(), 1u);
}

}  // namespace
}  // namespace topupd::core
