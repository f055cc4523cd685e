// Events for the company's backend, end to end: the real daemon tops an account up on
// the embedded sandbox, and a consumer built on the standardwebhooks npm package — the
// reference implementation any backend would use — verifies every event, refuses a
// tampered one, and gets an event it answered 500 to again under the same id.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <regex>
#include <thread>

#include "integration/harness.hpp"
#include "integration/events_consumer.hpp"
#include "integration/sandbox.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

TEST(EventsTest, TheBackendVerifiesEveryEventAndGetsARefusedOneAgainUnderItsId) {
  TempDir dir;
  const std::string script = std::string(TOPUPD_SOURCE_DIR) + "/tests/integration/peers/events_consumer.js";
  Process consumer({TOPUPD_NODE, script, kEventsSecret, "1"}, {}, dir.file("consumer.log"));
  const std::string port = wait_for_line(dir.file("consumer.log"), R"(consumer listening on (\d+))");
  Daemon daemon(fmt::format(R"(http: {{listen: 127.0.0.1:0}}
log: {{level: debug}}
store: {{sqlite: "{}"}}
providers:
  sim:
    type: sandbox
    settle_after: 200ms
    accounts:
      payout: {{balance: IDR 90_000, drain_per_minute: IDR 600}}
accounts:
  payout: {{provider: sim, currency: IDR, poll: {{every: 100ms, timeout: 1s, jitter: 0%}}}}
notifiers:
  ops: {{type: log}}
events:
  backend:
    url: "http://127.0.0.1:{}/events"
    secret: "{}"
    types: [balance.low, top_up.planned, top_up.succeeded, balance.recovered]
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR 95_000}}
    alert: {{notify: [ops]}}
    top_up: {{method: direct_debit, from_account: "1234567890", amount: {{fixed: IDR 50_000}}, limits: {{cooldown: 1h}}}}
)",
                            dir.file("topupd.db"), port, kEventsSecret));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::set<std::string> types;
  ASSERT_TRUE(eventually([&] {
    types.clear();
    for (const auto& d : deliveries(read_file(dir.file("consumer.log")))) {
      if (d.status == 200) types.insert(d.type);
    }
    return types.size() == 4;
  }, 15s)) << read_file(dir.file("consumer.log")) << daemon.log();
  const auto all = deliveries(read_file(dir.file("consumer.log")));
  std::map<std::string, int> accepted;  // id → times answered 200
  for (const auto& d : all) {
    EXPECT_TRUE(d.verified) << d.line;
    EXPECT_TRUE(d.tampered_refused) << d.line;
    if (d.status == 200) ++accepted[d.id];
  }
  // The first delivery was answered 500 and came again, under the same id.
  ASSERT_GE(all.size(), 5u);
  EXPECT_EQ(all[0].status, 500);
  EXPECT_EQ(all[1].id, all[0].id) << all[1].line;
  EXPECT_EQ(all[1].status, 200);
  // Each event accepted once: four events, four ids.
  EXPECT_EQ(accepted.size(), 4u);
  for (const auto& [id, count] : accepted) EXPECT_EQ(count, 1) << id;
  // In the order they happened — the top-up is journalled before the alert that names
  // it — with the amounts exact and the top-up's key and reference.
  std::vector<std::string> order;
  for (const auto& d : all) {
    if (d.status == 200) order.push_back(d.type);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"top_up.planned", "balance.low", "top_up.succeeded", "balance.recovered"}));
  for (const auto& d : all) {
    if (d.type != "top_up.succeeded" || d.status != 200) continue;
    EXPECT_NE(d.line.find(R"("amount":{"minor":5000000,"value":"50000.00","currency":"IDR"})"), std::string::npos)
        << d.line;
    EXPECT_NE(d.line.find(R"("key":"topupd-payout-low-payout-)"), std::string::npos) << d.line;
    EXPECT_NE(d.line.find(R"("reference":"sbx_1")"), std::string::npos) << d.line;
  }
}

}  // namespace
}  // namespace topupd::testing
