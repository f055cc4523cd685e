// Funding ahead of a payout the backend announced, end to end: a payroll demand for
// tomorrow 09:00 (Jakarta) posted through the API makes topupd fund the account today,
// to the demand plus what it keeps, exactly once — across a restart while the top-up is
// still settling — and the backend hears `top_up.succeeded` once, verified by the
// standardwebhooks consumer. The stand-alone sandbox's ledger is the witness.
#include <csignal>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "integration/events_consumer.hpp"
#include "integration/harness.hpp"
#include "integration/sandbox.hpp"

namespace topupd::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> top_ups_at(const Sandbox& sandbox) {
  std::vector<std::string> out;
  const std::string text = sandbox.ledger();
  const std::regex entry(R"#("account":"acct_pay","source":"[^"]*","amount_minor":(\d+),"currency":"USD","idempotency_key":"([^"]+)")#");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), entry); it != std::sregex_iterator(); ++it) {
    out.push_back(std::string((*it)[1]) + " " + std::string((*it)[2]));
  }
  return out;
}

// Tomorrow 09:00 in Jakarta (UTC+7 all year), as the backend would send it.
std::string tomorrow_nine_in_jakarta() {
  const auto local = std::chrono::system_clock::now() + 7h;
  const std::chrono::year_month_day day(std::chrono::floor<std::chrono::days>(local) + std::chrono::days(1));
  return fmt::format("{:04}-{:02}-{:02}T09:00:00+07:00", static_cast<int>(day.year()),
                     static_cast<unsigned>(day.month()), static_cast<unsigned>(day.day()));
}

TEST(DemandsTest, APayrollDemandIsFundedAheadOnceAcrossARestartAndTheBackendHearsItLanded) {
  TempDir dir;
  Sandbox sandbox(R"(
gateways:
  stripe:
    secret_key: sk_test_demands
    settle_after: 3s
    accounts:
      acct_pay: {balance: USD 1_000}
)");
  const std::string script = std::string(TOPUPD_SOURCE_DIR) + "/tests/integration/peers/events_consumer.js";
  Process consumer({TOPUPD_NODE, script, kEventsSecret, "0"}, {}, dir.file("consumer.log"));
  const std::string port = wait_for_line(dir.file("consumer.log"), R"(consumer listening on (\d+))");
  const std::string config = fmt::format(R"(http: {{listen: 127.0.0.1:0}}
timezone: Asia/Jakarta
store: {{sqlite: "{}"}}
control: {{socket: "{}"}}
api: {{listen: 127.0.0.1:0}}
providers:
  stripe:
    type: stripe
    base_url: {}
    api_key: sk_test_demands
accounts:
  payout: {{provider: stripe, id: acct_pay, currency: USD, poll: {{every: 250ms, timeout: 1s}}}}
events:
  backend:
    url: "http://127.0.0.1:{}/events"
    secret: "{}"
    types: [top_up.succeeded]
rules:
  - name: payroll
    account: payout
    when: {{cover_demands: {{within: 48h, lead: 2h, keep: USD 500}}}}
    top_up:
      method: direct_debit
      from_account: src_primary
      amount: {{round_up_to: USD 100}}
)",
                                         dir.file("topupd.db"), dir.file("control.sock"), sandbox.url(), port,
                                         kEventsSecret);
  auto daemon = std::make_unique<Daemon>(config);
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  const auto added = topupctl(dir.file("control.sock"), {"token", "add", "payroll-system", "--scope", "demands"});
  std::smatch match;
  ASSERT_TRUE(std::regex_search(added.output, match, std::regex(R"(tpd_[0-9a-f]{64})"))) << added.output;
  const std::string token = match[0];

  // No demand: the balance is all there is to go by, and nothing moves.
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(top_ups_at(sandbox).empty()) << sandbox.ledger();

  const std::string due = tomorrow_nine_in_jakarta();
  const auto posted = http_request(
      "POST", "127.0.0.1", daemon->api_port(), "/api/v1/demands",
      R"({"reference":"payroll-dec","account":"payout","amount":"20000.00","due_at":")" + due + R"("})",
      {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
  ASSERT_EQ(posted.status, 201) << posted.body;

  // Funded today: USD 20,000 due + USD 500 kept − USD 1,000 there = USD 19,500.
  ASSERT_TRUE(eventually([&] { return !top_ups_at(sandbox).empty(); }, 10s)) << daemon->log();
  const auto sent = top_ups_at(sandbox);
  ASSERT_EQ(sent.size(), 1u) << sandbox.ledger();
  EXPECT_EQ(sent[0].substr(0, sent[0].find(' ')), "1950000") << sent[0];

  EXPECT_NE(daemon->log().find("1 demand of USD 20,000.00 due from"), std::string::npos) << daemon->log();

  // A restart while it settles: the new daemon looks the top-up up and sends nothing new.
  daemon->process().signal(SIGTERM);
  daemon->process().wait(5s);
  daemon = std::make_unique<Daemon>(config);
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  ASSERT_TRUE(eventually([&] {
    const auto history = topupctl(dir.file("control.sock"), {"history", "--rule", "payroll", "--csv"});
    return count_of(history.output, ",succeeded,") == 1;
  }, 20s)) << daemon->log();
  std::this_thread::sleep_for(2s);  // polls after the credit: covered, nothing more
  EXPECT_EQ(top_ups_at(sandbox), sent) << sandbox.ledger();
  const auto history = topupctl(dir.file("control.sock"), {"history", "--rule", "payroll", "--csv"});
  EXPECT_EQ(count_of(history.output, "\n"), 2u) << "one journalled top-up\n" << history.output;

  // The backend heard it landed: once per event id, each verified.
  ASSERT_TRUE(eventually([&] {
    for (const auto& d : deliveries(read_file(dir.file("consumer.log")))) {
      if (d.type == "top_up.succeeded") return true;
    }
    return false;
  }, 20s)) << read_file(dir.file("consumer.log")) << daemon->log();
  std::set<std::string> ids;
  std::size_t landed = 0;
  for (const auto& d : deliveries(read_file(dir.file("consumer.log")))) {
    if (d.type != "top_up.succeeded") continue;
    EXPECT_TRUE(d.verified) << d.line;
    ids.insert(d.id);
    ++landed;
  }
  EXPECT_EQ(ids.size(), 1u) << read_file(dir.file("consumer.log"));
  EXPECT_EQ(landed, 1u) << "a verified event is not sent again";
}

}  // namespace
}  // namespace topupd::testing
