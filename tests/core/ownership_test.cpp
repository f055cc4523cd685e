// Ownership of accounts among instances, computed by hand.
#include "topupd/core/ownership.hpp"

#include <gtest/gtest.h>

#include <map>

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> accounts(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("payout-" + std::to_string(i));
  return out;
}

std::map<std::string, int> spread(const std::vector<std::string>& names, const std::vector<std::string>& instances) {
  std::map<std::string, int> count;
  for (const auto& a : names) count[owner_of(a, instances)] += 1;
  return count;
}

TEST(OwnershipTest, NoInstanceOwnsNothingAndOneOwnsEverything) {
  EXPECT_EQ(owner_of("payout", {}), "");
  for (const auto& a : accounts(50)) EXPECT_EQ(owner_of(a, {"a:1"}), "a:1");
}

TEST(OwnershipTest, EveryInstanceAgreesWhateverOrderItListsTheOthersIn) {
  const std::vector<std::string> one = {"a:1", "b:2", "c:3"};
  const std::vector<std::string> other = {"c:3", "a:1", "b:2"};
  for (const auto& a : accounts(200)) EXPECT_EQ(owner_of(a, one), owner_of(a, other)) << a;
}

TEST(OwnershipTest, AccountsSpreadEvenlyOverThreeInstances) {
  const auto names = accounts(30'000);
  const auto count = spread(names, {"host-a:11", "host-b:22", "host-c:33"});
  ASSERT_EQ(count.size(), 3u);
  for (const auto& [instance, n] : count) {
    // 10,000 each on average; a fair hash stays within a few percent.
    EXPECT_GT(n, 9'500) << instance;
    EXPECT_LT(n, 10'500) << instance;
  }
}

TEST(OwnershipTest, WhenAnInstanceLeavesOnlyItsAccountsMoveAndWhenOneJoinsOnlyWhatItTakes) {
  const auto names = accounts(3'000);
  const std::vector<std::string> three = {"a:1", "b:2", "c:3"};
  const std::vector<std::string> two = {"a:1", "b:2"};
  int moved = 0;
  for (const auto& a : names) {
    const std::string before = owner_of(a, three);
    const std::string after = owner_of(a, two);
    if (before != "c:3") {
      EXPECT_EQ(before, after) << a << " moved though its owner stayed";
    }
    if (before != after) ++moved;
  }
  EXPECT_GT(moved, 800);   // about a third: c's share
  EXPECT_LT(moved, 1'200);
  const std::vector<std::string> four = {"a:1", "b:2", "c:3", "d:4"};
  for (const auto& a : names) {
    const std::string after = owner_of(a, four);
    if (after != "d:4") {
      EXPECT_EQ(owner_of(a, three), after) << a << " moved to someone other than the newcomer";
    }
  }
}

TEST(OwnershipTest, ALeaseIsActedOnForLessThanItsTimeAndRenewedThriceWithinIt) {
  EXPECT_EQ(lease_valid_for(15s), 12s);
  EXPECT_EQ(lease_renew_every(15s), 5s);
}

}  // namespace
}  // namespace topupd::core
