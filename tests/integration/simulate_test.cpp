// `topupd simulate` end to end: golden outputs and bad history files.
#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/process.hpp"

namespace topupd::testing {
namespace {

const std::string kData = std::string(TOPUPD_SOURCE_DIR) + "/tests/data/simulate/";

CommandResult simulate(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{TOPUPD_BINARY, "simulate", "--config", kData + "rules.yaml"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv);
}

TEST(SimulateTest, HumanTimelineAndSummaryMatchTheGoldenFile) {
  const auto result = simulate({"--history", kData + "history.csv"});
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(result.output, read_file(kData + "expected.txt"));
}

TEST(SimulateTest, JsonWithASettleDelayMatchesTheGoldenFile) {
  const auto result = simulate({"--history", kData + "history.csv", "--json", "--settle-delay", "30m"});
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_EQ(result.output, read_file(kData + "expected-settle-30m.json"));
}

TEST(SimulateTest, ShowsWhichRailEachTopUpWentOnAndWhyOthersWereSkipped) {
  TempDir dir;
  // The rails-in-order example: a debit from the operating account while it holds
  // enough above its IDR 20 million floor, else a sweep from settlement.
  dir.write("history.csv",
            "timestamp,account,balance\n"
            "2026-11-02T09:00:00+07:00,operating,100000000\n"
            "2026-11-02T09:00:00+07:00,settlement,300000000\n"
            "2026-11-02T09:00:00+07:00,payout,25000000\n"
            "2026-11-02T14:00:00+07:00,operating,30000000\n"
            "2026-11-02T14:00:00+07:00,settlement,300000000\n"
            "2026-11-02T14:00:00+07:00,payout,80000000\n"
            "2026-11-02T15:00:00+07:00,operating,30000000\n"
            "2026-11-02T15:00:00+07:00,settlement,300000000\n"
            // Rows are balances without topupd: its own IDR 55 million comes on top.
            "2026-11-02T15:00:00+07:00,payout,-40000000\n");
  const auto result = run_command({TOPUPD_BINARY, "simulate", "--config",
                                   std::string(TOPUPD_SOURCE_DIR) + "/etc/topupd/examples/rails-in-order.yaml",
                                   "--history", dir.file("history.csv")});
  ASSERT_EQ(result.status, 0) << result.output;
  // 09:00: the debit covers IDR 55 million to the target, on the first rail.
  EXPECT_NE(result.output.find("direct_debit IDR 55,000,000.00 to target IDR 80,000,000.00"), std::string::npos)
      << result.output;
  // 15:00: the need is 65 million; operating holds 30, 10 above its floor: the sweep takes it.
  EXPECT_NE(result.output.find("sweep IDR 65,000,000.00 to target IDR 80,000,000.00 on rail 2; rail 1 (direct_debit "
                               "from 1234567890) skipped: source operating holds IDR 30,000,000.00, which cannot "
                               "cover the amount above keep_in_source IDR 20,000,000.00"),
            std::string::npos)
      << result.output;
}

struct BadHistory {
  std::string name;
  std::string csv;
  std::string message;
};

void PrintTo(const BadHistory& history, std::ostream* out) { *out << history.name; }

class BadHistoryTest : public ::testing::TestWithParam<BadHistory> {};

TEST_P(BadHistoryTest, IsRejectedNamingTheLine) {
  TempDir dir;
  dir.write("history.csv", GetParam().csv);
  const auto result = simulate({"--history", dir.file("history.csv")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find(dir.file("history.csv") + ":" + GetParam().message), std::string::npos) << result.output;
}

const char* kHeader = "timestamp,account,balance\n";

INSTANTIATE_TEST_SUITE_P(
    Rows, BadHistoryTest,
    ::testing::Values(
        BadHistory{"UnknownAccount", std::string(kHeader) + "2026-11-02T00:00:00+07:00,payroll,1\n",
                   "2: unknown account 'payroll'"},
        BadHistory{"BadNumber", std::string(kHeader) + "2026-11-02T00:00:00+07:00,payout,1.000.000\n",
                   "2: bad balance: '1.000.000' is ambiguous"},
        BadHistory{"TooManyDecimals", std::string(kHeader) + "2026-11-02T00:00:00+07:00,payout,1.005\n",
                   "2: bad balance:"},
        BadHistory{"TimeGoesBackwards",
                   std::string(kHeader) + "2026-11-02T01:00:00+07:00,payout,1\n2026-11-02T00:59:59+07:00,payout,1\n",
                   "3: time goes backwards"},
        BadHistory{"NoOffset", std::string(kHeader) + "2026-11-02T00:00:00,payout,1\n",
                   "2: '2026-11-02T00:00:00' is not an RFC 3339 time with an offset"},
        BadHistory{"MissingField", std::string(kHeader) + "2026-11-02T00:00:00+07:00,payout\n",
                   "2: expected three fields"},
        BadHistory{"BadHeader", "time,account,balance\n", "1: the header must be"},
        BadHistory{"Empty", "", "0: the file is empty"}),
    [](const ::testing::TestParamInfo<BadHistory>& param_info) { return param_info.param.name; });

// Rows are judged as they are read: a bad row near the end still shows nothing of what
// the rows before it decided.
TEST(SimulateTest, ABadRowAfterManyGoodOnesShowsOnlyTheError) {
  std::ifstream golden(kData + "history.csv");
  std::stringstream csv;
  csv << golden.rdbuf();
  const std::string rows = csv.str();
  const std::size_t lines = static_cast<std::size_t>(std::count(rows.begin(), rows.end(), '\n'));
  ASSERT_GT(lines, 100u);
  csv << "2026-11-30T00:00:00+07:00,payout,12,5\n";
  TempDir dir;
  dir.write("history.csv", csv.str());
  const auto result = simulate({"--history", dir.file("history.csv")});
  EXPECT_EQ(result.status, 1);
  EXPECT_NE(result.output.find(fmt::format("{}:{}: expected three fields", dir.file("history.csv"), lines + 1)),
            std::string::npos)
      << result.output;
  // The golden run's timeline has alerts and top-ups; none of it is printed.
  EXPECT_EQ(result.output.find("ALERT FIRING"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("history rows"), std::string::npos) << result.output;
}

TEST(SimulateTest, MissingHistoryIsAUsageError) {
  EXPECT_EQ(simulate({}).status, 2);
  EXPECT_EQ(simulate({"--history", kData + "history.csv", "--settle-delay", "soon"}).status, 2);
}

}  // namespace
}  // namespace topupd::testing

namespace topupd::testing {
namespace {

// Demands in the backtest: a cover_demands rule funds the payroll it sees coming, and
// the report says which demand was covered, with what, and when it was funded.
TEST(SimulateTest, DemandsAreReportedCoveredOrNotAndWhenTheyWereFunded) {
  TempDir dir;
  dir.write("topupd.yaml", R"(timezone: Asia/Jakarta
providers:
  sim: {type: sandbox, accounts: {payout: {balance: IDR 10_000_000}, other: {balance: IDR 10_000_000}}}
accounts:
  payout: {provider: sim, currency: IDR, poll: {every: 1h}}
  other: {provider: sim, currency: IDR, poll: {every: 1h}}
rules:
  - name: payroll-ahead
    account: payout
    when: {cover_demands: {within: 24h, lead: 2h, keep: IDR 1_000_000}}
    top_up: {method: direct_debit, from_account: "1234567890", amount: {round_up_to: IDR 1_000_000}}
)");
  std::string history = "timestamp,account,balance\n";
  for (int hour = 0; hour < 48; ++hour) {
    const std::string at = fmt::format("2026-12-{:02}T{:02}:00:00+07:00", 24 + hour / 24, hour % 24);
    history += at + ",payout,10000000\n" + at + ",other,10000000\n";
  }
  dir.write("history.csv", history);
  dir.write("demands.csv",
            "account,reference,amount,due_at\n"
            "payout,payroll-dec,250000000.00,2026-12-25T09:00:00+07:00\n"
            "other,rent-dec,15000000,2026-12-25T10:00:00+07:00\n");
  const auto result = run_command({TOPUPD_BINARY, "simulate", "--config", dir.file("topupd.yaml"), "--history",
                                   dir.file("history.csv"), "--demands", dir.file("demands.csv")});
  ASSERT_EQ(result.status, 0) << result.output;
  // Funded as soon as the demand came within 24 h (09:00 the day before): 250M + 1M
  // kept − 10M = 241M, well before the 2 h lead.
  EXPECT_NE(result.output.find("TOP-UP          payroll-ahead  payout  IDR 241,000,000.00"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("payout  payroll-dec  IDR 250,000,000.00  covered (balance IDR 251,000,000.00 when "
                               "due); funded 2026-12-24T09:00:00+07:00 by topupd-payroll-ahead-payout-"),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("other  rent-dec  IDR 15,000,000.00  NOT COVERED (balance IDR 10,000,000.00 when "
                               "due); no top-up counted it"),
            std::string::npos)
      << result.output;
  const auto json = run_command({TOPUPD_BINARY, "simulate", "--config", dir.file("topupd.yaml"), "--history",
                                 dir.file("history.csv"), "--demands", dir.file("demands.csv"), "--json"});
  ASSERT_EQ(json.status, 0) << json.output;
  EXPECT_NE(json.output.find(R"("reference":"payroll-dec","amount_minor":25000000000,"due_at":"2026-12-25T02:00:00)"),
            std::string::npos)
      << json.output;
  EXPECT_NE(json.output.find(R"("covered":false,"balance_at_due_minor":1000000000)"), std::string::npos)
      << json.output;

  // A bad demands file names its line and changes nothing.
  dir.write("bad.csv", "account,reference,amount,due_at\npayout,x,12.345,2026-12-25T09:00:00+07:00\n");
  const auto bad = run_command({TOPUPD_BINARY, "simulate", "--config", dir.file("topupd.yaml"), "--history",
                                dir.file("history.csv"), "--demands", dir.file("bad.csv")});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find(dir.file("bad.csv") + ":2: amount:"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace topupd::testing
