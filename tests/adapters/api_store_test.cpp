// The API's tables in the Store contract (api_store.hpp): every engine keeps tokens
// (hashes only, names never reused), demands (idempotent on their reference) and the
// audit log alike.
#include "topupd/adapters/store/api_store.hpp"

#include <gtest/gtest.h>

#include "adapters/store_contract.hpp"

namespace topupd::adapters {
namespace {

using namespace store_contract;

ApiToken token(const std::string& name, const std::string& hash) {
  return ApiToken{name, hash, {"read", "demands"}, at(0)};
}

Demand payroll(const std::string& reference, std::int64_t major, core::Timestamp due) {
  return Demand{reference, "payout", idr(major), due, at(0), "erp"};
}

TEST_P(StoreContractTest, TokensAreFoundByHashUntilRevokedAndNamesAreNotReused) {
  ApiStore& api = store_->api();
  ASSERT_TRUE(api.add_token(token("erp", "aa11")));
  EXPECT_FALSE(api.add_token(token("erp", "bb22"))) << "a name is taken once";
  ASSERT_TRUE(api.add_token(ApiToken{"reader", "cc33", {"read"}, at(5)}));

  const auto used = api.use_token("aa11", at(60));
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(used->name, "erp");
  EXPECT_EQ(used->scopes, (std::vector<std::string>{"read", "demands"}));
  EXPECT_EQ(used->last_used_at, at(60));
  EXPECT_FALSE(api.use_token("ffff", at(60)).has_value());

  const auto all = api.tokens();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "erp");
  EXPECT_EQ(all[1].name, "reader");
  EXPECT_EQ(all[1].scopes, std::vector<std::string>{"read"});
  EXPECT_FALSE(all[1].last_used_at.has_value());

  EXPECT_TRUE(api.revoke_token("erp", at(120)));
  EXPECT_FALSE(api.revoke_token("erp", at(130))) << "already revoked";
  EXPECT_FALSE(api.revoke_token("nobody", at(130)));
  EXPECT_FALSE(api.use_token("aa11", at(200)).has_value()) << "a revoked token opens nothing";
  EXPECT_EQ(api.tokens()[0].revoked_at, at(120));
  EXPECT_FALSE(api.add_token(token("erp", "dd44"))) << "nor is a revoked token's name reused";
}

TEST_P(StoreContractTest, ADemandIsKeptOnceUnderItsReferenceAndAChangedRepeatConflicts) {
  ApiStore& api = store_->api();
  EXPECT_EQ(api.put_demand(payroll("payroll-2026-12", 250'000'000, at(86'400))), DemandPut::created);
  EXPECT_EQ(api.put_demand(payroll("payroll-2026-12", 250'000'000, at(86'400))), DemandPut::same);
  EXPECT_EQ(api.put_demand(payroll("payroll-2026-12", 250'000'001, at(86'400))), DemandPut::conflict);
  EXPECT_EQ(api.put_demand(payroll("payroll-2026-12", 250'000'000, at(90'000))), DemandPut::conflict);
  EXPECT_EQ(api.put_demand(payroll("vendors", 10'000'000, at(3'600))), DemandPut::created);
  EXPECT_EQ(api.put_demand(payroll("last-month", 5'000'000, at(-86'400))), DemandPut::created);

  const auto kept = api.demand("payroll-2026-12");
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->amount, idr(250'000'000)) << "the first one stands";
  EXPECT_EQ(kept->due_at, at(86'400));
  EXPECT_EQ(kept->account, "payout");
  EXPECT_EQ(kept->created_by, "erp");

  const auto upcoming = api.demands(at(0));
  ASSERT_EQ(upcoming.size(), 2u);
  EXPECT_EQ(upcoming[0].reference, "vendors") << "by due time";
  EXPECT_EQ(upcoming[1].reference, "payroll-2026-12");

  EXPECT_EQ(api.forget_demands(at(0)), 1);
  EXPECT_FALSE(api.demand("last-month").has_value());
  EXPECT_TRUE(api.remove_demand("vendors"));
  EXPECT_FALSE(api.remove_demand("vendors"));
  EXPECT_EQ(api.demands(at(-1'000'000)).size(), 1u);
}

TEST_P(StoreContractTest, TheAuditLogKeepsTheNewestEntriesInOrder) {
  ApiStore& api = store_->api();
  for (int i = 0; i < 5; ++i) {
    api.audit({at(i), "token:erp", "GET /api/v1/accounts", "200 #" + std::to_string(i)});
  }
  const auto newest = api.audit_log(at(0), 3);
  ASSERT_EQ(newest.size(), 3u);
  EXPECT_EQ(newest[0].detail, "200 #2");
  EXPECT_EQ(newest[2].detail, "200 #4");
  EXPECT_EQ(newest[2].actor, "token:erp");
  EXPECT_EQ(newest[2].at, at(4));
  EXPECT_EQ(api.audit_log(at(3), 10).size(), 2u);
  EXPECT_EQ(api.forget_audit(at(2)), 2);
  EXPECT_EQ(api.audit_log(at(-10), 10).size(), 3u);
}

}  // namespace
}  // namespace topupd::adapters
