// Leases and fencing on a real PostgreSQL 15: who may own an account, and that a write
// from an instance whose lease moved on is refused in its own transaction, whatever
// the timing.
#include "topupd/adapters/store/leases.hpp"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "support/postgres_server.hpp"
#include "support/tcp_proxy.hpp"
#include "topupd/adapters/store/store.hpp"

namespace topupd::adapters {
namespace {

using namespace std::chrono_literals;
using core::TopUpRecord;
using core::TopUpState;

core::Timestamp at(std::int64_t seconds) { return core::Timestamp(std::chrono::seconds(1'795'000'000 + seconds)); }

TopUpRecord record(const std::string& key, const std::string& account) {
  return TopUpRecord{key, "payout-low", account, "bank", core::TopUpMethod::direct_debit, "acct-1", "1234567890",
                     core::Money(5'000'000, *core::Currency::find("IDR")), TopUpState::planned, "", "", at(0),
                     std::nullopt};
}

// What an instance's Leases part tells the store: the epochs it believes it holds.
struct HeldEpochs final : Fence {
  std::string id;
  std::map<std::string, std::int64_t> epochs;
  const std::string& instance() const override { return id; }
  std::optional<std::int64_t> epoch_of(const std::string& account) const override {
    const auto it = epochs.find(account);
    return it == epochs.end() ? std::nullopt : std::optional(it->second);
  }
  std::optional<std::string> account_of_rule(const std::string& rule) const override {
    return rule == "payout-low" ? std::optional<std::string>("payout") : std::nullopt;
  }
};

InstanceRow instance(const std::string& id) { return {id, "host-" + id, at(0), {}}; }

class PgLeasesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = topupd::testing::PostgresServer::shared().fresh_database();
    store_ = open_pg_store(dsn_);  // creates the schema
    a_ = open_pg_leases(dsn_);
    b_ = open_pg_leases(dsn_);
  }
  std::string dsn_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<LeaseStore> a_, b_;
};

TEST_F(PgLeasesTest, AnAccountHasOneOwnerAndEachChangeOfOwnerGrowsItsEpoch) {
  EXPECT_EQ(a_->acquire("a", {"payout", "fees"}, 15s), (std::map<std::string, std::int64_t>{{"fees", 1}, {"payout", 1}}));
  // Held and not expired: not B's, however often it asks.
  EXPECT_TRUE(b_->acquire("b", {"payout"}, 15s).empty());
  // Renewing keeps the epoch: nobody else held it in between.
  EXPECT_EQ(a_->acquire("a", {"payout"}, 15s).at("payout"), 1);
  a_->release("a", {"payout"});
  EXPECT_EQ(b_->acquire("b", {"payout"}, 15s).at("payout"), 2);
  EXPECT_TRUE(a_->acquire("a", {"payout"}, 15s).empty()) << "A gave it up; B holds it now";
  EXPECT_EQ(a_->acquire("a", {"fees"}, 15s).at("fees"), 1) << "A's other lease is untouched";
}

// What the renewal thread does: it extends what is still the instance's, even past its
// expiry if nobody took it, and never takes an account.
TEST_F(PgLeasesTest, RenewingExtendsOnlyWhatIsStillOursAndTakesNothing) {
  ASSERT_EQ(a_->acquire("a", {"payout", "fees"}, 200ms).size(), 2u);
  std::this_thread::sleep_for(300ms);  // both expired, nobody took them
  EXPECT_EQ(a_->renew("a", {"payout", "fees", "other"}, 15s),
            (std::map<std::string, std::int64_t>{{"fees", 1}, {"payout", 1}}));
  EXPECT_TRUE(b_->acquire("b", {"payout"}, 15s).empty()) << "renewed: not free any more";
  a_->release("a", {"fees"});
  EXPECT_TRUE(a_->renew("a", {"fees"}, 15s).empty()) << "given up: renewing must not take it back";
  EXPECT_TRUE(b_->renew("b", {"payout"}, 15s).empty()) << "A's: B cannot renew it";
  EXPECT_EQ(b_->acquire("b", {"fees"}, 15s).at("fees"), 2);
}

TEST_F(PgLeasesTest, AnExpiredLeaseGoesToWhoeverAsksWithTheNextEpoch) {
  ASSERT_EQ(a_->acquire("a", {"payout"}, 300ms).at("payout"), 1);
  EXPECT_TRUE(b_->acquire("b", {"payout"}, 15s).empty());
  std::this_thread::sleep_for(400ms);  // A died: it renews no more
  EXPECT_EQ(b_->acquire("b", {"payout"}, 15s).at("payout"), 2);
}

TEST_F(PgLeasesTest, HeartbeatsListTheLiveInstancesAndALeaveFreesEverythingAtOnce) {
  a_->heartbeat(instance("a"), 15s);
  const LeaseView both = b_->heartbeat(instance("b"), 15s);
  ASSERT_EQ(both.instances.size(), 2u);
  EXPECT_EQ(both.instances[0].id, "a");
  EXPECT_EQ(both.instances[1].host, "host-b");
  a_->acquire("a", {"payout"}, 15s);
  const LeaseView seen = b_->heartbeat(instance("b"), 15s);
  ASSERT_EQ(seen.leases.size(), 1u);
  EXPECT_EQ(seen.leases[0].owner, "a");
  EXPECT_GT(seen.leases[0].expires_at, seen.now);
  a_->leave("a");
  const LeaseView after = b_->heartbeat(instance("b"), 15s);
  ASSERT_EQ(after.instances.size(), 1u);
  EXPECT_EQ(after.instances[0].id, "b");
  EXPECT_EQ(b_->acquire("b", {"payout"}, 15s).at("payout"), 2) << "no wait for the lease time after a clean stop";
  // An instance silent for longer than the lease is not alive.
  a_->heartbeat(instance("a"), 15s);
  std::this_thread::sleep_for(150ms);
  const LeaseView silent = b_->heartbeat(instance("b"), 100ms);
  ASSERT_EQ(silent.instances.size(), 1u);
  EXPECT_EQ(silent.instances[0].id, "b");
}

TEST_F(PgLeasesTest, AWriteFromAnOwnerWhoseLeaseMovedOnIsRefusedAndChangesNothing) {
  HeldEpochs fence_a;
  fence_a.id = "a";
  fence_a.epochs["payout"] = a_->acquire("a", {"payout"}, 300ms).at("payout");
  store_->set_fence(&fence_a);
  ASSERT_TRUE(store_->plan_top_up(record("k1", "payout"), "payout-low", core::RuleState{}));
  // A stalls (a partition, a long pause) past its lease; B takes the account over.
  std::this_thread::sleep_for(400ms);
  ASSERT_EQ(b_->acquire("b", {"payout"}, 15s).at("payout"), 2);
  // A's write arrives late, still believing it holds epoch 1.
  TopUpRecord late = record("k1", "payout");
  late.state = TopUpState::submitted;
  EXPECT_THROW(store_->record_transition(late, TopUpState::planned, at(1), "sent"), FencedError);
  EXPECT_THROW(store_->plan_top_up(record("k2", "payout"), "payout-low", core::RuleState{}), FencedError);
  core::RuleState firing;
  firing.phase = core::RulePhase::firing;
  EXPECT_THROW(store_->save_rule_state("payout-low", firing), FencedError);
  // Nothing changed: the journal and the rule state are as B found them.
  store_->set_fence(nullptr);
  const auto open = store_->open_top_ups();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state, TopUpState::planned);
  EXPECT_EQ(store_->transitions("k1").size(), 1u);
  EXPECT_FALSE(store_->load_rule_states().count("payout-low") &&
               store_->load_rule_states().at("payout-low").phase == core::RulePhase::firing);
  // B, with the current epoch, writes.
  HeldEpochs fence_b;
  fence_b.id = "b";
  fence_b.epochs["payout"] = 2;
  store_->set_fence(&fence_b);
  store_->record_transition(late, TopUpState::planned, at(2), "sent by the new owner");
  EXPECT_EQ(store_->transitions("k1").size(), 2u);
  // An account this instance holds no lease of is not written at all.
  EXPECT_THROW(store_->plan_top_up(record("k3", "fees"), "fees-low", core::RuleState{}), FencedError);
}

TEST_F(PgLeasesTest, ATakeoverWaitsForAWriteAlreadyCheckedUntilItCommits) {
  ASSERT_EQ(a_->acquire("a", {"payout"}, 200ms).at("payout"), 1);
  std::this_thread::sleep_for(300ms);  // expired: B may take it...
  // ...but A's write checked its epoch inside a transaction still open (FOR SHARE, as
  // the store's fenced writes do): B's takeover waits for it, and so cannot commit in
  // between A's check and A's COMMIT.
  PGconn* writer = PQconnectdb(dsn_.c_str());
  ASSERT_EQ(PQstatus(writer), CONNECTION_OK);
  PQclear(PQexec(writer, "BEGIN"));
  PGresult* checked = PQexec(writer, "SELECT epoch FROM leases WHERE account = 'payout' AND owner = 'a' FOR SHARE");
  ASSERT_EQ(PQntuples(checked), 1);
  PQclear(checked);
  std::map<std::string, std::int64_t> granted;
  std::atomic<bool> done{false};
  std::thread takeover([&] {
    granted = b_->acquire("b", {"payout"}, 15s);
    done = true;
  });
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(done.load()) << "the takeover committed while a fenced write was between its check and its commit";
  PQclear(PQexec(writer, "COMMIT"));
  takeover.join();
  PQfinish(writer);
  EXPECT_EQ(granted.at("payout"), 2);
}

// A server that cannot be reached is not asked again on every call, each waiting for
// the connect timeout on the event loop: after a refused connect, calls fail at once
// until the backoff has passed.
TEST(PostgresConnectionTest, AnUnreachableServerIsTriedAgainAfterABackoffNotOnEveryCall) {
  auto& server = topupd::testing::PostgresServer::shared();
  std::string dsn = server.fresh_database();
  auto proxy = std::make_unique<topupd::testing::TcpProxy>(server.port());
  const std::string port = "port=" + std::to_string(server.port());
  dsn.replace(dsn.find(port), port.size(), "port=" + std::to_string(proxy->port()));
  auto store = open_pg_store(dsn);
  store->set_setting("paused", "no");
  proxy.reset();  // gone: its connections close, new ones are refused
  auto failure = [&] {
    try {
      store->setting("paused");
    } catch (const StoreError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // The read that finds the connection lost asks once more on a new one, refused.
  const std::string lost = failure();
  EXPECT_NE(lost.find("cannot connect to PostgreSQL"), std::string::npos) << lost;
  // Not tried again yet: the call says when it will be.
  const std::string waiting = failure();
  EXPECT_NE(waiting.find("could not be reached; trying again in"), std::string::npos) << waiting;
}

}  // namespace
}  // namespace topupd::adapters
