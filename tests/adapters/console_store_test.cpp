// The console's tables in the Store contract (console_store.hpp): every engine keeps
// users, sessions, approvals and the balance history alike, and releases a top-up
// waiting for approval only while its approvals still count, in one transaction.
#include "topupd/adapters/store/console_store.hpp"

#include <gtest/gtest.h>

#include "adapters/store_contract.hpp"

namespace topupd::adapters {
namespace {

using namespace store_contract;
using namespace std::chrono_literals;

ConsoleUser person(const std::string& name, core::Role role) {
  ConsoleUser user;
  user.name = name;
  user.role = role;
  user.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
  user.created_at = at(0);
  return user;
}

TEST_P(StoreContractTest, ConsoleUsersAreKeptWithTheirSecretsAndRemovedWithTheirSessions) {
  ConsoleStore& console = store_->console();
  ASSERT_TRUE(console.add_user(person("ana", core::Role::approver)));
  EXPECT_FALSE(console.add_user(person("ana", core::Role::admin))) << "a name is taken once";
  ASSERT_TRUE(console.add_user(person("budi", core::Role::viewer)));

  ConsoleUser ana = *console.user("ana");
  EXPECT_EQ(ana.role, core::Role::approver);
  EXPECT_TRUE(ana.totp_secret.empty());
  EXPECT_FALSE(ana.totp_last_step.has_value());
  ana.totp_secret = std::string("\x00\x01\xfe\xff secret", 11);  // raw bytes survive
  ana.totp_last_step = 59'833'333;
  ana.failures = {6, at(90)};
  ana.role = core::Role::admin;
  ASSERT_TRUE(console.update_user(ana));
  const ConsoleUser read = *console.user("ana");
  EXPECT_EQ(read.totp_secret, ana.totp_secret);
  EXPECT_EQ(read.totp_last_step, 59'833'333);
  EXPECT_EQ(read.failures.count, 6);
  EXPECT_EQ(read.failures.locked_until, at(90));
  EXPECT_EQ(read.role, core::Role::admin);
  EXPECT_FALSE(console.update_user(person("nobody", core::Role::viewer)));

  console.add_session({"h-ana", "ana", at(100), at(100)});
  console.add_session({"h-budi", "budi", at(100), at(100)});
  console.touch_session("h-ana", at(160));
  const auto touched = console.session("h-ana");
  ASSERT_TRUE(touched.has_value());
  EXPECT_EQ(touched->user, "ana");
  EXPECT_EQ(touched->created_at, at(100));
  EXPECT_EQ(touched->last_seen_at, at(160));
  EXPECT_FALSE(console.session("h-nobody").has_value());

  EXPECT_TRUE(console.remove_user("ana"));
  EXPECT_FALSE(console.remove_user("ana"));
  EXPECT_FALSE(console.session("h-ana").has_value()) << "a removed user's sessions end";
  EXPECT_TRUE(console.session("h-budi").has_value());
  ASSERT_EQ(console.users().size(), 1u);
  EXPECT_EQ(console.users()[0].name, "budi");
}

TEST_P(StoreContractTest, IdleAndOldSessionsAreForgotten) {
  ConsoleStore& console = store_->console();
  console.add_session({"old", "ana", at(0), at(500)});
  console.add_session({"idle", "ana", at(400), at(400)});
  console.add_session({"fresh", "ana", at(400), at(500)});
  EXPECT_EQ(console.forget_sessions(at(450), at(100)), 2);
  EXPECT_TRUE(console.session("fresh").has_value());
  EXPECT_FALSE(console.session("old").has_value());
  console.remove_session("fresh");
  EXPECT_FALSE(console.session("fresh").has_value());
}

TEST_P(StoreContractTest, AReleaseWaitsForEnoughDistinctApproversOfTheTermsShown) {
  TopUpRecord r = record("k-dual", at(0), TopUpState::awaiting_approval);
  ASSERT_TRUE(store_->plan_top_up(r, "payout-low", firing_state()));
  const std::string terms = core::approval_terms(r);

  TopUpRecord released = r;
  released.state = TopUpState::planned;
  EXPECT_FALSE(store_->release_approved(released, TopUpState::awaiting_approval, at(10), "approved", 1));
  ASSERT_TRUE(store_->add_approval({"k-dual", "ana", terms, at(5)}));
  EXPECT_FALSE(store_->add_approval({"k-dual", "ana", terms, at(6)})) << "the same approver once";
  EXPECT_FALSE(store_->release_approved(released, TopUpState::awaiting_approval, at(10), "approved", 2));
  // Approvals of other terms (another amount) or of an earlier top-up under the key do not count.
  ASSERT_TRUE(store_->add_approval({"k-dual", "budi", "other terms", at(7)}));
  ASSERT_TRUE(store_->add_approval({"k-dual", "citra", terms, at(-5)}));
  EXPECT_FALSE(store_->release_approved(released, TopUpState::awaiting_approval, at(10), "approved", 2));
  EXPECT_EQ(store_->open_top_ups().front().state, TopUpState::awaiting_approval) << "nothing changed";
  EXPECT_EQ(store_->transitions("k-dual").size(), 1u);

  ASSERT_TRUE(store_->add_approval({"k-dual", "budi", terms, at(8)}));
  EXPECT_EQ(store_->approvals("k-dual").size(), 4u);
  ASSERT_TRUE(store_->release_approved(released, TopUpState::awaiting_approval, at(10), "approved by ana, budi", 2));
  EXPECT_EQ(store_->open_top_ups().front().state, TopUpState::planned);
  const auto history = store_->transitions("k-dual");
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].note, "approved by ana, budi");
}

TEST_P(StoreContractTest, TheBalanceHistoryIsThinnedWithAgeAndBounded) {
  ConsoleStore& console = store_->console();
  // From an instant on a quarter hour of the epoch, where the coarse steps begin.
  const auto t = [](int minute) { return at(500 + minute * 60); };
  std::vector<BalancePoint> points;
  for (int minute = 0; minute < 600; ++minute) {  // ten hours, one point a minute, two accounts
    points.push_back({"payout", t(minute), 1'000'000 - minute});
    points.push_back({"float", t(minute), 5});
  }
  console.add_balance_points(points);
  console.add_balance_points({{"payout", t(0), 42}});  // a repeat of an instant changes nothing
  ASSERT_EQ(console.balance_history("payout", at(0)).size(), 600u);
  EXPECT_EQ(console.balance_history("payout", at(0)).front().minor, 1'000'000);
  EXPECT_EQ(console.balance_history("payout", t(599)).size(), 1u);

  // Older than 2 h before the end: one point per 15 minutes; older than 8 h: none.
  const std::int64_t dropped = console.thin_balance_history(t(480), 15min, t(120));
  const auto payout = console.balance_history("payout", at(0));
  EXPECT_EQ(payout.front().at, t(134)) << "the last point of its quarter hour stays";
  std::size_t coarse = 0;
  for (const auto& p : payout) coarse += p.at < t(480) ? 1 : 0;
  EXPECT_EQ(coarse, 24u);  // six hours of quarters
  EXPECT_EQ(payout.size(), 24u + 120u);
  EXPECT_EQ(dropped, 2 * (600 - 144));
  EXPECT_EQ(console.balance_history("float", at(0)).size(), 144u);
}

}  // namespace
}  // namespace topupd::adapters
