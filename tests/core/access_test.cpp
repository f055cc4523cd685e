// Roles, session lifetimes, login throttling and the four eyes, stepped by hand.
#include "topupd/core/access.hpp"

#include <gtest/gtest.h>

namespace topupd::core {
namespace {

using namespace std::chrono_literals;

Money usd(std::int64_t major) { return Money(major * 100, *Currency::find("USD")); }
const Timestamp t0 = Timestamp(std::chrono::milliseconds(1'780'000'000'000));

TEST(AccessTest, ViewersOnlyLookApproversDecideAdminsAlsoPauseAndManageUsers) {
  EXPECT_TRUE(may(Role::viewer, Action::view));
  EXPECT_FALSE(may(Role::viewer, Action::approve));
  EXPECT_FALSE(may(Role::viewer, Action::silence));
  EXPECT_TRUE(may(Role::approver, Action::approve));
  EXPECT_TRUE(may(Role::approver, Action::silence));
  EXPECT_FALSE(may(Role::approver, Action::pause));
  EXPECT_FALSE(may(Role::approver, Action::manage_users));
  EXPECT_TRUE(may(Role::admin, Action::pause));
  EXPECT_TRUE(may(Role::admin, Action::manage_users));
  EXPECT_EQ(role_from("approver"), Role::approver);
  EXPECT_EQ(role_from("root"), std::nullopt);
  EXPECT_EQ(to_string(Role::admin), "admin");
  EXPECT_TRUE(valid_user_name("ana.rahma@example.co.id"));
  EXPECT_FALSE(valid_user_name(""));
  EXPECT_FALSE(valid_user_name("ana rahma"));
  EXPECT_FALSE(valid_user_name("<script>"));
  EXPECT_FALSE(valid_user_name(std::string(65, 'a')));
}

TEST(AccessTest, ASessionEndsWhenIdleTooLongOrTooOldWhicheverComesFirst) {
  EXPECT_TRUE(session_alive(t0, t0 + 10min, t0 + 20min, 30min, 8h));
  EXPECT_FALSE(session_alive(t0, t0 + 10min, t0 + 40min, 30min, 8h));  // idle
  EXPECT_FALSE(session_alive(t0, t0 + 8h - 1min, t0 + 8h, 30min, 8h));  // absolute
  EXPECT_FALSE(session_alive(t0, t0, t0 - 1min, 30min, 8h));            // a clock gone back
}

TEST(AccessTest, FailedLoginsLockAfterTheFreeOnesAndTheLockDoublesUpToItsMaximum) {
  const LoginThrottle policy{3, 30s, 2min};
  LoginFailures f;
  for (int i = 0; i < 3; ++i) f = after_failed_login(f, t0, policy);
  EXPECT_FALSE(login_locked(f, t0));
  f = after_failed_login(f, t0, policy);
  EXPECT_TRUE(login_locked(f, t0 + 29s));
  EXPECT_FALSE(login_locked(f, t0 + 30s));
  f = after_failed_login(f, t0 + 30s, policy);
  EXPECT_EQ(*f.locked_until, t0 + 30s + 60s);
  f = after_failed_login(f, t0 + 90s, policy);
  EXPECT_EQ(*f.locked_until, t0 + 90s + 2min);
  f = after_failed_login(f, t0 + 210s, policy);
  EXPECT_EQ(*f.locked_until, t0 + 210s + 2min);  // capped
}

TopUpRecord waiting(Money amount) {
  return TopUpRecord{"k1", "keep-payouts", "payouts", "stripe", TopUpMethod::direct_debit, "acct_1", "ba_1",
                     amount, TopUpState::awaiting_approval, "", "", t0, std::nullopt};
}

TEST(AccessTest, TwoApproversAreNeededOnlyAboveTheDualThreshold) {
  EXPECT_EQ(approvers_needed(usd(5000), std::nullopt), 1);
  EXPECT_EQ(approvers_needed(usd(5000), usd(5000)), 1);
  EXPECT_EQ(approvers_needed(usd(5001), usd(5000)), 2);
}

TEST(AccessTest, TheSameApproverTwiceCountsOnceAndChangedTermsVoidEarlierApprovals) {
  TopUpRecord r = waiting(usd(9000));
  const std::string terms = approval_terms(r);
  std::vector<Approval> approvals{{"k1", "ana", terms, t0 + 1min}, {"k1", "ana", terms, t0 + 2min}};
  EXPECT_EQ(counted_approvers(r, approvals), std::vector<std::string>{"ana"});
  approvals.push_back({"k2", "budi", terms, t0 + 3min});  // another top-up
  EXPECT_EQ(counted_approvers(r, approvals).size(), 1u);
  approvals.push_back({"k1", "budi", terms, t0 + 3min});
  EXPECT_EQ(counted_approvers(r, approvals), (std::vector<std::string>{"ana", "budi"}));

  TopUpRecord more = r;
  more.amount = usd(9500);
  EXPECT_TRUE(counted_approvers(more, approvals).empty());
  TopUpRecord elsewhere = r;
  elsewhere.destination_id = "acct_2";
  EXPECT_TRUE(counted_approvers(elsewhere, approvals).empty());
  TopUpRecord other_source = r;
  other_source.source = "ba_9";
  EXPECT_TRUE(counted_approvers(other_source, approvals).empty());
  // An approval from before the record was planned belongs to an earlier one.
  TopUpRecord later = r;
  later.created_at = t0 + 150s;
  EXPECT_EQ(counted_approvers(later, approvals), std::vector<std::string>{"budi"});
}

}  // namespace
}  // namespace topupd::core
