// The executor's journal index: each account's and each rule's record numbers, in
// journal order, and the record of each key and gateway reference, as records are
// appended, given references and forgotten from the front.
#include <gtest/gtest.h>

#include "journal_index.hpp"

namespace topupd::app {
namespace {

core::TopUpRecord record(std::string key, std::string rule, std::string account) {
  const auto idr = *core::Currency::find("IDR");
  return core::TopUpRecord{std::move(key), std::move(rule), std::move(account), "bank",
                           core::TopUpMethod::direct_debit, "id", "111", core::Money(100, idr),
                           core::TopUpState::succeeded, "", "", core::Timestamp{}, std::nullopt};
}

std::vector<std::size_t> list(std::span<const std::size_t> numbers) { return {numbers.begin(), numbers.end()}; }

TEST(JournalIndexTest, KeepsEachAccountsAndRulesNumbersAsRecordsComeAndGo) {
  const std::vector<core::TopUpRecord> journal{record("k0", "low-a", "a"), record("k1", "low-b", "b"),
                                               record("k2", "sweep-a", "a"), record("k3", "low-a", "a")};
  JournalIndex index;
  index.rebuild(journal, 5);  // numbered 5 to 8
  EXPECT_EQ(list(index.of_account("a")), (std::vector<std::size_t>{5, 7, 8}));
  EXPECT_EQ(list(index.of_account("b")), (std::vector<std::size_t>{6}));
  EXPECT_EQ(list(index.of_rule("low-a")), (std::vector<std::size_t>{5, 8}));
  EXPECT_TRUE(index.of_account("c").empty());

  index.add(record("k4", "low-b", "b"), 9);
  EXPECT_EQ(list(index.of_account("b")), (std::vector<std::size_t>{6, 9}));

  // The first two leave the journal: a's first number goes, and b keeps only its new one.
  index.forget(std::span<const core::TopUpRecord>(journal).first(2), 5);
  EXPECT_EQ(list(index.of_account("a")), (std::vector<std::size_t>{7, 8}));
  EXPECT_EQ(list(index.of_account("b")), (std::vector<std::size_t>{9}));
  EXPECT_EQ(list(index.of_rule("low-a")), (std::vector<std::size_t>{8}));

  EXPECT_EQ(index.next_of_account("a", std::nullopt), 7u);
  EXPECT_EQ(index.next_of_account("a", 7), 8u);
  EXPECT_EQ(index.next_of_account("a", 6), 7u);  // a number that left: the next after it
  EXPECT_FALSE(index.next_of_account("a", 8));
  EXPECT_FALSE(index.next_of_account("c", std::nullopt));

  index.rebuild({}, 10);
  EXPECT_TRUE(index.of_account("a").empty());
}

TEST(JournalIndexTest, FindsTheRecordOfAKeyAndTheRecordsOfAReferenceAsReferencesArriveAndChange) {
  std::vector<core::TopUpRecord> journal{record("k0", "low-a", "a"), record("k1", "low-b", "b"),
                                         record("k2", "low-c", "c")};
  journal[1].reference = "po_1";  // loaded with the gateway's reference
  JournalIndex index;
  index.rebuild(journal, 3);  // numbered 3 to 5
  EXPECT_EQ(index.of_key("k1"), 4u);
  EXPECT_FALSE(index.of_key("k9"));
  EXPECT_EQ(list(index.of_reference("po_1")), (std::vector<std::size_t>{4}));
  EXPECT_TRUE(index.of_reference("").empty());  // no reference yet is not a reference

  // The gateway answers: k0 and then k2 get references, k2 the same as k1 (another
  // provider's numbering), and the list stays in journal order whatever the order they came in.
  journal[2].reference = "po_1";
  index.referenced(journal[2], 5);
  journal[0].reference = "po_1";
  index.referenced(journal[0], 3);
  EXPECT_EQ(list(index.of_reference("po_1")), (std::vector<std::size_t>{3, 4, 5}));
  index.referenced(journal[0], 3);  // told again, unchanged: listed once
  EXPECT_EQ(list(index.of_reference("po_1")), (std::vector<std::size_t>{3, 4, 5}));

  // A record replaced by another instance's, with another reference: found under the new one only.
  journal[2].reference = "po_2";
  index.referenced(journal[2], 5);
  EXPECT_EQ(list(index.of_reference("po_1")), (std::vector<std::size_t>{3, 4}));
  EXPECT_EQ(list(index.of_reference("po_2")), (std::vector<std::size_t>{5}));

  index.add(record("k3", "low-a", "a"), 6);
  EXPECT_EQ(index.of_key("k3"), 6u);

  // The first two leave: their keys and references with them.
  index.forget(std::span<const core::TopUpRecord>(journal).first(2), 3);
  EXPECT_FALSE(index.of_key("k0"));
  EXPECT_FALSE(index.of_key("k1"));
  EXPECT_EQ(index.of_key("k2"), 5u);
  EXPECT_TRUE(index.of_reference("po_1").empty());
  EXPECT_EQ(list(index.of_reference("po_2")), (std::vector<std::size_t>{5}));
}

}  // namespace
}  // namespace topupd::app
