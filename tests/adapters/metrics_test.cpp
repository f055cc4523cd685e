#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "topupd/adapters/metrics/metrics.hpp"
#include "topupd/adapters/metrics/registry.hpp"
#include "topupd/config/config.hpp"

namespace topupd::adapters {
namespace {

core::Money usd(std::int64_t minor) { return core::Money(minor, *core::Currency::find("USD")); }
core::Money idr(std::int64_t minor) { return core::Money(minor, *core::Currency::find("IDR")); }

bool has(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }

void touch_everything(Metrics& metrics, const std::string& account) {
  metrics.set_polled(account, usd(12345), core::Timestamp(std::chrono::seconds(1'699'999'000)));
  metrics.set_balance_stale(account, true);
  metrics.set_runway(account, std::chrono::hours(2));
}

TEST(Metrics, PerAccountSeriesAreUpdatedInPlace) {
  Metrics metrics("1.0", "abc");
  touch_everything(metrics, "ops");
  metrics.set_polled("ops", usd(500), core::Timestamp(std::chrono::seconds(1'700'000'000)));
  const std::string text = metrics.serialize();
  EXPECT_TRUE(has(text, "topupd_balance{account=\"ops\",currency=\"USD\"} 500\n")) << text;
  EXPECT_FALSE(has(text, "12345"));
  EXPECT_TRUE(has(text, "topupd_balance_stale{account=\"ops\"} 0\n"));
  EXPECT_TRUE(has(text, "topupd_last_successful_poll_timestamp_seconds{account=\"ops\"} 1700000000\n"));
  EXPECT_TRUE(has(text, "topupd_runway_seconds{account=\"ops\"} 7200\n"));
}

TEST(Metrics, PollDurationIsOneHistogramPerProvider) {
  Metrics metrics("1.0", "abc");
  metrics.observe_poll_duration("stripe", std::chrono::microseconds(700));
  metrics.observe_poll_duration("stripe", std::chrono::milliseconds(30));
  metrics.observe_poll_duration("bca", std::chrono::seconds(20));
  const std::string text = metrics.serialize();
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_count{provider=\"stripe\"} 2\n")) << text;
  // Sub-millisecond answers land in their own bucket.
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_bucket{provider=\"stripe\",le=\"0.001\"} 1\n"));
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_bucket{provider=\"stripe\",le=\"0.05\"} 2\n"));
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_bucket{provider=\"bca\",le=\"10\"} 0\n"));
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_bucket{provider=\"bca\",le=\"+Inf\"} 1\n"));
  EXPECT_TRUE(has(text, "topupd_poll_duration_seconds_sum{provider=\"bca\"} 20\n"));
  EXPECT_FALSE(has(text, "account="));
}

TEST(Metrics, PollLatenessIsOneHistogramForAllAccounts) {
  Metrics metrics("1.0", "abc");
  metrics.observe_poll_lateness(std::chrono::microseconds(300));
  metrics.observe_poll_lateness(std::chrono::milliseconds(30));
  metrics.observe_poll_lateness(-std::chrono::microseconds(5));  // a timer that fired a hair early
  const std::string text = metrics.serialize();
  EXPECT_TRUE(has(text, "topupd_poll_lateness_seconds_bucket{le=\"0.001\"} 2\n")) << text;
  EXPECT_TRUE(has(text, "topupd_poll_lateness_seconds_bucket{le=\"0.05\"} 3\n"));
  EXPECT_TRUE(has(text, "topupd_poll_lateness_seconds_count 3\n"));
}

TEST(Metrics, ACurrencyChangeReplacesTheBalanceSeries) {
  Metrics metrics("1.0", "abc");
  const core::Timestamp at(std::chrono::seconds(1'700'000'000));
  metrics.set_polled("ops", usd(500), at);
  metrics.set_polled("ops", idr(900), at);
  const std::string text = metrics.serialize();
  EXPECT_FALSE(has(text, "currency=\"USD\"")) << text;
  EXPECT_TRUE(has(text, "topupd_balance{account=\"ops\",currency=\"IDR\"} 900\n"));
}

TEST(Metrics, RetainingAccountsDropsEverySeriesOfTheOthers) {
  Metrics metrics("1.0", "abc");
  touch_everything(metrics, "kept");
  touch_everything(metrics, "retired");
  metrics.retain_accounts({"kept"});
  const std::string text = metrics.serialize();
  EXPECT_FALSE(has(text, "account=\"retired\"")) << text;
  for (const char* family : {"topupd_balance{", "topupd_balance_stale{", "topupd_runway_seconds{",
                             "topupd_last_successful_poll_timestamp_seconds{"}) {
    EXPECT_TRUE(has(text, std::string(family) + "account=\"kept\"")) << family;
  }
  // A retired account that comes back starts new series.
  metrics.set_balance_stale("retired", true);
  EXPECT_TRUE(has(metrics.serialize(), "topupd_balance_stale{account=\"retired\"} 1\n"));
}

// The rules of a config with `rules` (YAML list items).
std::vector<core::Rule> rules_of(const std::string& rules) {
  const std::string yaml = R"(timezone: Asia/Jakarta
providers:
  bank: {type: sandbox, accounts: {payout: {balance: IDR 0}, settlement: {balance: IDR 0}}}
accounts:
  payout: {provider: bank, currency: IDR}
  settlement: {provider: bank, currency: IDR}
notifiers:
  ops: {type: log}
rules:
)" + rules;
  auto loaded = config::load_string(yaml, "metrics.yaml", config::SecretSources::from_process());
  if (!loaded.config) {
    ADD_FAILURE() << loaded.diagnostics.at(0).to_string();
    return {};
  }
  return loaded.config->rules;
}

const std::string kLow =
    "  - {name: low, account: payout, when: {below: IDR 1000}, alert: {severity: critical, notify: [ops]},\n"
    "     top_up: {method: sweep, from: settlement, amount: {fixed: IDR 100}}}\n";
const std::string kWatch =
    "  - {name: watch, account: payout, when: {below: IDR 500}, alert: {severity: critical, notify: [ops]}}\n";
const std::string kGone =
    "  - {name: gone, account: settlement, when: {below: IDR 1000}, alert: {severity: critical, notify: [ops]},\n"
    "     top_up: {method: sweep, from: payout, amount: {fixed: IDR 100}}}\n";

TEST(Metrics, CountersOfWhatTheConfigNamesStartAtZero) {
  Metrics metrics("1.0", "abc");
  metrics.set_rules(rules_of(kLow + kWatch));
  metrics.set_notifiers({"ops"});
  metrics.set_webhook_providers(true, {"stripe"});
  const std::string text = metrics.serialize();
  for (const char* line : {
           "topupd_alerts_total{rule=\"low\",severity=\"critical\"} 0\n",
           "topupd_alerts_total{rule=\"watch\",severity=\"critical\"} 0\n",
           "topupd_topups_total{rule=\"low\",method=\"sweep\",outcome=\"succeeded\"} 0\n",
           "topupd_topups_total{rule=\"low\",method=\"sweep\",outcome=\"store_error\"} 0\n",
           "topupd_topup_amount_minor_total{account=\"payout\",method=\"sweep\"} 0\n",
           "topupd_topups_not_reflected_total{rule=\"low\"} 0\n",
           "topupd_notifications_total{notifier=\"ops\",outcome=\"delivered\"} 0\n",
           "topupd_notifications_total{notifier=\"ops\",outcome=\"retry\"} 0\n",
           "topupd_notifications_pending{notifier=\"ops\"} 0\n",
           "topupd_webhooks_total{provider=\"stripe\",outcome=\"accepted\"} 0\n",
           "topupd_webhooks_total{provider=\"stripe\",outcome=\"bad_signature\"} 0\n",
           "topupd_webhooks_total{provider=\"-\",outcome=\"not_found\"} 0\n",
           "topupd_store_errors_total{operation=\"plan\"} 0\n",
       }) {
    EXPECT_TRUE(has(text, line)) << line << text;
  }
  EXPECT_FALSE(has(text, "topupd_topups_total{rule=\"watch\"")) << "an alert-only rule has no top-up counters";
}

std::size_t count_of(const std::string& text, const std::string& prefix) {
  std::size_t count = 0;
  for (std::size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    if (at == 0 || text[at - 1] == '\n') ++count;
  }
  return count;
}

TEST(Metrics, EachRuleHasOneStateSeriesNamingTheStateItIsIn) {
  Metrics metrics("1.0", "abc");
  metrics.set_rules(rules_of(kLow + kWatch));
  std::string text = metrics.serialize();
  EXPECT_EQ(count_of(text, "topupd_rule_state{"), 2u) << text;
  EXPECT_TRUE(has(text, "topupd_rule_state{rule=\"low\",state=\"inactive\"} 1\n")) << text;
  EXPECT_TRUE(has(text, "topupd_rule_state{rule=\"watch\",state=\"inactive\"} 1\n")) << text;

  metrics.set_rule_state("low", core::RulePhase::pending);
  metrics.set_rule_state("low", core::RulePhase::firing);
  metrics.set_rule_state("elsewhere", core::RulePhase::firing);  // not configured: no series
  text = metrics.serialize();
  EXPECT_EQ(count_of(text, "topupd_rule_state{"), 2u) << text;
  EXPECT_TRUE(has(text, "topupd_rule_state{rule=\"low\",state=\"firing\"} 1\n")) << text;
  EXPECT_FALSE(has(text, "topupd_rule_state{rule=\"low\",state=\"inactive\"}")) << text;
  EXPECT_FALSE(has(text, "topupd_rule_state{rule=\"low\",state=\"pending\"}")) << text;
  EXPECT_FALSE(has(text, "rule=\"elsewhere\"")) << text;

  metrics.set_rules(rules_of(kWatch));  // a reload without `low`
  text = metrics.serialize();
  EXPECT_EQ(count_of(text, "topupd_rule_state{"), 1u) << text;
  EXPECT_FALSE(has(text, "rule=\"low\"")) << text;
}

TEST(Metrics, AReloadKeepsTheCountsOfWhatStaysAndDropsWhatWent) {
  Metrics metrics("1.0", "abc");
  metrics.set_rules(rules_of(kLow + kGone));
  metrics.set_notifiers({"ops", "old"});
  metrics.set_webhook_providers(true, {"stripe"});
  metrics.count_alert("low", "critical");
  metrics.count_top_up("low", core::TopUpMethod::sweep, "succeeded");
  metrics.count_notification("ops", "delivered");
  metrics.set_rules(rules_of(kLow));
  metrics.set_notifiers({"ops"});
  metrics.set_webhook_providers(false, {});
  const std::string text = metrics.serialize();
  EXPECT_TRUE(has(text, "topupd_alerts_total{rule=\"low\",severity=\"critical\"} 1\n")) << text;
  EXPECT_TRUE(has(text, "topupd_topups_total{rule=\"low\",method=\"sweep\",outcome=\"succeeded\"} 1\n"));
  EXPECT_TRUE(has(text, "topupd_notifications_total{notifier=\"ops\",outcome=\"delivered\"} 1\n"));
  EXPECT_FALSE(has(text, "rule=\"gone\""));
  EXPECT_FALSE(has(text, "notifier=\"old\""));
  EXPECT_FALSE(has(text, "topupd_webhooks_total{"));
}

TEST(MetricsRegistry, WritesTheTextFormatWithEscapedLabelsAndSpecialValues) {
  metrics::Registry registry;
  auto& gauge = registry.gauge("x_gauge", "A gauge\\with a backslash\nand a line", {"name"});
  gauge.value({"quote \" back\\slash\nline"}).set(std::numeric_limits<double>::infinity());
  gauge.value({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
  gauge.value({"small"}).set(0.25);
  gauge.value({"big"}).set(1'764'477'000.125);
  registry.counter("x_total", "A counter").value({}).add(3);
  const std::string text = registry.serialize();
  EXPECT_EQ(text,
            "# HELP x_gauge A gauge\\\\with a backslash\\nand a line\n"
            "# TYPE x_gauge gauge\n"
            "x_gauge{name=\"big\"} 1764477000.125\n"
            "x_gauge{name=\"nan\"} NaN\n"
            "x_gauge{name=\"quote \\\" back\\\\slash\\nline\"} +Inf\n"
            "x_gauge{name=\"small\"} 0.25\n"
            "# HELP x_total A counter\n"
            "# TYPE x_total counter\n"
            "x_total 3\n");
  auto& removed = gauge.value({"small"});
  gauge.remove(removed);
  EXPECT_EQ(gauge.size(), 3u);
  EXPECT_THROW(gauge.value({"a", "b"}), std::logic_error);
}

TEST(MetricsRegistry, RemovesASeriesByItsValueOrItsLabelsAndNothingElse) {
  metrics::Registry registry;
  auto& gauge = registry.gauge("x_gauge", "A gauge", {"name"});
  auto& histogram = registry.histogram("x_seconds", "A histogram", {"name"}, {0.1, 1});
  for (const char* name : {"a", "b", "c", "d"}) {
    gauge.value({name}).set(1);
    histogram.histogram({name}).observe(0.5);
  }
  gauge.remove(gauge.value({"b"}));
  gauge.remove({"c"});
  gauge.remove({"nobody"});
  histogram.remove(histogram.histogram({"a"}));
  const std::string text = registry.serialize();
  EXPECT_TRUE(has(text, "x_gauge{name=\"a\"} 1\n")) << text;
  EXPECT_TRUE(has(text, "x_gauge{name=\"d\"} 1\n")) << text;
  EXPECT_FALSE(has(text, "x_gauge{name=\"b\"}")) << text;
  EXPECT_FALSE(has(text, "x_gauge{name=\"c\"}")) << text;
  EXPECT_FALSE(has(text, "x_seconds_count{name=\"a\"}")) << text;
  EXPECT_TRUE(has(text, "x_seconds_count{name=\"b\"} 1\n")) << text;
  EXPECT_EQ(gauge.size(), 2u);
  EXPECT_EQ(histogram.size(), 3u);
  // Removed series come back at 0 when asked for again, and can be removed again.
  EXPECT_EQ(gauge.value({"b"}).get(), 0.0);
  gauge.remove(gauge.value({"b"}));
  gauge.remove(gauge.value({"a"}));
  EXPECT_EQ(gauge.size(), 1u);
  // A series removed by its labels is no longer found by its value's address: the series
  // added after it, wherever it lands, is removed by its own.
  gauge.remove({"d"});
  auto& again = gauge.value({"d"});
  again.set(7);
  EXPECT_EQ(gauge.size(), 1u);
  gauge.remove(again);
  EXPECT_EQ(gauge.size(), 0u);
}

TEST(MetricsRegistry, RemovesThousandsOfSeriesByValueInAnyOrder) {
  metrics::Registry registry;
  auto& gauge = registry.gauge("x_gauge", "A gauge", {"name"});
  std::vector<metrics::Value*> values;
  for (int i = 0; i < 3000; ++i) {
    values.push_back(&gauge.value({fmt::format("a{:04}", i)}));
    values.back()->set(i);
  }
  // Every third kept, the others removed from the last to the first.
  for (int i = 2999; i >= 0; --i) {
    if (i % 3 != 0) gauge.remove(*values[static_cast<std::size_t>(i)]);
  }
  EXPECT_EQ(gauge.size(), 1000u);
  const std::string text = registry.serialize();
  EXPECT_TRUE(has(text, "x_gauge{name=\"a0000\"} 0\n")) << text.substr(0, 300);
  EXPECT_TRUE(has(text, "x_gauge{name=\"a2997\"} 2997\n"));
  EXPECT_FALSE(has(text, "x_gauge{name=\"a0001\"}"));
  EXPECT_FALSE(has(text, "x_gauge{name=\"a2999\"}"));
}

TEST(MetricsRegistry, EachTextHasTheValuesAndSeriesOfItsMoment) {
  // The lines' layout is kept between texts: new values, added and removed series must
  // each show in the next text all the same.
  metrics::Registry registry;
  auto& gauge = registry.gauge("x_gauge", "A gauge", {"name"});
  gauge.value({"b"}).set(1);
  gauge.value({"d"}).set(2);
  EXPECT_EQ(registry.serialize(), "# HELP x_gauge A gauge\n# TYPE x_gauge gauge\nx_gauge{name=\"b\"} 1\nx_gauge{name=\"d\"} 2\n");
  gauge.value({"d"}).set(3);
  EXPECT_EQ(registry.serialize(), "# HELP x_gauge A gauge\n# TYPE x_gauge gauge\nx_gauge{name=\"b\"} 1\nx_gauge{name=\"d\"} 3\n");
  gauge.value({"c"}).set(4);
  gauge.value({"a"}).set(5);
  EXPECT_EQ(registry.serialize(),
            "# HELP x_gauge A gauge\n# TYPE x_gauge gauge\nx_gauge{name=\"a\"} 5\nx_gauge{name=\"b\"} 1\n"
            "x_gauge{name=\"c\"} 4\nx_gauge{name=\"d\"} 3\n");
  gauge.remove(gauge.value({"b"}));
  gauge.remove({"a"});
  EXPECT_EQ(registry.serialize(), "# HELP x_gauge A gauge\n# TYPE x_gauge gauge\nx_gauge{name=\"c\"} 4\nx_gauge{name=\"d\"} 3\n");
  gauge.remove({"c"});
  gauge.remove({"d"});
  EXPECT_EQ(registry.serialize(), "# HELP x_gauge A gauge\n# TYPE x_gauge gauge\n");
}

}  // namespace
}  // namespace topupd::adapters
