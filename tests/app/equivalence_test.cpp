// The backtest agrees with the daemon: the same random balance histories are driven
// through the daemon's own parts (the rule runner and the top-up executor, on a fake
// clock, with a scripted gateway) and through `simulate`, and both must produce the
// same events at the same instants: alerts firing and resolving, and the same top-ups
// and sweeps with the same keys and amounts.
//
// The harness plays the daemon's event loop: each history row is a poll that answered
// at that instant (the poller's steps: watch, reconcile, verify, evaluate); between
// rows it steps to the rule runner's next deadline and to each schedule's due time,
// the instants the daemon's timers would fire at. The gateway executes every top-up
// at once (simulate's settle delay 0).
#include <algorithm>
#include <random>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "fakes/fake_clock.hpp"
#include "fakes/fake_provider.hpp"
#include "fakes/loop.hpp"
#include "rule_runner.hpp"
#include "top_up_executor.hpp"
#include "topupd/core/cron.hpp"
#include "topupd/core/simulation.hpp"

namespace topupd::app {
namespace {

using namespace std::chrono_literals;

// One event, as both sides report it.
struct Event {
  core::Timestamp at;
  std::string type;  // alert_firing, alert_resolved, top_up, sweep
  std::string rule;
  std::string key;   // top-ups and sweeps
  std::int64_t amount_minor = 0;

  friend bool operator<(const Event& a, const Event& b) {
    return std::tie(a.at, a.type, a.rule, a.key) < std::tie(b.at, b.type, b.rule, b.key);
  }
  friend bool operator==(const Event&, const Event&) = default;
};

void PrintTo(const Event& e, std::ostream* out) {
  *out << core::format_rfc3339(e.at) << " " << e.type << " " << e.rule << " " << e.key << " " << e.amount_minor;
}

struct Scenario {
  std::string yaml;
  std::vector<core::HistoryRow> rows;
  std::string description;
};

core::Money idr(std::int64_t major) { return core::Money(major * 100, *core::Currency::find("IDR")); }

// A random config and history: a threshold rule with `for`, `clear`, limits and a
// top-up (on one rail, or on two whose first reads its source); stale_for on both
// accounts; a daily sweep; a runway alert — in a zone with or without daylight saving,
// across a change of it, with gaps in the polls.
Scenario random_scenario(std::mt19937_64& random) {
  auto pick = [&](std::int64_t low, std::int64_t high) {
    return low + static_cast<std::int64_t>(random() % static_cast<std::uint64_t>(high - low + 1));
  };
  const bool berlin = random() % 2 == 0;
  const std::string zone = berlin ? "Europe/Berlin" : "Asia/Jakarta";
  const std::int64_t threshold = pick(20, 60) * 1'000;
  const std::string repeat = random() % 3 == 0 ? fmt::format(", repeat: {}m", pick(5, 40)) : "";
  Scenario s;
  s.yaml = fmt::format(R"(timezone: {zone}
providers:
  bank: {{type: sandbox, accounts: {{payout: {{balance: IDR 0}}, settlement: {{balance: IDR 0}}}}}}
accounts:
  payout: {{provider: bank, currency: IDR, poll: {{every: {every}m, timeout: 5s}}}}
  settlement: {{provider: bank, currency: IDR, poll: {{every: {every}m, timeout: 5s}}}}
notifiers:
  ops: {{type: log}}
rules:
  - name: payout-low
    account: payout
    when: {{below: IDR {threshold}, for: {hold}m}}
    clear: {{above: IDR {clear}}}
    alert: {{severity: warning, notify: [ops]{repeat}}}
    top_up:
      {rails}
      amount: {{to_target: IDR {target}, round_up_to: IDR 1_000}}
      limits: {{per_day: IDR {per_day}, cooldown: {cooldown}m}}
  - name: payout-stale
    account: payout
    when: {{stale_for: {stale}m, for: {stale_hold}m}}
    alert: {{severity: critical, notify: [ops]}}
  - name: settlement-stale
    account: settlement
    when: {{stale_for: {stale2}m}}
    alert: {{severity: critical, notify: [ops]}}
  - name: daily-sweep
    account: payout
    schedule: "{minute} {hour} * * *"
    top_up: {{method: sweep, from: settlement, amount: {{percent_of_source: {percent}}}, keep_in_source: IDR 1_000}}
  - name: runway
    account: payout
    when: {{runway_below: {runway}h, window: 1h}}
    alert: {{severity: critical, notify: [ops]}}
)",
                       fmt::arg("zone", zone), fmt::arg("every", pick(1, 3)), fmt::arg("threshold", threshold),
                       fmt::arg("hold", pick(0, 20)), fmt::arg("clear", threshold + pick(0, 20) * 1'000),
                       fmt::arg("repeat", repeat), fmt::arg("target", threshold + pick(10, 80) * 1'000),
                       fmt::arg("per_day", pick(50, 300) * 1'000), fmt::arg("cooldown", pick(0, 90)),
                       fmt::arg("stale", pick(3, 30)), fmt::arg("stale_hold", pick(0, 5)),
                       fmt::arg("stale2", pick(3, 30)), fmt::arg("minute", random() % 2 ? 0 : 30),
                       fmt::arg("hour", std::vector<int>{1, 2, 3, 9}[random() % 4]), fmt::arg("percent", pick(10, 90)),
                       fmt::arg("runway", pick(1, 6)),
                       // Half of them fund the need through two rails: a debit from the
                       // bank account watched as settlement while it covers the need
                       // above a floor, else a debit from another one.
                       fmt::arg("rails", random() % 2 == 0
                                             ? std::string(R"(method: direct_debit
      from_account: "1234567890")")
                                             : fmt::format(R"(rails:
        - {{method: direct_debit, from_account: "5555", check_balance_of: settlement, keep_in_source: IDR {}}}
        - {{method: direct_debit, from_account: "1234567890"}})",
                                                           pick(0, 60) * 1'000)));
  // The day before a change of daylight saving time in Europe (2026-03-29 and
  // 2026-10-25), midnight UTC; Jakarta has none, the same days serve.
  core::Timestamp at = *core::parse_rfc3339(random() % 2 ? "2026-03-28T00:00:00Z" : "2026-10-24T00:00:00Z");
  at += std::chrono::minutes(pick(0, 600));
  std::int64_t payout = pick(30, 120) * 1'000;
  std::int64_t settlement = pick(10, 100) * 1'000;
  for (int step = 0; step < 400; ++step) {
    // Mostly a poll every few minutes; now and then a gap in which the gateway failed.
    at += random() % 10 == 0 ? std::chrono::minutes(pick(10, 60)) : std::chrono::minutes(pick(1, 5));
    at += std::chrono::seconds(random() % 4 == 0 ? pick(1, 59) : 0);
    payout = std::max<std::int64_t>(payout - pick(-500, 3'000), -20'000);
    settlement += pick(0, 2'000);
    if (random() % 10 != 0) s.rows.push_back({at, "payout", idr(payout)});
    if (random() % 3 != 0) s.rows.push_back({at, "settlement", idr(settlement)});
  }
  s.description = fmt::format("zone {} first row {}", zone, s.rows.empty() ? "-" : core::format_rfc3339(s.rows[0].at));
  return s;
}

std::vector<Event> through_simulate(const config::Config& config, const std::vector<core::HistoryRow>& rows) {
  std::vector<core::SimulationAccount> accounts;
  for (const auto& a : config.accounts) accounts.push_back({a.name, a.currency, a.poll.every, a.poll.timeout});
  const auto result = core::simulate(config.rules, accounts, config.zone, rows, core::Duration(0));
  std::vector<Event> out;
  for (const auto& e : result.events) {
    out.push_back({e.at, e.type, e.rule, e.key, e.amount ? e.amount->minor() : 0});
  }
  return out;
}

// The daemon's parts on a fake clock.
class DaemonParts {
 public:
  explicit DaemonParts(const config::Config& config) : config_(config) {
    const core::HistoryWindows windows(config.rules);
    for (const auto& account : config.accounts) {
      core::AccountWatch& watch = watches_[account.name];
      watch.name = account.name;
      watch.poll_every = account.poll.every;
      watch.poll_timeout = account.poll.timeout;
      watch.history_window = windows.of(account.name);
    }
    // A gateway takes a moment to answer: the credit is dated after the poll that
    // decided it, as in production.
    gateway_->on_submit = [this](const adapters::TopUpRequest&) { clock_.advance(1ms); };
    executor_.configure({{"bank", gateway_}}, false);
    runner_.configure(config);
  }

  std::vector<Event> run(const std::vector<core::HistoryRow>& rows) {
    if (rows.empty()) return events_;
    for (auto& [name, watch] : watches_) watch.monitoring_since = rows.front().at;
    for (const auto& rule : config_.rules) {
      if (rule.when.kind == core::Condition::Kind::schedule && rule.enabled) {
        schedules_[rule.name] = core::next_due(*rule.when.schedule, config_.zone, rows.front().at - core::Duration(1));
      }
    }
    for (const auto& account : config_.accounts) runner_.recompute_deadlines(account.name, watches_[account.name]);
    std::size_t next_row = 0;
    while (next_row < rows.size()) {
      const auto [due, account, schedule] = earliest_timer();
      // At one instant the poll that answered comes first, then the timers.
      if (!due || rows[next_row].at <= *due) {
        poll(rows[next_row++]);
      } else if (!schedule.empty()) {
        at(*due);
        const core::Rule* rule = runner_.find(schedule);
        drive(runner_.evaluate(*config_.find_account(rule->account), watches_[rule->account], *due,
                               Trigger::schedule, schedule));
        schedules_[schedule] = core::next_due(*rule->when.schedule, config_.zone, *due);
      } else {
        at(*due);
        const std::string every_rule;
        drive(runner_.evaluate(*config_.find_account(account), watches_[account], *due, Trigger::deadline, every_rule));
        if (auto next = runner_.next_deadline(account); next && *next <= *due) runner_.passed(account, *due);
      }
    }
    // What moved money is what the journal holds.
    for (const auto& record : executor_.journal()) {
      const bool sweep = record.method == core::TopUpMethod::sweep;
      events_.push_back({record.created_at, sweep ? "sweep" : "top_up", record.rule, record.key, record.amount.minor()});
    }
    return events_;
  }

 private:
  // The timer that fires next: a rule deadline (by account) or a schedule (by rule);
  // at one instant the rule written first in the config goes first, as in simulate.
  std::tuple<std::optional<core::Timestamp>, std::string, std::string> earliest_timer() const {
    std::optional<core::Timestamp> due;
    std::string account, schedule;
    std::size_t order = 0;
    for (std::size_t i = 0; i < config_.rules.size(); ++i) {
      const core::Rule& rule = config_.rules[i];
      const auto scheduled = schedules_.find(rule.name);
      const bool is_schedule = scheduled != schedules_.end();
      const std::optional<core::Timestamp> at = is_schedule ? scheduled->second : runner_.next_deadline(rule.account);
      if (at && (!due || *at < *due || (*at == *due && i < order))) {
        due = at;
        order = i;
        account = is_schedule ? "" : rule.account;
        schedule = is_schedule ? rule.name : "";
      }
    }
    return {due, account, schedule};
  }

  void at(core::Timestamp instant) {
    clock_.advance(instant - clock_.now());
    now_ = instant;
  }

  // The poller's steps for a poll that answered `row` (plus what topupd moved).
  void poll(const core::HistoryRow& row) {
    at(row.at);
    core::Money balance = row.balance;
    for (const auto& record : executor_.journal()) {
      if (record.state != core::TopUpState::succeeded) continue;
      if (record.account == row.account) balance = *balance.checked_add(record.amount);
      if (record.method == core::TopUpMethod::sweep && record.source == row.account) {
        balance = *balance.checked_sub(record.amount);
      }
    }
    const core::Observation observation{row.account, balance, row.at};
    core::AccountWatch& watch = watches_[row.account];
    core::record_observation(watch, observation);
    drive(executor_.reconcile(row.account));
    executor_.observed(row.account, observation);
    const std::string every_rule;
    drive(runner_.evaluate(*config_.find_account(row.account), watch, row.at, Trigger::poll, every_rule));
  }

  void drive(asio::awaitable<void> work) { ASSERT_TRUE(testing::run_to_end(io_, std::move(work))); }

  void alert(const core::Decision& decision) {
    if (decision.kind == core::DecisionKind::alert_repeat) return;  // simulate reports changes only
    events_.push_back({now_, std::string(core::to_string(decision.kind)), decision.rule, "", 0});
  }


  const config::Config& config_;
  asio::io_context io_;
  testing::FakeClock clock_;
  core::Timestamp now_{};
  adapters::Metrics metrics_{"test", "test"};
  std::unique_ptr<adapters::Store> store_ = adapters::open_sqlite_store(":memory:");
  adapters::Durability durability_{io_.get_executor(), ":memory:"};
  std::shared_ptr<testing::FakeProvider> gateway_ = std::make_shared<testing::FakeProvider>();
  std::map<std::string, core::AccountWatch> watches_;
  std::map<std::string, std::optional<core::Timestamp>> schedules_;  // schedule rule → its next due time
  std::vector<Event> events_;
  TopUpExecutor executor_{io_, clock_, metrics_, *store_, durability_,
                          ExecutorNeighbours{[this](const std::string& name) -> const core::AccountWatch* {
                                               auto it = watches_.find(name);
                                               return it == watches_.end() ? nullptr : &it->second;
                                             },
                                             [this](const std::string& name) { return runner_.find(name); },
                                             [](const adapters::Notification&, const std::vector<std::string>&) {},
                                             [] {}}};
  RuleRunner runner_{metrics_, *store_, executor_,
                     RuleRunnerNeighbours{[this](const std::string& name) -> const core::AccountWatch* {
                                            auto it = watches_.find(name);
                                            return it == watches_.end() ? nullptr : &it->second;
                                          },
                                          [this](const core::Decision& decision, const std::string&,
                                                 const std::string&) { alert(decision); }}};
};

TEST(EquivalenceTest, TheDaemonsPartsAndSimulateAgreeOnTwoHundredRandomHistories) {
  spdlog::set_level(spdlog::level::warn);  // thousands of top-ups: their info lines say nothing here
  std::mt19937_64 random(20261130);
  std::size_t events = 0, stale_alerts = 0, top_ups = 0, sweeps = 0, second_rails = 0, first_rails_read = 0;
  for (int run = 0; run < 200; ++run) {
    const Scenario scenario = random_scenario(random);
    SCOPED_TRACE(fmt::format("run {}: {}", run, scenario.description));
    auto loaded = config::load_string(scenario.yaml, "equivalence.yaml", config::SecretSources::from_process());
    ASSERT_TRUE(loaded.config) << (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].to_string());
    const config::Config& config = *loaded.config;
    std::vector<Event> simulated = through_simulate(config, scenario.rows);
    std::vector<Event> daemon = DaemonParts(config).run(scenario.rows);
    std::sort(simulated.begin(), simulated.end());
    std::sort(daemon.begin(), daemon.end());
    ASSERT_EQ(daemon, simulated);
    events += daemon.size();
    for (const auto& e : daemon) {
      stale_alerts += e.rule.find("stale") != std::string::npos;
      top_ups += e.type == "top_up";
      sweeps += e.type == "sweep";
      second_rails += e.key.ends_with("-rail2");
    }
    first_rails_read += scenario.yaml.find("check_balance_of") != std::string::npos;
  }
  // The histories exercise what they claim to: gaps that go stale, top-ups, sweeps,
  // needs passed to a second rail because the first one's source was short.
  EXPECT_GT(stale_alerts, 1'000u);
  EXPECT_GT(top_ups, 200u);
  EXPECT_GT(sweeps, 50u);
  EXPECT_GT(first_rails_read, 50u);
  EXPECT_GT(second_rails, 20u);
  std::printf("equivalence: %zu events, %zu stale_for alerts, %zu top-ups (%zu on a second rail), %zu sweeps\n",
              events, stale_alerts, top_ups, second_rails, sweeps);
}

}  // namespace
}  // namespace topupd::app
