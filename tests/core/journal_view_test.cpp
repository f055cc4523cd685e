// Journal views: the records a decision reads, whole or picked by number, in journal
// order — and a rule's inputs gathered from its account's and its rule's records are
// those gathered from the whole journal.
#include <gtest/gtest.h>

#include "topupd/core/journal_view.hpp"
#include "topupd/core/rule_inputs.hpp"

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Currency idr() { return *Currency::find("IDR"); }
Money rp(std::int64_t major) { return Money(major * 100, idr()); }
const Timestamp t0 = Timestamp(std::chrono::sys_days(std::chrono::year(2026) / 11 / 30));

TopUpRecord record(std::string key, std::string rule, std::string account, TopUpState state, Timestamp created,
                   std::uint32_t rail = 0, std::string need = "") {
  return TopUpRecord{std::move(key), std::move(rule), std::move(account), "bank", TopUpMethod::direct_debit, "id",
                     "111", rp(800), state, "", "declined by the bank", created, std::nullopt, rail, std::move(need)};
}

std::vector<std::string> keys(const JournalView& view) {
  std::vector<std::string> out;
  for (const auto& r : view) out.push_back(r.key);
  return out;
}

TEST(JournalViewTest, PicksTheNumberedRecordsInJournalOrderBothWays) {
  // Numbered from 10: 10 and 12 are payout's, 11 and 13 another account's.
  const std::vector<TopUpRecord> journal{record("a", "low", "payout", TopUpState::succeeded, t0),
                                         record("b", "other-low", "other", TopUpState::submitted, t0),
                                         record("c", "low", "payout", TopUpState::failed, t0 + 1s),
                                         record("d", "other-low", "other", TopUpState::planned, t0 + 2s)};
  const std::vector<std::size_t> payout{10, 12};
  const JournalView picked(journal, payout, 10);
  EXPECT_EQ(picked.size(), 2u);
  EXPECT_EQ(keys(picked), (std::vector<std::string>{"a", "c"}));
  std::vector<std::string> backwards;
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) backwards.push_back(it->key);
  EXPECT_EQ(backwards, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(keys(JournalView(journal)), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(JournalView(journal, {}, 10).empty());
}

// payout-low tops `payout` up to IDR 1,000 by direct debit, then by a sweep, with a
// daily cap: what it sees of its in-flight top-ups, caps and continuation is the same
// from its own records as from the whole journal, where another account's open top-up
// and another rule's spending sit between its own.
TEST(JournalViewTest, ARulesInputsFromItsOwnRecordsAreThoseFromTheWholeJournal) {
  TopUpSpec spec{TopUpMethod::direct_debit, "bank", "111",
                 AmountSpec{AmountSpec::Kind::to_target, rp(1'000), 0, std::nullopt, std::nullopt, std::nullopt},
                 rp(50), Limits{}, Verification{}};
  spec.limits.per_day = rp(10'000);
  spec.more_rails.push_back(Rail{TopUpMethod::sweep, "bank", "settlement", rp(100)});
  const Rule rule{.name = "payout-low", .account = "payout", .enabled = true,
                  .when = {Condition::Kind::below, rp(500), Duration(0), Duration(0), std::nullopt},
                  .hold_for = Duration(0), .clear = std::nullopt, .alert = std::nullopt, .top_up = spec};
  const std::vector<TopUpRecord> journal{
      record("n0", "payout-low", "payout", TopUpState::succeeded, t0),
      record("x1", "other-low", "other", TopUpState::submitted, t0 + 1s),
      record("y2", "payout-sweep", "payout", TopUpState::succeeded, t0 + 2s),
      record("n3", "payout-low", "payout", TopUpState::failed, t0 + 3s),
  };
  const std::vector<std::size_t> account{0, 2, 3};
  const std::vector<std::size_t> own_rule{0, 3};
  AccountWatch payout;
  payout.latest = Observation{"payout", rp(200), t0 + 4s};
  const WatchOf none = [](const std::string&) -> const AccountWatch* { return nullptr; };
  std::vector<Credit> whole_credits, picked_credits;
  const RuleInputs whole =
      gather_rule_inputs(rule, payout, none, journal, journal, idr(), TimeZone::utc(), t0 + 5s, whole_credits);
  const RuleInputs picked = gather_rule_inputs(rule, payout, none, JournalView(journal, account, 0),
                                               JournalView(journal, own_rule, 0), idr(), TimeZone::utc(), t0 + 5s,
                                               picked_credits);
  EXPECT_FALSE(whole.top_up_in_flight);  // the other account's open top-up is not this one's
  EXPECT_EQ(picked.top_up_in_flight, whole.top_up_in_flight);
  ASSERT_TRUE(whole.continues);
  ASSERT_TRUE(picked.continues);
  EXPECT_EQ(picked.continues->need, "n3");
  EXPECT_EQ(picked.continues->rail, whole.continues->rail);
  ASSERT_TRUE(whole.usage);
  ASSERT_TRUE(picked.usage);
  EXPECT_EQ(whole.usage->count, 1u);  // n0 today; the failed n3 and the sweep rule's y2 do not count
  EXPECT_EQ(picked.usage->count, whole.usage->count);
  EXPECT_EQ(picked.usage->amount, whole.usage->amount);
}

}  // namespace
}  // namespace topupd::core
